#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "nbo/features/customer.hpp"
#include "nbo/store/database.hpp"

namespace nbo::store {

struct StoredCustomer {
  std::string customer_id;
  features::RawCustomer features;  // as given to upsert()
  std::string updated_at;          // ISO-8601 UTC with milliseconds, set by upsert()
};

// A customer's segment as one model set computed it: a row of customer_segments, what the
// campaign lists read (migrations/0002_segments.sql).
struct CustomerSegment {
  std::string scored_by{};  // the model set's key ("<churn version>+<segments version>")
  std::string segment_id{};
  double probability = 0.0;
  std::optional<double> profit;
  std::optional<double> value_at_risk;
  std::optional<bool> allow_messages;  // nullopt when unknown; only true is contactable
};

// One line of a campaign list.
struct CampaignEntry {
  std::string customer_id;
  std::string segment_id;
  double probability = 0.0;
  std::optional<double> profit;
  std::optional<double> value_at_risk;
  std::optional<bool> allow_messages;
};

struct CampaignQuery {
  std::string scored_by{};   // only rows computed by this model set
  std::string segment_id{};  // empty: every segment
  bool contactable = true;   // allow_messages true, or (false) false / unknown
  std::size_t limit = 100;
  std::size_t offset = 0;
};

// Stored customers without a segment row of one model set, in storage order.
struct CustomersToSegment {
  std::vector<StoredCustomer> customers;
  std::int64_t last_rowid = 0;  // pass as `after_rowid` for the next batch
  bool done = false;            // no customer after last_rowid needs a segment
};

// The customers table: the latest features of each store customer, keyed by customer_id.
//
// Owns its own connection to `db_file` (opened by the constructor). The schema must exist:
// run Database::apply_migrations() first, otherwise the constructor throws StoreError.
// Thread-safety: all methods may be called from any number of threads; one internal mutex
// serializes them on the single connection (reads included). Other connections/processes
// may use the same file at the same time (WAL mode).
// Features are stored as the JSON object of features::write_customer() (API field names) and
// read back into a RawCustomer, so a stored customer is validated once, when it is written.
// Errors: database failures throw StoreError naming the file and statement; an empty id throws
// std::invalid_argument.
class CustomerStore {
 public:
  // The page cache bound of the store's connection when the caller sets none: refreshing the
  // segments of a million customers inserts into indexes far larger than SQLite's 2 MiB default,
  // which then rereads pages through the kernel.
  static constexpr int kDefaultCacheKib = 32 * 1024;
  explicit CustomerStore(const std::filesystem::path& db_file,
                         const OpenOptions& options = OpenOptions{.cache_kib = kDefaultCacheKib});
  CustomerStore(const CustomerStore&) = delete;
  CustomerStore& operator=(const CustomerStore&) = delete;
  ~CustomerStore();

  // Inserts or replaces the customer's features and sets updated_at to now (UTC), which it
  // returns. The row is committed when this returns (see Synchronous in database.hpp for what
  // survives a power loss).
  // With `segment`, the customer's customer_segments row is written in the same transaction;
  // without, an existing row is left as it was (campaign refreshes replace it later).
  std::string upsert(std::string_view customer_id, const features::RawCustomer& features,
                     const CustomerSegment* segment = nullptr);

  // Many customers in one transaction (bulk loads); `segments` empty or one per customer.
  // All or nothing: on failure nothing is written.
  void upsert_many(std::span<const std::pair<std::string, features::RawCustomer>> customers,
                   std::span<const CustomerSegment> segments = {});

  // ---- segments (campaign lists)

  // Up to `limit` stored customers with rowid > after_rowid that have no customer_segments row
  // scored by `scored_by` (none at all, or one of another model set). Throws StoreError for a
  // stored customer that is not valid, like find().
  CustomersToSegment customers_to_segment(std::string_view scored_by, std::int64_t after_rowid,
                                          std::size_t limit) const;
  // Writes the rows (insert or replace), one transaction.
  void record_segments(std::span<const std::pair<std::string, CustomerSegment>> rows);
  // Remembers that every stored customer has a row scored by `scored_by` (the caller has just
  // checked); upsert() without a segment, or with another scored_by, forgets it.
  void mark_segments_complete(std::string_view scored_by);
  bool segments_complete(std::string_view scored_by) const;
  // A page of one campaign list, by value at risk (highest first, unknown last), then id.
  std::vector<CampaignEntry> campaign(const CampaignQuery& query) const;
  // How many rows the list has in all (limit and offset ignored). Counted once, then kept up to
  // date by this store's own writes (a count over a million rows takes tens of milliseconds; a
  // mailing asks for page after page of one list). Assumes no other connection writes
  // customer_segments (nbo import customers writes only customers).
  std::size_t campaign_size(const CampaignQuery& query) const;

  // The stored customer, or std::nullopt if there is none. Throws StoreError if the stored
  // features are not a valid customer (a corrupted row), naming the customer.
  std::optional<StoredCustomer> find(std::string_view customer_id) const;

  // One lookup per id, in the order given (duplicates allowed), all inside one read
  // transaction so the answers come from one consistent snapshot; std::nullopt for ids
  // that are not stored.
  std::vector<std::optional<StoredCustomer>> find_many(std::span<const std::string> ids) const;

  // Number of stored customers.
  std::size_t count() const;

  // Readiness probe on this store's connection; see Database::writable(). Never throws.
  bool writable() noexcept;

  const std::filesystem::path& path() const noexcept { return db_.path(); }

 private:
  std::optional<StoredCustomer> find_locked(std::string_view customer_id) const;
  void upsert_locked(std::string_view customer_id, const std::string& features_text,
                     const std::string& now, const CustomerSegment* segment);
  void record_segment_locked(std::string_view customer_id, const CustomerSegment& segment);
  // Adds `delta` to the remembered sizes of the lists a row (scored_by, segment_id, contactable)
  // belongs to: its segment's and "all".
  void adjust_campaign_sizes(const std::string& scored_by, const std::string& segment_id,
                             bool contactable, long delta);
  // Runs `write` in one immediate transaction; forgets the remembered sizes if it fails.
  template <typename Write>
  void write_transaction(Write&& write);

  mutable std::mutex mutex_;
  // Declared before the statements: they must be finalized first (reverse order).
  mutable Database db_;
  mutable Statement upsert_;
  mutable Statement find_;
  mutable Statement count_;
  mutable Statement record_segment_;
  mutable Statement to_segment_;
  mutable Statement campaign_one_;
  mutable Statement campaign_all_;
  mutable Statement campaign_size_one_;
  mutable Statement campaign_size_all_;
  mutable Statement current_segment_;
  std::string segments_complete_for_;  // guarded by mutex_
  // campaign_size() answers by (scored_by, segment_id, contactable), adjusted by every write to
  // customer_segments. Guarded by mutex_.
  mutable std::map<std::tuple<std::string, std::string, bool>, std::size_t> campaign_sizes_;
};

}  // namespace nbo::store
