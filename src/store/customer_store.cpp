#include "nbo/store/customer_store.hpp"

#include <stdexcept>
#include <utility>

#include "nbo/store/timestamp.hpp"
#include "statement_guard.hpp"

namespace nbo::store {

CustomerStore::CustomerStore(const std::filesystem::path& db_file, const OpenOptions& options)
    : db_(Database::open(db_file, options)),
      upsert_(prepare_with_hint(
          db_,
          "INSERT INTO customers(customer_id, features, updated_at) VALUES (?1, ?2, ?3) "
          "ON CONFLICT(customer_id) DO UPDATE SET features = excluded.features, "
          "updated_at = excluded.updated_at")),
      find_(prepare_with_hint(
          db_, "SELECT customer_id, features, updated_at FROM customers WHERE customer_id = ?1")),
      count_(prepare_with_hint(db_, "SELECT COUNT(*) FROM customers")),
      record_segment_(prepare_with_hint(
          db_,
          "INSERT OR REPLACE INTO customer_segments(customer_id, scored_by, segment_id, "
          "probability, profit, value_at_risk, allow_messages, contactable) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")),
      to_segment_(prepare_with_hint(
          db_,
          "SELECT c.rowid, c.customer_id, c.features, c.updated_at FROM customers c "
          "WHERE c.rowid > ?1 AND NOT EXISTS (SELECT 1 FROM customer_segments s "
          "WHERE s.customer_id = c.customer_id AND s.scored_by = ?2) ORDER BY c.rowid LIMIT ?3")),
      campaign_one_(prepare_with_hint(
          db_,
          "SELECT customer_id, segment_id, probability, profit, value_at_risk, allow_messages "
          "FROM customer_segments WHERE scored_by = ?1 AND segment_id = ?2 AND contactable = ?3 "
          "ORDER BY value_at_risk DESC, customer_id LIMIT ?4 OFFSET ?5")),
      campaign_all_(prepare_with_hint(
          db_,
          "SELECT customer_id, segment_id, probability, profit, value_at_risk, allow_messages "
          "FROM customer_segments WHERE scored_by = ?1 AND contactable = ?3 "
          "ORDER BY value_at_risk DESC, customer_id LIMIT ?4 OFFSET ?5")),
      campaign_size_one_(prepare_with_hint(
          db_,
          "SELECT COUNT(*) FROM customer_segments WHERE scored_by = ?1 AND segment_id = ?2 "
          "AND contactable = ?3")),
      campaign_size_all_(prepare_with_hint(
          db_, "SELECT COUNT(*) FROM customer_segments WHERE scored_by = ?1 AND contactable = ?3")),
      current_segment_(
          prepare_with_hint(db_,
                            "SELECT scored_by, segment_id, contactable FROM customer_segments "
                            "WHERE customer_id = ?1")) {}

CustomerStore::~CustomerStore() = default;

template <typename Write>
void CustomerStore::write_transaction(Write&& write) {
  try {
    Transaction tx(db_);
    write();
    tx.commit();
  } catch (...) {
    campaign_sizes_.clear();  // adjusted for rows that were rolled back
    throw;
  }
}

void CustomerStore::adjust_campaign_sizes(const std::string& scored_by,
                                          const std::string& segment_id, bool contactable,
                                          long delta) {
  for (const std::string& list : {segment_id, std::string()}) {
    const auto found = campaign_sizes_.find(std::make_tuple(scored_by, list, contactable));
    if (found != campaign_sizes_.end()) {
      found->second = static_cast<std::size_t>(static_cast<long>(found->second) + delta);
    }
  }
}

void CustomerStore::record_segment_locked(std::string_view customer_id,
                                          const CustomerSegment& segment) {
  if (!campaign_sizes_.empty()) {
    ResetGuard reset(current_segment_);
    current_segment_.bind(1, customer_id);
    if (current_segment_.step()) {
      adjust_campaign_sizes(current_segment_.column_text(0), current_segment_.column_text(1),
                            current_segment_.column_int64(2) != 0, -1);
    }
    adjust_campaign_sizes(segment.scored_by, segment.segment_id,
                          segment.allow_messages.value_or(false), +1);
  }
  ResetGuard reset(record_segment_);
  record_segment_.bind(1, customer_id).bind(2, segment.scored_by).bind(3, segment.segment_id);
  record_segment_.bind(4, segment.probability);
  if (segment.profit) {
    record_segment_.bind(5, *segment.profit);
  } else {
    record_segment_.bind(5, nullptr);
  }
  if (segment.value_at_risk) {
    record_segment_.bind(6, *segment.value_at_risk);
  } else {
    record_segment_.bind(6, nullptr);
  }
  if (segment.allow_messages) {
    record_segment_.bind(7, *segment.allow_messages);
  } else {
    record_segment_.bind(7, nullptr);
  }
  record_segment_.bind(8, segment.allow_messages.value_or(false));
  record_segment_.step();
}

void CustomerStore::upsert_locked(std::string_view customer_id, const std::string& features_text,
                                  const std::string& now, const CustomerSegment* segment) {
  {
    ResetGuard reset(upsert_);
    upsert_.bind(1, customer_id).bind(2, features_text).bind(3, now);
    upsert_.step();
  }
  if (segment != nullptr) record_segment_locked(customer_id, *segment);
  if (segment == nullptr || segment->scored_by != segments_complete_for_) {
    segments_complete_for_.clear();
  }
}

std::string CustomerStore::upsert(std::string_view customer_id,
                                  const features::RawCustomer& features,
                                  const CustomerSegment* segment) {
  if (customer_id.empty()) throw std::invalid_argument("customer_id must not be empty");
  const std::string text = features::customer_to_json_text(features);
  std::string now = utc_now_iso8601();

  const std::lock_guard lock(mutex_);
  // The customer and its segment row commit together, or neither does.
  write_transaction([&] { upsert_locked(customer_id, text, now, segment); });
  return now;
}

void CustomerStore::upsert_many(
    std::span<const std::pair<std::string, features::RawCustomer>> customers,
    std::span<const CustomerSegment> segments) {
  if (!segments.empty() && segments.size() != customers.size()) {
    throw std::invalid_argument("upsert_many: one segment per customer, or none");
  }
  std::vector<std::string> texts;
  texts.reserve(customers.size());
  for (const auto& [id, features] : customers) {
    if (id.empty()) throw std::invalid_argument("customer_id must not be empty");
    texts.push_back(features::customer_to_json_text(features));
  }
  const std::string now = utc_now_iso8601();
  const std::lock_guard lock(mutex_);
  write_transaction([&] {
    for (std::size_t i = 0; i < customers.size(); ++i) {
      upsert_locked(customers[i].first, texts[i], now, segments.empty() ? nullptr : &segments[i]);
    }
  });
}

CustomersToSegment CustomerStore::customers_to_segment(std::string_view scored_by,
                                                       std::int64_t after_rowid,
                                                       std::size_t limit) const {
  CustomersToSegment out;
  out.last_rowid = after_rowid;
  const std::lock_guard lock(mutex_);
  ResetGuard reset(to_segment_);
  to_segment_.bind(1, after_rowid).bind(2, scored_by).bind(3, limit);
  while (to_segment_.step()) {
    out.last_rowid = to_segment_.column_int64(0);
    StoredCustomer customer;
    customer.customer_id = to_segment_.column_text(1);
    try {
      customer.features = features::customer_from_json_text(to_segment_.column_text(2));
    } catch (const std::exception& e) {
      throw StoreError("store: database " + db_.path().string() + ": features of customer '" +
                       customer.customer_id + "' are not a valid customer: " + e.what());
    }
    customer.updated_at = to_segment_.column_text(3);
    out.customers.push_back(std::move(customer));
  }
  out.done = out.customers.size() < limit;
  return out;
}

void CustomerStore::record_segments(std::span<const std::pair<std::string, CustomerSegment>> rows) {
  const std::lock_guard lock(mutex_);
  write_transaction([&] {
    for (const auto& [id, segment] : rows) record_segment_locked(id, segment);
  });
}

void CustomerStore::mark_segments_complete(std::string_view scored_by) {
  const std::lock_guard lock(mutex_);
  segments_complete_for_ = std::string(scored_by);
}

bool CustomerStore::segments_complete(std::string_view scored_by) const {
  const std::lock_guard lock(mutex_);
  return !segments_complete_for_.empty() && segments_complete_for_ == scored_by;
}

std::vector<CampaignEntry> CustomerStore::campaign(const CampaignQuery& query) const {
  std::vector<CampaignEntry> out;
  const std::lock_guard lock(mutex_);
  Statement& statement = query.segment_id.empty() ? campaign_all_ : campaign_one_;
  ResetGuard reset(statement);
  statement.bind(1, query.scored_by);
  if (!query.segment_id.empty()) statement.bind(2, query.segment_id);
  statement.bind(3, query.contactable).bind(4, query.limit).bind(5, query.offset);
  while (statement.step()) {
    CampaignEntry entry;
    entry.customer_id = statement.column_text(0);
    entry.segment_id = statement.column_text(1);
    entry.probability = statement.column_double(2);
    if (!statement.column_is_null(3)) entry.profit = statement.column_double(3);
    if (!statement.column_is_null(4)) entry.value_at_risk = statement.column_double(4);
    if (!statement.column_is_null(5)) entry.allow_messages = statement.column_int64(5) != 0;
    out.push_back(std::move(entry));
  }
  return out;
}

std::size_t CustomerStore::campaign_size(const CampaignQuery& query) const {
  const std::lock_guard lock(mutex_);
  const auto key = std::make_tuple(query.scored_by, query.segment_id, query.contactable);
  if (const auto found = campaign_sizes_.find(key); found != campaign_sizes_.end()) {
    return found->second;
  }
  Statement& statement = query.segment_id.empty() ? campaign_size_all_ : campaign_size_one_;
  ResetGuard reset(statement);
  statement.bind(1, query.scored_by);
  if (!query.segment_id.empty()) statement.bind(2, query.segment_id);
  statement.bind(3, query.contactable);
  const std::size_t size =
      statement.step() ? static_cast<std::size_t>(statement.column_int64(0)) : 0;
  campaign_sizes_.emplace(key, size);
  return size;
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
