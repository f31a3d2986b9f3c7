#pragma once

#include <cstddef>
#include <filesystem>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nbo/features/customer.hpp"
#include "nbo/store/database.hpp"

namespace nbo::store {

struct StoredCustomer {
  std::string customer_id;
  features::RawCustomer features;  // as given to upsert()
  std::string updated_at;          // ISO-8601 UTC with milliseconds, set by upsert()
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
  explicit CustomerStore(const std::filesystem::path& db_file, const OpenOptions& options = {});
  CustomerStore(const CustomerStore&) = delete;
  CustomerStore& operator=(const CustomerStore&) = delete;
  ~CustomerStore();

  // Inserts or replaces the customer's features and sets updated_at to now (UTC), which it
  // returns. The row is committed when this returns (see Synchronous in database.hpp for what
  // survives a power loss).
  std::string upsert(std::string_view customer_id, const features::RawCustomer& features);

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

  mutable std::mutex mutex_;
  // Declared before the statements: they must be finalized first (reverse order).
  mutable Database db_;
  mutable Statement upsert_;
  mutable Statement find_;
  mutable Statement count_;
};

}  // namespace nbo::store
