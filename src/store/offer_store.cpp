#include "nbo/store/offer_store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "nbo/store/timestamp.hpp"
#include "statement_guard.hpp"

namespace nbo::store {
namespace {

void bind_course(Statement& statement, const offers::Course& course, std::string_view now) {
  statement.bind(1, course.course_id)
      .bind(2, course.title)
      .bind(3, course.direction)
      .bind(4, course.level)
      .bind(5, course.price_rub)
      .bind(6, course.duration_months)
      .bind(7, course.active ? 1 : 0)
      .bind(8, now);
}

constexpr std::string_view kUpsertCourse =
    "INSERT INTO school_courses(course_id, title, direction, level, price_rub, duration_months, "
    "active, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(course_id) DO "
    "UPDATE SET title = excluded.title, direction = excluded.direction, level = excluded.level, "
    "price_rub = excluded.price_rub, duration_months = excluded.duration_months, active = "
    "excluded.active, updated_at = excluded.updated_at";
constexpr std::string_view kInsertEvent =
    "INSERT INTO school_events(user_id, event_time, kind, course_id, amount_rub) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";
constexpr std::string_view kUpsertUser =
    "INSERT INTO school_users(user_id, registered_at, age_group, region, allow_email) VALUES "
    "(?1, ?2, ?3, ?4, ?5) ON CONFLICT(user_id) DO UPDATE SET registered_at = "
    "excluded.registered_at, age_group = excluded.age_group, region = excluded.region, "
    "allow_email = excluded.allow_email";

}  // namespace

OfferStore::OfferStore(const std::filesystem::path& db_file, const OpenOptions& options)
    : db_(Database::open(db_file, options)),
      find_user_(prepare_with_hint(db_,
                                   "SELECT user_id, registered_at, age_group, region, allow_email "
                                   "FROM school_users WHERE user_id = ?1")),
      events_(prepare_with_hint(
          db_,
          "SELECT event_time, kind, course_id, amount_rub FROM (SELECT id, event_time, kind, "
          "course_id, amount_rub FROM school_events WHERE user_id = ?1 AND event_time < ?2 "
          "ORDER BY event_time DESC, id DESC LIMIT ?3) ORDER BY event_time, id")),
      offers_between_(prepare_with_hint(
          db_,
          "SELECT offer_id, course_id, channel, offered_at FROM offer_log WHERE user_id = ?1 AND "
          "offered_at >= ?2 AND offered_at < ?3 ORDER BY offered_at, offer_id")),
      insert_offer_(prepare_with_hint(
          db_,
          "INSERT INTO offer_log(offer_id, request_id, user_id, course_id, channel, rank, score, "
          "offered_at, model_version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")),
      insert_event_(prepare_with_hint(db_, kInsertEvent)),
      insert_user_if_missing_(prepare_with_hint(
          db_,
          "INSERT INTO school_users(user_id, registered_at, allow_email) VALUES (?1, ?2, 0) "
          "ON CONFLICT(user_id) DO NOTHING")),
      upsert_user_(prepare_with_hint(db_, kUpsertUser)),
      find_offer_(prepare_with_hint(db_, "SELECT 1 FROM offer_log WHERE offer_id = ?1")),
      insert_response_(prepare_with_hint(
          db_,
          "INSERT INTO offer_responses(offer_id, response, responded_at, recorded_at) VALUES "
          "(?1, ?2, ?3, ?4)")),
      upsert_course_(prepare_with_hint(db_, kUpsertCourse)),
      ids_(std::random_device{}()) {}

OfferStore::~OfferStore() = default;

std::shared_ptr<const offers::Catalog> OfferStore::load_catalog_locked() {
  Statement select = db_.prepare(
      "SELECT course_id, title, direction, level, price_rub, duration_months, active FROM "
      "school_courses ORDER BY course_id");
  std::vector<offers::Course> courses;
  while (select.step()) {
    offers::Course course;
    course.course_id = select.column_text(0);
    course.title = select.column_text(1);
    course.direction = select.column_text(2);
    course.level = static_cast<int>(select.column_int64(3));
    course.price_rub = select.column_double(4);
    course.duration_months = static_cast<int>(select.column_int64(5));
    course.active = select.column_int64(6) != 0;
    courses.push_back(std::move(course));
  }
  return std::make_shared<const offers::Catalog>(std::move(courses));
}

std::shared_ptr<const offers::Catalog> OfferStore::catalog() {
  const std::lock_guard lock(mutex_);
  if (!catalog_) catalog_ = load_catalog_locked();
  return catalog_;
}

void OfferStore::refresh_catalog() {
  const std::lock_guard lock(mutex_);
  catalog_ = load_catalog_locked();
}

std::string OfferStore::upsert_course(const offers::Course& course) {
  if (course.course_id.empty()) throw std::invalid_argument("course_id must not be empty");
  std::string now = utc_now_iso8601();
  const std::lock_guard lock(mutex_);
  {
    ResetGuard reset(upsert_course_);
    bind_course(upsert_course_, course, now);
    upsert_course_.step();
  }
  catalog_.reset();
  return now;
}

std::optional<offers::User> OfferStore::find_user(std::string_view user_id) {
  const std::lock_guard lock(mutex_);
  return find_user_locked(user_id);
}

std::pair<offers::User, bool> OfferStore::put_user(std::string_view user_id,
                                                   const UserProfile& profile,
                                                   offers::Seconds today) {
  const std::lock_guard lock(mutex_);
  Transaction transaction(db_);
  const std::optional<offers::User> stored = find_user_locked(user_id);
  offers::User user;
  if (stored) {
    user = *stored;
  } else {
    user.user_id = std::string(user_id);
    user.registered_at = today - today % offers::kSecondsPerDay;
  }
  user.allow_email = profile.allow_email;
  if (profile.registered_at) user.registered_at = *profile.registered_at;
  if (profile.age_group) user.age_group = *profile.age_group;
  if (profile.region) user.region = *profile.region;
  {
    ResetGuard reset(upsert_user_);
    upsert_user_.bind(1, user.user_id)
        .bind(2, user.registered_at)
        .bind(3, user.age_group)
        .bind(4, user.region)
        .bind(5, user.allow_email ? 1 : 0);
    upsert_user_.step();
  }
  transaction.commit();
  return {user, !stored.has_value()};
}

std::optional<offers::User> OfferStore::find_user_locked(std::string_view user_id) {
  ResetGuard reset(find_user_);
  find_user_.bind(1, user_id);
  if (!find_user_.step()) return std::nullopt;
  offers::User user;
  user.user_id = find_user_.column_text(0);
  user.registered_at = find_user_.column_int64(1);
  user.age_group = find_user_.column_text(2);
  user.region = find_user_.column_text(3);
  user.allow_email = find_user_.column_int64(4) != 0;
  return user;
}

std::vector<offers::Event> OfferStore::events_before(std::string_view user_id,
                                                     offers::Seconds before,
                                                     const offers::Catalog& catalog,
                                                     std::size_t max_events) {
  std::vector<offers::Event> events;
  const std::lock_guard lock(mutex_);
  ResetGuard reset(events_);
  events_.bind(1, user_id).bind(2, before).bind(3, max_events);
  while (events_.step()) {
    offers::Event event;
    event.time = events_.column_int64(0);
    const auto kind = events_.column_int64(1);
    if (kind < 0 || kind >= static_cast<std::int64_t>(offers::kEventKindCount)) {
      throw StoreError(fmt::format("store: database {}: event of user '{}' has kind {}",
                                   db_.path().string(), user_id, kind));
    }
    event.kind = static_cast<offers::EventKind>(kind);
    if (!events_.column_is_null(2)) event.course = catalog.find(events_.column_text(2));
    event.amount_rub = events_.column_double(3);
    events.push_back(event);
  }
  return events;
}

std::vector<OfferRecord> OfferStore::offers_between(std::string_view user_id, offers::Seconds from,
                                                    offers::Seconds to) {
  std::vector<OfferRecord> records;
  const std::lock_guard lock(mutex_);
  ResetGuard reset(offers_between_);
  offers_between_.bind(1, user_id).bind(2, from).bind(3, to);
  while (offers_between_.step()) {
    records.push_back({.offer_id = offers_between_.column_text(0),
                       .course_id = offers_between_.column_text(1),
                       .channel = offers_between_.column_text(2),
                       .offered_at = offers_between_.column_int64(3)});
  }
  return records;
}

std::string OfferStore::new_offer_id_locked() {
  return fmt::format("of_{:016x}{:016x}", ids_(), ids_());
}

std::vector<std::string> OfferStore::record_offers(std::string_view request_id,
                                                   std::string_view user_id,
                                                   std::string_view channel, offers::Seconds at,
                                                   std::string_view model_version,
                                                   std::span<const NewOffer> offers) {
  std::vector<std::string> ids;
  if (offers.empty()) return ids;
  const std::lock_guard lock(mutex_);
  Transaction transaction(db_);
  for (const auto& offer : offers) {
    std::string id = new_offer_id_locked();
    ResetGuard reset(insert_offer_);
    insert_offer_.bind(1, id)
        .bind(2, request_id)
        .bind(3, user_id)
        .bind(4, offer.course_id)
        .bind(5, channel)
        .bind(6, offer.rank)
        .bind(7, offer.score)
        .bind(8, at)
        .bind(9, model_version);
    insert_offer_.step();
    ids.push_back(std::move(id));
  }
  transaction.commit();
  return ids;
}

std::size_t OfferStore::append_events(std::string_view user_id, std::span<const NewEvent> events) {
  if (events.empty()) return 0;
  const std::lock_guard lock(mutex_);
  Transaction transaction(db_);
  offers::Seconds first = events.front().time;
  for (const auto& event : events) first = std::min(first, event.time);
  {
    ResetGuard reset(insert_user_if_missing_);
    insert_user_if_missing_.bind(1, user_id).bind(2, first - first % offers::kSecondsPerDay);
    insert_user_if_missing_.step();
  }
  for (const auto& event : events) {
    ResetGuard reset(insert_event_);
    insert_event_.bind(1, user_id).bind(2, event.time).bind(3, static_cast<int>(event.kind));
    insert_event_.bind_text_or_null(4, event.course_id);
    if (event.kind == offers::EventKind::kPurchase) {
      insert_event_.bind(5, event.amount_rub);
    } else {
      insert_event_.bind(5, nullptr);
    }
    insert_event_.step();
  }
  transaction.commit();
  return events.size();
}

bool OfferStore::record_response(std::string_view offer_id, std::string_view response,
                                 offers::Seconds responded_at) {
  const std::string now = utc_now_iso8601();
  const std::lock_guard lock(mutex_);
  Transaction transaction(db_);
  {
    ResetGuard reset(find_offer_);
    find_offer_.bind(1, offer_id);
    if (!find_offer_.step()) return false;
  }
  {
    ResetGuard reset(insert_response_);
    insert_response_.bind(1, offer_id).bind(2, response).bind(3, responded_at).bind(4, now);
    insert_response_.step();
  }
  transaction.commit();
  return true;
}

ImportCounts OfferStore::import(const offers::Catalog& catalog, std::span<const offers::User> users,
                                std::span<const std::vector<offers::Event>> events) {
  if (events.size() != users.size()) {
    throw std::invalid_argument("import: one event list per user is required");
  }
  ImportCounts counts;
  const std::string now = utc_now_iso8601();
  const std::lock_guard lock(mutex_);
  Transaction transaction(db_);
  {
    Statement upsert = db_.prepare(kUpsertCourse);
    for (const auto& course : catalog.courses()) {
      bind_course(upsert, course, now);
      upsert.step();
      upsert.reset();
      ++counts.courses;
    }
  }
  Statement upsert_user = db_.prepare(kUpsertUser);
  Statement remove_events = db_.prepare("DELETE FROM school_events WHERE user_id = ?1");
  Statement insert_event = db_.prepare(kInsertEvent);
  for (std::size_t u = 0; u < users.size(); ++u) {
    const auto& user = users[u];
    upsert_user.bind(1, user.user_id)
        .bind(2, user.registered_at)
        .bind(3, user.age_group)
        .bind(4, user.region)
        .bind(5, user.allow_email ? 1 : 0);
    upsert_user.step();
    upsert_user.reset();
    remove_events.bind(1, user.user_id);
    remove_events.step();
    remove_events.reset();
    ++counts.users;
    for (const auto& event : events[u]) {
      insert_event.bind(1, user.user_id).bind(2, event.time).bind(3, static_cast<int>(event.kind));
      if (event.course >= 0 && static_cast<std::size_t>(event.course) < catalog.size()) {
        insert_event.bind(4, catalog[static_cast<std::size_t>(event.course)].course_id);
      } else {
        insert_event.bind(4, nullptr);
      }
      if (event.kind == offers::EventKind::kPurchase) {
        insert_event.bind(5, event.amount_rub);
      } else {
        insert_event.bind(5, nullptr);
      }
      insert_event.step();
      insert_event.reset();
      ++counts.events;
    }
  }
  transaction.commit();
  catalog_.reset();
  return counts;
}

std::int64_t OfferStore::count(std::string_view table) {
  static constexpr std::string_view kTables[] = {"school_courses", "school_users", "school_events",
                                                 "offer_log", "offer_responses"};
  if (std::find(std::begin(kTables), std::end(kTables), table) == std::end(kTables)) {
    throw std::invalid_argument(fmt::format("count: unknown table '{}'", table));
  }
  const std::lock_guard lock(mutex_);
  Statement select = db_.prepare(fmt::format("SELECT COUNT(*) FROM {}", table));
  select.step();
  return select.column_int64(0);
}

}  // namespace nbo::store
