// A store customer as the «В один клик» store knows it: the raw API fields of PRODUCT.md.
//
// This header is the ONE place that maps API field names to the export's columns, states each
// field's type and range, and lists the categorical vocabularies with their known misspellings.
// The server (JSON in) and the trainer (CSV export in) both produce a RawCustomer; the feature
// pipeline (pipeline.hpp) turns it into a model row.
//
// Thread safety: everything here is immutable data or value types; safe to share across threads.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "nbo/json/document.hpp"

namespace nbo::json {
class Writer;
}

namespace nbo::features {

enum class FieldType {
  kNumber,    // any finite number in [min_value, max_value]
  kInteger,   // a whole number in [min_value, max_value]
  kBoolean,   // JSON true/false; "да"/"нет" in the export
  kCategory,  // one of the field's levels (known misspellings are normalized)
};

// Stable indices of the store fields; the order is the order of the PRODUCT.md table.
enum class FieldId : std::size_t {
  kServiceType,
  kAllowMessages,
  kMarketingActivity6m,
  kMarketingActivityCurrent,
  kTenureDays,
  kPromoShare,
  kPopularCategory,
  kAvgCategoriesPerVisit,
  kUnpaidItemsQuarter,
  kServiceErrors,
  kPagesPerVisit,
  kRevenue2MonthsAgo,
  kRevenueLastMonth,
  kRevenueThisMonth,
  kMinutesLastMonth,
  kMinutesThisMonth,
  kProfit,
};
inline constexpr std::size_t kFieldCount = 17;

constexpr std::size_t index_of(FieldId id) { return static_cast<std::size_t>(id); }

// Where a field comes from in the raw export (../shared/data/market).
struct ExportSource {
  std::string_view file;    // "market_file.csv", "market_money.csv", "market_time.csv", "money.csv"
  std::string_view column;  // column holding the value
  std::string_view period;  // for the long per-month files: the value of the `Период` column
};

struct StoreField {
  FieldId id;
  std::string_view api_name;
  FieldType type;
  double min_value;  // inclusive; -infinity when unbounded
  double max_value;  // inclusive; +infinity when unbounded
  bool model_input;  // false for profit: used by segmentation, never by the churn model
  ExportSource source;
};

// All store fields, indexed by FieldId.
std::span<const StoreField> store_fields();
const StoreField& store_field(FieldId id);
std::optional<FieldId> find_field(std::string_view api_name);

// Canonical levels of a categorical field (the export's own spelling), in a fixed order.
std::span<const std::string_view> category_levels(FieldId id);
// Canonical level for a raw value, after normalizing known misspellings ("стандартт" ->
// "стандарт"); nullopt when the value is not a known level of the field.
std::optional<std::string_view> normalize_category(FieldId id, std::string_view raw_value);

// Raised for input that does not describe a valid customer. `code` is machine-readable
// ("invalid_type", "unknown_field", "missing_field", "out_of_range", "unknown_category",
// "invalid_value"), `field` names the API field (may be empty for whole-object problems).
class ValidationError : public std::runtime_error {
 public:
  ValidationError(std::string code, std::string field, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)), field_(std::move(field)) {}
  const std::string& code() const noexcept { return code_; }
  const std::string& field() const noexcept { return field_; }

 private:
  std::string code_;
  std::string field_;
};

// One customer's raw field values; any field may be absent. Value type, cheap to copy: a category
// is held as a view of its canonical level, which lives as long as the program (category_levels()).
class RawCustomer {
 public:
  bool has(FieldId id) const { return values_[index_of(id)].present; }
  // Number of a numeric/integer/boolean field (booleans are 0 or 1). Precondition: has(id).
  double number(FieldId id) const { return values_[index_of(id)].number; }
  bool boolean(FieldId id) const { return values_[index_of(id)].number != 0.0; }
  // Canonical level of a categorical field. Precondition: has(id).
  std::string_view category(FieldId id) const { return values_[index_of(id)].category; }

  // Setters validate type and range and throw ValidationError like the JSON parser does.
  void set_number(FieldId id, double value);
  void set_boolean(FieldId id, bool value);
  void set_category(FieldId id, std::string_view raw_value);
  void clear(FieldId id) { values_[index_of(id)] = FieldValue{}; }

  bool operator==(const RawCustomer&) const = default;

 private:
  struct FieldValue {
    bool present = false;
    double number = 0.0;
    std::string_view category;  // one of category_levels(): static storage
    bool operator==(const FieldValue&) const = default;
  };
  std::array<FieldValue, kFieldCount> values_{};
};

// Parses the `features` object of an API request or a stored row. Checks that it is an object, that every key
// is a known API field, and each value's JSON type, range and category; absent fields stay
// absent (whether absence is allowed is the model's missing-value policy). Throws
// ValidationError naming the first offending field.
RawCustomer customer_from_json(const nlohmann::json& features);
// The same rules, read from a parsed tape (request bodies, stored rows): no DOM built.
RawCustomer customer_from_json(json::Value features);
// Parses JSON text holding a features object (a stored row). Throws json::ParseError for text
// that is not JSON, ValidationError for a value the rules above reject.
RawCustomer customer_from_json_text(std::string_view text);

// The customer's present fields as a JSON object with API names (categories canonical).
nlohmann::json customer_to_json(const RawCustomer& customer);
// The same object written directly, byte-identical to customer_to_json(customer).dump().
void write_customer(json::Writer& writer, const RawCustomer& customer);
std::string customer_to_json_text(const RawCustomer& customer);
// One present field's value as customer_to_json writes it (whole numbers of integer fields
// as integers). Precondition: customer.has(field.id).
void write_field_value(json::Writer& writer, const RawCustomer& customer, const StoreField& field);

}  // namespace nbo::features
