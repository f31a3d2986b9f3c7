#include "nbo/features/customer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "nbo/json/document.hpp"
#include "nbo/json/writer.hpp"

namespace nbo::features {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

constexpr std::array<StoreField, kFieldCount> kStoreFields{{
    {FieldId::kServiceType,
     "service_type",
     FieldType::kCategory,
     -kInf,
     kInf,
     true,
     {"market_file.csv", "Тип сервиса", ""}},
    {FieldId::kAllowMessages,
     "allow_messages",
     FieldType::kBoolean,
     0,
     1,
     true,
     {"market_file.csv", "Разрешить сообщать", ""}},
    {FieldId::kMarketingActivity6m,
     "marketing_activity_6m",
     FieldType::kNumber,
     0,
     kInf,
     true,
     {"market_file.csv", "Маркет_актив_6_мес", ""}},
    {FieldId::kMarketingActivityCurrent,
     "marketing_activity_current",
     FieldType::kInteger,
     0,
     kInf,
     true,
     {"market_file.csv", "Маркет_актив_тек_мес", ""}},
    {FieldId::kTenureDays,
     "tenure_days",
     FieldType::kInteger,
     0,
     kInf,
     true,
     {"market_file.csv", "Длительность", ""}},
    {FieldId::kPromoShare,
     "promo_share",
     FieldType::kNumber,
     0,
     1,
     true,
     {"market_file.csv", "Акционные_покупки", ""}},
    {FieldId::kPopularCategory,
     "popular_category",
     FieldType::kCategory,
     -kInf,
     kInf,
     true,
     {"market_file.csv", "Популярная_категория", ""}},
    {FieldId::kAvgCategoriesPerVisit,
     "avg_categories_per_visit",
     FieldType::kInteger,
     0,
     kInf,
     true,
     {"market_file.csv", "Средний_просмотр_категорий_за_визит", ""}},
    {FieldId::kUnpaidItemsQuarter,
     "unpaid_items_quarter",
     FieldType::kInteger,
     0,
     kInf,
     true,
     {"market_file.csv", "Неоплаченные_продукты_штук_квартал", ""}},
    {FieldId::kServiceErrors,
     "service_errors",
     FieldType::kInteger,
     0,
     kInf,
     true,
     {"market_file.csv", "Ошибка_сервиса", ""}},
    {FieldId::kPagesPerVisit,
     "pages_per_visit",
     FieldType::kInteger,
     0,
     kInf,
     true,
     {"market_file.csv", "Страниц_за_визит", ""}},
    {FieldId::kRevenue2MonthsAgo,
     "revenue_2_months_ago",
     FieldType::kNumber,
     0,
     kInf,
     true,
     {"market_money.csv", "Выручка", "препредыдущий_месяц"}},
    {FieldId::kRevenueLastMonth,
     "revenue_last_month",
     FieldType::kNumber,
     0,
     kInf,
     true,
     {"market_money.csv", "Выручка", "предыдущий_месяц"}},
    {FieldId::kRevenueThisMonth,
     "revenue_this_month",
     FieldType::kNumber,
     0,
     kInf,
     true,
     {"market_money.csv", "Выручка", "текущий_месяц"}},
    {FieldId::kMinutesLastMonth,
     "minutes_last_month",
     FieldType::kInteger,
     0,
     kInf,
     true,
     {"market_time.csv", "минут", "предыдущий_месяц"}},
    {FieldId::kMinutesThisMonth,
     "minutes_this_month",
     FieldType::kInteger,
     0,
     kInf,
     true,
     {"market_time.csv", "минут", "текущий_месяц"}},
    {FieldId::kProfit,
     "profit",
     FieldType::kNumber,
     -kInf,
     kInf,
     false,
     {"money.csv", "Прибыль", ""}},
}};

constexpr std::array<std::string_view, 2> kServiceTypes{"стандарт", "премиум"};
constexpr std::array<std::string_view, 6> kPopularCategories{
    "Товары для детей",
    "Домашний текстиль",
    "Косметика и аксесуары",
    "Техника для красоты и здоровья",
    "Мелкая бытовая техника и электроника",
    "Кухонная посуда",
};

struct Alias {
  FieldId field;
  std::string_view misspelt;
  std::string_view canonical;
};
// Known misspellings: the export's typo, and the correct spelling of a level the export
// itself spells with one "с" (the export's spelling stays canonical so models keep matching).
constexpr std::array<Alias, 2> kAliases{{
    {FieldId::kServiceType, "стандартт", "стандарт"},
    {FieldId::kPopularCategory, "Косметика и аксессуары", "Косметика и аксесуары"},
}};

// Whole numbers below this print as integers; larger ones stay doubles (2^53: exact).
constexpr double kLargestExactInteger = 9007199254740992.0;
// Nesting of a stored features object: one object of scalars.
constexpr std::size_t kMaxCustomerJsonDepth = 2;

// Indices of kStoreFields in the byte order of their API names: the member order of
// nlohmann's objects, which write_customer() keeps so both write the same text.
const std::array<std::size_t, kFieldCount>& fields_in_key_order() {
  static const auto order = [] {
    std::array<std::size_t, kFieldCount> indices{};
    for (std::size_t i = 0; i < kFieldCount; ++i) indices[i] = i;
    std::sort(indices.begin(), indices.end(), [](std::size_t a, std::size_t b) {
      return kStoreFields[a].api_name < kStoreFields[b].api_name;
    });
    return indices;
  }();
  return order;
}

std::string_view type_name(FieldType type) {
  switch (type) {
    case FieldType::kNumber:
      return "a number";
    case FieldType::kInteger:
      return "an integer";
    case FieldType::kBoolean:
      return "a boolean";
    case FieldType::kCategory:
      return "a string";
  }
  return "a value";
}

std::string range_text(const StoreField& field) {
  if (std::isinf(field.max_value)) return fmt::format(">= {}", field.min_value);
  return fmt::format("in [{}, {}]", field.min_value, field.max_value);
}

}  // namespace

std::span<const StoreField> store_fields() {
  return kStoreFields;
}

const StoreField& store_field(FieldId id) {
  return kStoreFields[index_of(id)];
}

std::optional<FieldId> find_field(std::string_view api_name) {
  for (const auto& field : kStoreFields) {
    if (field.api_name == api_name) return field.id;
  }
  return std::nullopt;
}

std::span<const std::string_view> category_levels(FieldId id) {
  switch (id) {
    case FieldId::kServiceType:
      return kServiceTypes;
    case FieldId::kPopularCategory:
      return kPopularCategories;
    default:
      return {};
  }
}

std::optional<std::string_view> normalize_category(FieldId id, std::string_view raw_value) {
  for (const auto level : category_levels(id)) {
    if (level == raw_value) return level;
  }
  for (const auto& alias : kAliases) {
    if (alias.field == id && alias.misspelt == raw_value) return alias.canonical;
  }
  return std::nullopt;
}

void RawCustomer::set_number(FieldId id, double value) {
  const StoreField& field = store_field(id);
  if (field.type == FieldType::kCategory) {
    throw ValidationError("invalid_type", std::string(field.api_name),
                          fmt::format("field '{}' must be a string", field.api_name));
  }
  if (!std::isfinite(value)) {
    throw ValidationError("invalid_value", std::string(field.api_name),
                          fmt::format("field '{}' must be a finite number", field.api_name));
  }
  if (field.type == FieldType::kInteger && value != std::floor(value)) {
    throw ValidationError(
        "invalid_type", std::string(field.api_name),
        fmt::format("field '{}' must be an integer, got {}", field.api_name, value));
  }
  if (value < field.min_value || value > field.max_value) {
    throw ValidationError(
        "out_of_range", std::string(field.api_name),
        fmt::format("field '{}' must be {}, got {}", field.api_name, range_text(field), value));
  }
  auto& slot = values_[index_of(id)];
  slot.present = true;
  slot.number = value;
  slot.category = {};
}

void RawCustomer::set_boolean(FieldId id, bool value) {
  const StoreField& field = store_field(id);
  if (field.type != FieldType::kBoolean) {
    throw ValidationError(
        "invalid_type", std::string(field.api_name),
        fmt::format("field '{}' must be {}, got a boolean", field.api_name, type_name(field.type)));
  }
  set_number(id, value ? 1.0 : 0.0);
}

void RawCustomer::set_category(FieldId id, std::string_view raw_value) {
  const StoreField& field = store_field(id);
  if (field.type != FieldType::kCategory) {
    throw ValidationError(
        "invalid_type", std::string(field.api_name),
        fmt::format("field '{}' must be {}, got a string", field.api_name, type_name(field.type)));
  }
  const auto level = normalize_category(id, raw_value);
  if (!level) {
    std::string allowed;
    for (const auto known : category_levels(id)) {
      allowed += allowed.empty() ? "" : ", ";
      allowed += fmt::format("\"{}\"", known);
    }
    throw ValidationError("unknown_category", std::string(field.api_name),
                          fmt::format("field '{}' has unknown value \"{}\"; expected one of {}",
                                      field.api_name, raw_value, allowed));
  }
  auto& slot = values_[index_of(id)];
  slot.present = true;
  slot.number = 0.0;
  slot.category = *level;
}

namespace {

// The field named `key`. Members usually come in one of two orders: the store's field order (the
// API's examples, the export) or byte order (what this service and nlohmann write). The field
// after `previous` (the one the previous member named; kFieldCount before the first) in either
// order is compared first, so most keys cost one comparison instead of a scan of every field.
std::optional<FieldId> next_field(std::string_view key, std::size_t previous) {
  static const auto next_in_key_order = [] {
    std::array<std::size_t, kFieldCount + 1> next{};
    const auto& order = fields_in_key_order();
    next[kFieldCount] = order[0];
    for (std::size_t k = 0; k < kFieldCount; ++k) {
      next[order[k]] = k + 1 < kFieldCount ? order[k + 1] : kFieldCount;
    }
    return next;
  }();
  const std::size_t in_field_order = previous == kFieldCount ? 0 : previous + 1;
  for (const std::size_t candidate : {in_field_order, next_in_key_order[previous]}) {
    if (candidate < kFieldCount && kStoreFields[candidate].api_name == key) {
      return kStoreFields[candidate].id;
    }
  }
  return find_field(key);
}

// Checks `key` and the JSON type of `value` and stores it: the rules every reader shares.
// `previous` is the field the previous member named (next_field()); set to this one's.
void set_from_json(RawCustomer& customer, std::string_view key, json::Value value,
                   std::size_t& previous) {
  const auto id = next_field(key, previous);
  if (!id) {
    throw ValidationError("unknown_field", std::string(key),
                          fmt::format("unknown feature '{}'; see GET /models for the fields "
                                      "a customer has",
                                      key));
  }
  previous = index_of(*id);
  const StoreField& field = store_field(*id);
  if (value.is_null()) return;  // explicit null means absent
  switch (field.type) {
    case FieldType::kNumber:
    case FieldType::kInteger:
      if (!value.is_number()) {
        throw ValidationError("invalid_type", std::string(key),
                              fmt::format("field '{}' must be {}, got {}", key,
                                          type_name(field.type), value.type_name()));
      }
      customer.set_number(*id, value.number());
      break;
    case FieldType::kBoolean:
      if (!value.is_boolean()) {
        throw ValidationError(
            "invalid_type", std::string(key),
            fmt::format("field '{}' must be a boolean, got {}", key, value.type_name()));
      }
      customer.set_boolean(*id, value.boolean());
      break;
    case FieldType::kCategory:
      if (!value.is_string()) {
        throw ValidationError(
            "invalid_type", std::string(key),
            fmt::format("field '{}' must be a string, got {}", key, value.type_name()));
      }
      customer.set_category(*id, value.string());
      break;
  }
}

}  // namespace

RawCustomer customer_from_json(const nlohmann::json& features) {
  // Tools and tests hold documents; the service reads tapes. One set of rules: the document is
  // read through its text (the depth is already bounded by the document itself).
  const std::string text = features.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  const auto document = json::Document::parse(text, std::numeric_limits<std::size_t>::max());
  return customer_from_json(document.root());
}

RawCustomer customer_from_json(json::Value features) {
  if (!features.is_object()) {
    throw ValidationError("invalid_type", "features", "'features' must be a JSON object");
  }
  RawCustomer customer;
  std::size_t previous = kFieldCount;
  features.for_each_member([&customer, &previous](std::string_view key, json::Value value) {
    set_from_json(customer, key, value, previous);
  });
  return customer;
}

void write_customer(json::Writer& writer, const RawCustomer& customer) {
  // Members in the order nlohmann sorts them (customer_to_json), so both write the same text.
  writer.begin_object();
  for (const std::size_t index : fields_in_key_order()) {
    const StoreField& field = kStoreFields[index];
    if (!customer.has(field.id)) continue;
    writer.key(field.api_name);
    write_field_value(writer, customer, field);
  }
  writer.end_object();
}

void write_field_value(json::Writer& writer, const RawCustomer& customer, const StoreField& field) {
  switch (field.type) {
    case FieldType::kNumber:
      writer.number(customer.number(field.id));
      break;
    case FieldType::kInteger: {
      const double value = customer.number(field.id);
      if (std::abs(value) < kLargestExactInteger) {
        writer.integer(static_cast<long long>(value));
      } else {
        writer.number(value);
      }
      break;
    }
    case FieldType::kBoolean:
      writer.boolean(customer.boolean(field.id));
      break;
    case FieldType::kCategory:
      writer.string(customer.category(field.id));
      break;
  }
}

std::string customer_to_json_text(const RawCustomer& customer) {
  std::string out;
  json::Writer writer(out);
  write_customer(writer, customer);
  return out;
}

RawCustomer customer_from_json_text(std::string_view text) {
  const auto document = json::Document::parse(text, kMaxCustomerJsonDepth);
  return customer_from_json(document.root());
}

nlohmann::json customer_to_json(const RawCustomer& customer) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& field : kStoreFields) {
    if (!customer.has(field.id)) continue;
    const std::string key(field.api_name);
    switch (field.type) {
      case FieldType::kNumber:
        out[key] = customer.number(field.id);
        break;
      case FieldType::kInteger: {
        // Exactly representable whole numbers print as integers; larger ones stay doubles.
        const double value = customer.number(field.id);
        if (std::abs(value) < kLargestExactInteger) {
          out[key] = static_cast<long long>(value);
        } else {
          out[key] = value;
        }
        break;
      }
      case FieldType::kBoolean:
        out[key] = customer.boolean(field.id);
        break;
      case FieldType::kCategory:
        out[key] = std::string(customer.category(field.id));
        break;
    }
  }
  return out;
}

}  // namespace nbo::features
