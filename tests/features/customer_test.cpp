#include "nbo/features/customer.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace nbo::features {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

// A complete, valid customer in API form.
json full_customer() {
  return json{
      {"service_type", "премиум"},
      {"allow_messages", true},
      {"marketing_activity_6m", 4.4},
      {"marketing_activity_current", 4},
      {"tenure_days", 819},
      {"promo_share", 0.75},
      {"popular_category", "Товары для детей"},
      {"avg_categories_per_visit", 4},
      {"unpaid_items_quarter", 4},
      {"service_errors", 2},
      {"pages_per_visit", 5},
      {"revenue_2_months_ago", 4472.0},
      {"revenue_last_month", 5216.0},
      {"revenue_this_month", 4971.6},
      {"minutes_last_month", 12},
      {"minutes_this_month", 10},
      {"profit", 4.16},
  };
}

// Runs customer_from_json and returns the ValidationError it throws (fails the test if none).
ValidationError rejection(const json& features) {
  try {
    customer_from_json(features);
  } catch (const ValidationError& error) {
    return error;
  }
  ADD_FAILURE() << "no ValidationError for " << features.dump();
  return ValidationError("", "", "");
}

TEST(StoreFieldsTest, TableIsIndexedByIdAndNamesAreUnique) {
  const auto fields = store_fields();
  ASSERT_EQ(fields.size(), kFieldCount);
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    EXPECT_EQ(index_of(fields[i].id), i);
    EXPECT_TRUE(names.insert(fields[i].api_name).second) << fields[i].api_name;
    EXPECT_EQ(find_field(fields[i].api_name), fields[i].id);
  }
  EXPECT_FALSE(find_field("Тип сервиса").has_value());  // export column, not an API name
  EXPECT_FALSE(find_field("").has_value());
  EXPECT_FALSE(store_field(FieldId::kProfit).model_input);
  EXPECT_TRUE(store_field(FieldId::kPromoShare).model_input);
}

TEST(StoreFieldsTest, CategoryLevelsAndMisspellings) {
  EXPECT_EQ(category_levels(FieldId::kServiceType).size(), 2u);
  EXPECT_EQ(category_levels(FieldId::kPopularCategory).size(), 6u);
  EXPECT_TRUE(category_levels(FieldId::kTenureDays).empty());
  EXPECT_EQ(normalize_category(FieldId::kServiceType, "стандартт"), "стандарт");
  EXPECT_EQ(normalize_category(FieldId::kServiceType, "премиум"), "премиум");
  EXPECT_EQ(normalize_category(FieldId::kPopularCategory, "Косметика и аксессуары"),
            "Косметика и аксесуары");
  EXPECT_FALSE(normalize_category(FieldId::kServiceType, "Стандарт").has_value());
  EXPECT_FALSE(normalize_category(FieldId::kServiceType, "премиумм").has_value());
  // An alias of one field is not a level of another.
  EXPECT_FALSE(normalize_category(FieldId::kPopularCategory, "стандартт").has_value());
}

TEST(CustomerFromJsonTest, ParsesEveryFieldOfAFullCustomer) {
  const RawCustomer customer = customer_from_json(full_customer());
  for (const auto& field : store_fields()) EXPECT_TRUE(customer.has(field.id)) << field.api_name;
  EXPECT_EQ(customer.category(FieldId::kServiceType), "премиум");
  EXPECT_TRUE(customer.boolean(FieldId::kAllowMessages));
  EXPECT_EQ(customer.number(FieldId::kAllowMessages), 1.0);
  EXPECT_DOUBLE_EQ(customer.number(FieldId::kMarketingActivity6m), 4.4);
  EXPECT_EQ(customer.number(FieldId::kTenureDays), 819.0);
  EXPECT_DOUBLE_EQ(customer.number(FieldId::kPromoShare), 0.75);
  EXPECT_EQ(customer.category(FieldId::kPopularCategory), "Товары для детей");
  EXPECT_DOUBLE_EQ(customer.number(FieldId::kRevenueThisMonth), 4971.6);
  EXPECT_DOUBLE_EQ(customer.number(FieldId::kProfit), 4.16);
}

// Members are looked up after the previous member's field first (store order, byte order): any
// other order, and unknown names among known ones, must read as they always did.
TEST(CustomerFromJsonTest, MemberOrderDoesNotChangeTheCustomer) {
  const json full = full_customer();
  const RawCustomer expected = customer_from_json(full);  // byte order (nlohmann's)
  const auto text_in = [&](const std::vector<std::size_t>& order) {
    std::string text = "{";
    for (const std::size_t i : order) {
      const std::string name(store_fields()[i].api_name);
      if (text.size() > 1) text += ',';
      text += json(name).dump() + ":" + full.at(name).dump();
    }
    return text + "}";
  };
  std::vector<std::size_t> order(kFieldCount);
  for (std::size_t i = 0; i < kFieldCount; ++i) order[i] = i;
  EXPECT_EQ(customer_from_json_text(text_in(order)), expected) << "store order";
  std::reverse(order.begin(), order.end());
  EXPECT_EQ(customer_from_json_text(text_in(order)), expected) << "reversed";
  std::rotate(order.begin(), order.begin() + 7, order.end());
  EXPECT_EQ(customer_from_json_text(text_in(order)), expected) << "rotated";

  std::string with_unknown = text_in({0, 1});
  with_unknown.insert(with_unknown.size() - 1, R"(,"service_typ":1)");
  const auto error = [&] {
    try {
      customer_from_json_text(with_unknown);
    } catch (const ValidationError& thrown) {
      return thrown;
    }
    ADD_FAILURE() << "no ValidationError for " << with_unknown;
    return ValidationError("", "", "");
  }();
  EXPECT_EQ(error.code(), "unknown_field");
  EXPECT_EQ(error.field(), "service_typ");
}


TEST(CustomerFromJsonTest, AbsentAndNullFieldsStayAbsent) {
  json features = full_customer();
  features.erase("tenure_days");
  features["promo_share"] = nullptr;
  features["service_type"] = nullptr;
  const RawCustomer customer = customer_from_json(features);
  EXPECT_FALSE(customer.has(FieldId::kTenureDays));
  EXPECT_FALSE(customer.has(FieldId::kPromoShare));
  EXPECT_FALSE(customer.has(FieldId::kServiceType));
  EXPECT_TRUE(customer.has(FieldId::kPagesPerVisit));

  const RawCustomer empty = customer_from_json(json::object());
  for (const auto& field : store_fields()) EXPECT_FALSE(empty.has(field.id));
  EXPECT_EQ(empty, RawCustomer{});
}

TEST(CustomerFromJsonTest, NotAnObjectIsInvalidType) {
  for (const json& bad : {json::array({1, 2}), json("x"), json(3), json(nullptr)}) {
    const auto error = rejection(bad);
    EXPECT_EQ(error.code(), "invalid_type") << bad.dump();
    EXPECT_EQ(error.field(), "features") << bad.dump();
  }
}

TEST(CustomerFromJsonTest, UnknownFieldNamesTheField) {
  json features = full_customer();
  features["favourite_colour"] = "green";
  const auto error = rejection(features);
  EXPECT_EQ(error.code(), "unknown_field");
  EXPECT_EQ(error.field(), "favourite_colour");
  EXPECT_THAT(error.what(), HasSubstr("favourite_colour"));

  // Export column names are not API names.
  const auto by_column = rejection(json{{"Длительность", 100}});
  EXPECT_EQ(by_column.code(), "unknown_field");
  EXPECT_EQ(by_column.field(), "Длительность");
}

TEST(CustomerFromJsonTest, WrongJsonTypesAreInvalidType) {
  struct Case {
    const char* field;
    json value;
  };
  const Case cases[] = {
      {"tenure_days", "819"},               // integer as string
      {"promo_share", true},                // number as boolean
      {"promo_share", json::array({0.5})},  // number as array
      {"allow_messages", "да"},             // boolean as export text
      {"allow_messages", 1},                // boolean as number
      {"service_type", 1},                  // category as number
      {"popular_category", json::object()},  // category as object
      {"profit", "4,16"},
  };
  for (const auto& c : cases) {
    json features = full_customer();
    features[c.field] = c.value;
    const auto error = rejection(features);
    EXPECT_EQ(error.code(), "invalid_type") << c.field << "=" << c.value.dump();
    EXPECT_EQ(error.field(), c.field) << c.value.dump();
    EXPECT_THAT(error.what(), HasSubstr(c.field));
  }
}

TEST(CustomerFromJsonTest, NonIntegerForIntegerFieldIsInvalidType) {
  for (const char* field : {"tenure_days", "marketing_activity_current", "avg_categories_per_visit",
                            "unpaid_items_quarter", "service_errors", "pages_per_visit",
                            "minutes_last_month", "minutes_this_month"}) {
    json features = full_customer();
    features[field] = 2.5;
    const auto error = rejection(features);
    EXPECT_EQ(error.code(), "invalid_type") << field;
    EXPECT_EQ(error.field(), field);
    EXPECT_THAT(error.what(), HasSubstr("integer"));
  }
  // A whole number written with a fraction part is still an integer.
  json features = full_customer();
  features["tenure_days"] = 600.0;
  EXPECT_EQ(customer_from_json(features).number(FieldId::kTenureDays), 600.0);
  // Number fields take fractions.
  features["marketing_activity_6m"] = 2.5;
  EXPECT_EQ(customer_from_json(features).number(FieldId::kMarketingActivity6m), 2.5);
}

TEST(CustomerFromJsonTest, OutOfRangeNamesTheField) {
  struct Case {
    const char* field;
    json value;
  };
  const Case cases[] = {
      {"promo_share", 1.0000001}, {"promo_share", -0.01},        {"tenure_days", -1},
      {"revenue_this_month", -0.5}, {"minutes_last_month", -3},   {"marketing_activity_6m", -1e-9},
      {"service_errors", -1},
  };
  for (const auto& c : cases) {
    json features = full_customer();
    features[c.field] = c.value;
    const auto error = rejection(features);
    EXPECT_EQ(error.code(), "out_of_range") << c.field << "=" << c.value.dump();
    EXPECT_EQ(error.field(), c.field);
  }
  // Bounds are inclusive; profit is unbounded.
  json features = full_customer();
  features["promo_share"] = 1.0;
  features["tenure_days"] = 0;
  features["profit"] = -12.5;
  const RawCustomer edge = customer_from_json(features);
  EXPECT_EQ(edge.number(FieldId::kPromoShare), 1.0);
  EXPECT_EQ(edge.number(FieldId::kTenureDays), 0.0);
  EXPECT_EQ(edge.number(FieldId::kProfit), -12.5);
}

TEST(CustomerFromJsonTest, UnknownCategoryNamesFieldAndListsLevels) {
  json features = full_customer();
  features["popular_category"] = "Книги";
  const auto error = rejection(features);
  EXPECT_EQ(error.code(), "unknown_category");
  EXPECT_EQ(error.field(), "popular_category");
  EXPECT_THAT(error.what(), HasSubstr("Книги"));
  EXPECT_THAT(error.what(), HasSubstr("Кухонная посуда"));

  features = full_customer();
  features["service_type"] = "gold";
  const auto service = rejection(features);
  EXPECT_EQ(service.code(), "unknown_category");
  EXPECT_EQ(service.field(), "service_type");
}

TEST(CustomerFromJsonTest, KnownMisspellingsAreNormalized) {
  json features = full_customer();
  features["service_type"] = "стандартт";
  features["popular_category"] = "Косметика и аксессуары";
  const RawCustomer customer = customer_from_json(features);
  EXPECT_EQ(customer.category(FieldId::kServiceType), "стандарт");
  EXPECT_EQ(customer.category(FieldId::kPopularCategory), "Косметика и аксесуары");
  // The normalized customer is indistinguishable from one given the canonical spelling.
  features["service_type"] = "стандарт";
  features["popular_category"] = "Косметика и аксесуары";
  EXPECT_EQ(customer, customer_from_json(features));
}

TEST(RawCustomerSettersTest, ValidateLikeTheParser) {
  RawCustomer customer;
  EXPECT_THROW(customer.set_number(FieldId::kServiceType, 1.0), ValidationError);
  EXPECT_THROW(customer.set_category(FieldId::kTenureDays, "x"), ValidationError);
  EXPECT_THROW(customer.set_boolean(FieldId::kTenureDays, true), ValidationError);
  try {
    customer.set_number(FieldId::kRevenueLastMonth, std::numeric_limits<double>::quiet_NaN());
    ADD_FAILURE() << "NaN accepted";
  } catch (const ValidationError& error) {
    EXPECT_EQ(error.code(), "invalid_value");
    EXPECT_EQ(error.field(), "revenue_last_month");
  }
  EXPECT_THROW(customer.set_number(FieldId::kProfit, std::numeric_limits<double>::infinity()),
               ValidationError);
  EXPECT_FALSE(customer.has(FieldId::kRevenueLastMonth));  // failed sets leave nothing behind

  customer.set_number(FieldId::kTenureDays, 10);
  customer.set_boolean(FieldId::kAllowMessages, false);
  customer.set_category(FieldId::kServiceType, "стандартт");
  EXPECT_EQ(customer.number(FieldId::kTenureDays), 10.0);
  EXPECT_TRUE(customer.has(FieldId::kAllowMessages));
  EXPECT_FALSE(customer.boolean(FieldId::kAllowMessages));
  EXPECT_EQ(customer.category(FieldId::kServiceType), "стандарт");
  customer.clear(FieldId::kTenureDays);
  EXPECT_FALSE(customer.has(FieldId::kTenureDays));
}

TEST(CustomerToJsonTest, WritesPresentFieldsWithApiNamesAndTypes) {
  json features = full_customer();
  features["service_type"] = "стандартт";
  features.erase("profit");
  const json out = customer_to_json(customer_from_json(features));
  EXPECT_EQ(out.size(), kFieldCount - 1);
  EXPECT_FALSE(out.contains("profit"));
  EXPECT_EQ(out.at("service_type"), "стандарт");  // canonical spelling
  EXPECT_TRUE(out.at("allow_messages").is_boolean());
  EXPECT_TRUE(out.at("tenure_days").is_number_integer());
  EXPECT_EQ(out.at("tenure_days"), 819);
  EXPECT_TRUE(out.at("promo_share").is_number_float());
  EXPECT_EQ(customer_to_json(RawCustomer{}), json::object());
}

TEST(CustomerToJsonTest, RoundTripGivesTheSameCustomer) {
  json partial = full_customer();
  partial.erase("revenue_last_month");
  partial["allow_messages"] = false;
  for (const json& features : {full_customer(), partial, json::object()}) {
    const RawCustomer customer = customer_from_json(features);
    const json written = customer_to_json(customer);
    EXPECT_EQ(customer_from_json(written), customer) << written.dump();
    // Through text too, as a client would send it back.
    EXPECT_EQ(customer_from_json(json::parse(written.dump())), customer);
  }
}

TEST(CustomerToJsonTest, RoundTripKeepsLargeIntegerValues) {
  // Integer fields are bounded only below; a whole number beyond the range of long long is
  // accepted by the parser, so writing it back must not change (or overflow) it.
  json features{{"tenure_days", 1e19}, {"pages_per_visit", 123456789012.0}};
  const RawCustomer customer = customer_from_json(features);
  ASSERT_EQ(customer.number(FieldId::kTenureDays), 1e19);
  const json written = customer_to_json(customer);
  EXPECT_EQ(written.at("pages_per_visit"), 123456789012LL);
  EXPECT_EQ(written.at("tenure_days").get<double>(), 1e19) << written.dump();
  EXPECT_NO_THROW({ EXPECT_EQ(customer_from_json(written), customer); }) << written.dump();
}

}  // namespace
}  // namespace nbo::features
