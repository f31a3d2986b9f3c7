#include "nbo/store/customer_store.hpp"

#include <stdexcept>
#include <utility>

#include "nbo/store/timestamp.hpp"

namespace nbo::store {

namespace {

Statement prepare_with_hint(Database& db, std::string_view sql) {
  try {
    return db.prepare(sql);
  } catch (const StoreError& e) {
    throw StoreError(std::string(e.what()) + " (have the migrations been applied?)", e.code());
  }
}

// Resets a statement when leaving scope, even by an exception, so it can run again.
class ResetGuard {
 public:
  explicit ResetGuard(Statement& stmt) noexcept : stmt_(stmt) {}
  ResetGuard(const ResetGuard&) = delete;
  ResetGuard& operator=(const ResetGuard&) = delete;
  ~ResetGuard() { stmt_.reset(); }

 private:
  Statement& stmt_;
};

}  // namespace

CustomerStore::CustomerStore(const std::filesystem::path& db_file, const OpenOptions& options)
    : db_(Database::open(db_file, options)),
      upsert_(prepare_with_hint(
          db_,
          "INSERT INTO customers(customer_id, features, updated_at) VALUES (?1, ?2, ?3) "
          "ON CONFLICT(customer_id) DO UPDATE SET features = excluded.features, "
          "updated_at = excluded.updated_at")),
      find_(prepare_with_hint(
          db_, "SELECT customer_id, features, updated_at FROM customers WHERE customer_id = ?1")),
      count_(prepare_with_hint(db_, "SELECT COUNT(*) FROM customers")) {}

CustomerStore::~CustomerStore() = default;

std::string CustomerStore::upsert(std::string_view customer_id,
                                  const features::RawCustomer& features) {
  if (customer_id.empty()) throw std::invalid_argument("customer_id must not be empty");
  const std::string text = features::customer_to_json_text(features);
  std::string now = utc_now_iso8601();

  const std::lock_guard lock(mutex_);
  ResetGuard reset(upsert_);
  // A single statement outside BEGIN runs in its own transaction, committed by step().
  upsert_.bind(1, customer_id).bind(2, text).bind(3, now);
  upsert_.step();
  return now;
}

std::optional<StoredCustomer> CustomerStore::find_locked(std::string_view customer_id) const {
  ResetGuard reset(find_);
  find_.bind(1, customer_id);
  if (!find_.step()) return std::nullopt;
  StoredCustomer customer;
  customer.customer_id = find_.column_text(0);
  try {
    customer.features = features::customer_from_json_text(find_.column_text(1));
  } catch (const std::exception& e) {  // json::ParseError, features::ValidationError
    throw StoreError("store: database " + db_.path().string() + ": features of customer '" +
                     customer.customer_id + "' are not a valid customer: " + e.what());
  }
  customer.updated_at = find_.column_text(2);
  return customer;
}

std::optional<StoredCustomer> CustomerStore::find(std::string_view customer_id) const {
  const std::lock_guard lock(mutex_);
  return find_locked(customer_id);
}

std::vector<std::optional<StoredCustomer>> CustomerStore::find_many(
    std::span<const std::string> ids) const {
  std::vector<std::optional<StoredCustomer>> out;
  out.reserve(ids.size());
  const std::lock_guard lock(mutex_);
  Transaction tx(db_, TransactionMode::kDeferred);
  for (const auto& id : ids) out.push_back(find_locked(id));
  tx.commit();
  return out;
}

std::size_t CustomerStore::count() const {
  const std::lock_guard lock(mutex_);
  ResetGuard reset(count_);
  if (!count_.step()) return 0;
  return static_cast<std::size_t>(count_.column_int64(0));
}

bool CustomerStore::writable() noexcept {
  try {
    const std::lock_guard lock(mutex_);
    return db_.writable();
  } catch (const std::exception&) {  // std::system_error from the mutex
    return false;
  }
}

}  // namespace nbo::store
