// The school's tables (migrations/0003_offers.sql): course catalog, users, their events, the
// offers log and the offer responses. The only place the offers area touches SQLite.
//
// Owns its own connection to `db_file`; the schema must exist (Database::apply_migrations()),
// otherwise the constructor throws StoreError.
// Thread safety: every method may be called from any number of threads; one internal mutex
// serializes them on the single connection. Other connections and processes may use the file
// at the same time (WAL mode).
// Errors: every SQLite failure throws StoreError naming the file and statement; a write that
// throws leaves nothing behind (each write is one transaction).
// Times are seconds since the epoch, UTC (offers::Seconds).
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nbo/offers/domain.hpp"
#include "nbo/offers/features.hpp"
#include "nbo/store/database.hpp"

namespace nbo::store {

struct OfferRecord {
  std::string offer_id{};
  std::string course_id{};
  std::string channel{};
  offers::Seconds offered_at = 0;
};

struct NewOffer {
  std::string course_id{};
  int rank = 0;  // 1-based position in the answer
  double score = 0;
};

// An event as the API receives it: the course by id ("" for a visit).
struct NewEvent {
  offers::Seconds time = 0;
  offers::EventKind kind = offers::EventKind::kVisit;
  std::string course_id{};
  double amount_rub = 0;  // purchases only; > 0
};

// A user's profile as PUT /users/{id} gives it: allow_email always, the rest only when given.
struct UserProfile {
  bool allow_email = false;
  std::optional<offers::Seconds> registered_at{};  // midnight UTC of the registration day
  std::optional<std::string> age_group{};
  std::optional<std::string> region{};
};

struct ImportCounts {
  std::size_t courses = 0;
  std::size_t users = 0;
  std::size_t events = 0;
};

class OfferStore {
 public:
  explicit OfferStore(const std::filesystem::path& db_file, const OpenOptions& options = {});
  OfferStore(const OfferStore&) = delete;
  OfferStore& operator=(const OfferStore&) = delete;
  ~OfferStore();

  // The catalog, in course_id order. Cached: read from the database on first use and after a
  // course changes through this store (another process's changes are seen after
  // refresh_catalog()). Never null.
  std::shared_ptr<const offers::Catalog> catalog();
  void refresh_catalog();

  // Inserts or replaces a course; returns updated_at (ISO-8601 UTC, milliseconds).
  std::string upsert_course(const offers::Course& course);

  std::optional<offers::User> find_user(std::string_view user_id);

  // Creates or updates a user's profile in one transaction: allow_email is set, the optional
  // fields replace the stored ones when given and are kept otherwise; a new user without
  // registered_at is registered on `today` (midnight UTC). Events are not touched. Returns the
  // stored profile and whether the user was new.
  std::pair<offers::User, bool> put_user(std::string_view user_id, const UserProfile& profile,
                                         offers::Seconds today);

  // The user's events strictly before `before`, time-ordered (ties by insertion order), course
  // indexes into `catalog` (-1 for a course not in it). At most `max_events`: the most recent
  // ones are kept when there are more.
  std::vector<offers::Event> events_before(std::string_view user_id, offers::Seconds before,
                                           const offers::Catalog& catalog,
                                           std::size_t max_events = 100000);

  // Offers made to the user with offered_at in [from, to), oldest first.
  std::vector<OfferRecord> offers_between(std::string_view user_id, offers::Seconds from,
                                          offers::Seconds to);

  // Records `offers` in one transaction; returns their new offer ids, in order.
  std::vector<std::string> record_offers(std::string_view request_id, std::string_view user_id,
                                         std::string_view channel, offers::Seconds at,
                                         std::string_view model_version,
                                         std::span<const NewOffer> offers);

  // Appends events in one transaction, creating the user (allow_email 0, registered at the first
  // event's day) when unknown. The caller has validated the events (courses exist, kinds and
  // amounts consistent). Returns the number appended.
  std::size_t append_events(std::string_view user_id, std::span<const NewEvent> events);

  // Records a response to an offer; false (and nothing written) when the offer is unknown.
  bool record_response(std::string_view offer_id, std::string_view response,
                       offers::Seconds responded_at);

  // Loads a whole export in one transaction: courses and users are inserted or replaced, and
  // each imported user's events replace the ones stored for that user. events[i] belongs to
  // users[i] and refers to `catalog` by index.
  ImportCounts import(const offers::Catalog& catalog, std::span<const offers::User> users,
                      std::span<const std::vector<offers::Event>> events);

  // Row counts, for tests and tools: school_courses, school_users, school_events, offer_log,
  // offer_responses.
  std::int64_t count(std::string_view table);

 private:
  std::shared_ptr<const offers::Catalog> load_catalog_locked();
  std::optional<offers::User> find_user_locked(std::string_view user_id);
  std::string new_offer_id_locked();

  std::mutex mutex_;
  Database db_;
  Statement find_user_;
  Statement events_;
  Statement offers_between_;
  Statement insert_offer_;
  Statement insert_event_;
  Statement insert_user_if_missing_;
  Statement upsert_user_;
  Statement find_offer_;
  Statement insert_response_;
  Statement upsert_course_;
  std::shared_ptr<const offers::Catalog> catalog_;
  std::mt19937_64 ids_;
};

}  // namespace nbo::store
