#include "nbo/features/pipeline.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace nbo::features {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using json = nlohmann::json;

FeatureSpec numeric(FieldId field, double center, double scale,
                    Transform transform = Transform::kIdentity) {
  FeatureSpec spec;
  spec.field = field;
  spec.encoding = Encoding::kNumeric;
  spec.transform = transform;
  spec.center = center;
  spec.scale = scale;
  return spec;
}

FeatureSpec one_hot(FieldId field, std::vector<std::string> levels,
                    UnseenPolicy unseen = UnseenPolicy::kReject) {
  FeatureSpec spec;
  spec.field = field;
  spec.encoding = Encoding::kOneHot;
  spec.levels = std::move(levels);
  spec.unseen = unseen;
  return spec;
}

// service_type (2 levels), promo_share, popular_category (3 of 6 levels), revenue (log1p),
// allow_messages (boolean as numeric), minutes (impute).
std::vector<FeatureSpec> example_specs() {
  std::vector<FeatureSpec> specs;
  specs.push_back(one_hot(FieldId::kServiceType, {"стандарт", "премиум"}));
  specs.push_back(numeric(FieldId::kPromoShare, 0.3, 0.2));
  specs.push_back(one_hot(FieldId::kPopularCategory,
                          {"Кухонная посуда", "Товары для детей", "Домашний текстиль"},
                          UnseenPolicy::kZeros));
  specs.push_back(numeric(FieldId::kRevenueThisMonth, 8.0, 0.5, Transform::kLog1p));
  specs.push_back(numeric(FieldId::kAllowMessages, 0.5, 0.5));
  FeatureSpec minutes = numeric(FieldId::kMinutesThisMonth, 12.0, 4.0);
  minutes.missing = MissingPolicy::kImpute;
  minutes.impute_number = 14.0;
  specs.push_back(minutes);
  return specs;
}

RawCustomer example_customer() {
  RawCustomer c;
  c.set_category(FieldId::kServiceType, "премиум");
  c.set_number(FieldId::kPromoShare, 0.9);
  c.set_category(FieldId::kPopularCategory, "Товары для детей");
  c.set_number(FieldId::kRevenueThisMonth, 4000.0);
  c.set_boolean(FieldId::kAllowMessages, false);
  c.set_number(FieldId::kMinutesThisMonth, 20);
  c.set_number(FieldId::kTenureDays, 500);  // not in the pipeline: ignored
  return c;
}

std::vector<double> transform(const Pipeline& pipeline, const RawCustomer& customer,
                              std::vector<FieldId>* imputed = nullptr) {
  std::vector<double> row(pipeline.column_count(), -999.0);
  pipeline.transform(customer, row, imputed);
  return row;
}

// The message of the std::invalid_argument that `make` throws.
template <typename F>
std::string invalid_argument_message(F make) {
  try {
    make();
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  ADD_FAILURE() << "no std::invalid_argument";
  return {};
}

TEST(PipelineTest, ColumnsFollowSpecOrderAndLevelOrder) {
  const Pipeline pipeline(example_specs());
  EXPECT_EQ(pipeline.specs().size(), 6u);
  ASSERT_EQ(pipeline.column_count(), 9u);
  EXPECT_THAT(pipeline.column_names(),
              ElementsAre("service_type=стандарт", "service_type=премиум", "promo_share",
                          "popular_category=Кухонная посуда",
                          "popular_category=Товары для детей",
                          "popular_category=Домашний текстиль", "revenue_this_month",
                          "allow_messages", "minutes_this_month"));
  EXPECT_THAT(pipeline.column_spec(), ElementsAre(0u, 0u, 1u, 2u, 2u, 2u, 3u, 4u, 5u));
}

TEST(PipelineTest, TransformsAHandMadeCustomer) {
  const Pipeline pipeline(example_specs());
  std::vector<FieldId> imputed;
  const auto row = transform(pipeline, example_customer(), &imputed);
  ASSERT_EQ(row.size(), 9u);
  EXPECT_EQ(row[0], 0.0);
  EXPECT_EQ(row[1], 1.0);
  EXPECT_NEAR(row[2], (0.9 - 0.3) / 0.2, 1e-12);
  EXPECT_EQ(row[3], 0.0);
  EXPECT_EQ(row[4], 1.0);
  EXPECT_EQ(row[5], 0.0);
  EXPECT_NEAR(row[6], (std::log(4001.0) - 8.0) / 0.5, 1e-12);
  EXPECT_NEAR(row[7], (0.0 - 0.5) / 0.5, 1e-12);
  EXPECT_NEAR(row[8], (20.0 - 12.0) / 4.0, 1e-12);
  EXPECT_TRUE(imputed.empty());
}

TEST(PipelineTest, RejectsRowOfTheWrongSize) {
  const Pipeline pipeline(example_specs());
  std::vector<double> row(pipeline.column_count() + 1);
  EXPECT_THROW(pipeline.transform(example_customer(), row), std::invalid_argument);
  std::vector<double> small(pipeline.column_count() - 1);
  EXPECT_THROW(pipeline.transform(example_customer(), small), std::invalid_argument);
}

TEST(PipelineTest, MissingFieldUnderRejectIsMissingField) {
  const Pipeline pipeline(example_specs());
  for (const FieldId field : {FieldId::kPromoShare, FieldId::kServiceType,
                              FieldId::kAllowMessages, FieldId::kPopularCategory}) {
    RawCustomer customer = example_customer();
    customer.clear(field);
    try {
      transform(pipeline, customer);
      ADD_FAILURE() << "no error for absent " << store_field(field).api_name;
    } catch (const ValidationError& error) {
      EXPECT_EQ(error.code(), "missing_field");
      EXPECT_EQ(error.field(), store_field(field).api_name);
    }
  }
  // A field outside the pipeline may be absent.
  RawCustomer customer = example_customer();
  customer.clear(FieldId::kTenureDays);
  EXPECT_NO_THROW(transform(pipeline, customer));
}

TEST(PipelineTest, MissingFieldUnderImputeTakesTheImputeValueAndIsReported) {
  auto specs = example_specs();
  specs[0].missing = MissingPolicy::kImpute;
  specs[0].impute_level = "стандарт";
  const Pipeline pipeline(specs);

  RawCustomer customer = example_customer();
  customer.clear(FieldId::kMinutesThisMonth);
  customer.clear(FieldId::kServiceType);
  std::vector<FieldId> imputed;
  const auto row = transform(pipeline, customer, &imputed);
  EXPECT_THAT(imputed, ElementsAre(FieldId::kServiceType, FieldId::kMinutesThisMonth));
  EXPECT_EQ(row[0], 1.0);  // imputed level
  EXPECT_EQ(row[1], 0.0);
  EXPECT_NEAR(row[8], (14.0 - 12.0) / 4.0, 1e-12);  // impute value 14, then standardized
  // The same values given explicitly give the same row, and nothing is reported imputed.
  RawCustomer explicit_customer = customer;
  explicit_customer.set_number(FieldId::kMinutesThisMonth, 14);
  explicit_customer.set_category(FieldId::kServiceType, "стандарт");
  std::vector<FieldId> none;
  EXPECT_EQ(transform(pipeline, explicit_customer, &none), row);
  EXPECT_TRUE(none.empty());
  // Without an `imputed` list the transform still works.
  EXPECT_EQ(transform(pipeline, customer), row);
}

TEST(PipelineTest, UnseenLevelUnderRejectIsUnknownCategory) {
  const Pipeline pipeline(example_specs());
  RawCustomer customer = example_customer();
  customer.set_category(FieldId::kServiceType, "стандарт");
  EXPECT_NO_THROW(transform(pipeline, customer));
  // A pipeline that only saw "стандарт" rejects a valid but unseen "премиум".
  auto specs = example_specs();
  specs[0].levels = {"стандарт"};
  const Pipeline narrow(specs);
  customer.set_category(FieldId::kServiceType, "премиум");
  try {
    transform(narrow, customer);
    ADD_FAILURE() << "unseen level accepted";
  } catch (const ValidationError& error) {
    EXPECT_EQ(error.code(), "unknown_category");
    EXPECT_EQ(error.field(), "service_type");
    EXPECT_THAT(error.what(), HasSubstr("премиум"));
  }
}

TEST(PipelineTest, UnseenLevelUnderZerosEncodesAsAllZeros) {
  const Pipeline pipeline(example_specs());
  RawCustomer customer = example_customer();
  customer.set_category(FieldId::kPopularCategory, "Мелкая бытовая техника и электроника");
  const auto row = transform(pipeline, customer);
  EXPECT_EQ(row[3], 0.0);
  EXPECT_EQ(row[4], 0.0);
  EXPECT_EQ(row[5], 0.0);
  // The other columns are those of the seen-level customer.
  const auto seen = transform(pipeline, example_customer());
  for (const std::size_t column : {0u, 1u, 2u, 6u, 7u, 8u}) EXPECT_EQ(row[column], seen[column]);
}

TEST(PipelineConstructorTest, RejectsEachInvalidSpecKind) {
  struct Case {
    const char* what;
    std::vector<FeatureSpec> specs;
    const char* expected;  // substring of the message
  };
  std::vector<Case> cases;
  cases.push_back({"empty", {}, "must not be empty"});
  {
    auto specs = example_specs();
    specs.push_back(numeric(FieldId::kProfit, 0, 1));
    cases.push_back({"profit is not a model input", specs, "not a model input"});
  }
  {
    auto specs = example_specs();
    specs.push_back(numeric(FieldId::kPromoShare, 0, 1));
    cases.push_back({"duplicate field", specs, "appears twice"});
  }
  {
    auto specs = example_specs();
    specs[0] = numeric(FieldId::kServiceType, 0, 1);
    cases.push_back({"category as numeric", specs, "needs one_hot"});
  }
  {
    auto specs = example_specs();
    specs[1] = one_hot(FieldId::kPromoShare, {"0.5"});
    cases.push_back({"number as one-hot", specs, "only categorical"});
  }
  {
    auto specs = example_specs();
    specs[1].center = std::numeric_limits<double>::infinity();
    cases.push_back({"non-finite center", specs, "center must be finite"});
  }
  {
    auto specs = example_specs();
    specs[1].center = std::numeric_limits<double>::quiet_NaN();
    cases.push_back({"NaN center", specs, "center must be finite"});
  }
  for (const double scale : {0.0, -1.0, std::numeric_limits<double>::quiet_NaN(),
                             std::numeric_limits<double>::infinity()}) {
    auto specs = example_specs();
    specs[1].scale = scale;
    cases.push_back({"bad scale", specs, "scale must be > 0"});
  }
  {
    auto specs = example_specs();
    specs[5].impute_number = 2.5;  // minutes are integers
    cases.push_back({"non-integer impute", specs, "impute value"});
  }
  {
    auto specs = example_specs();
    specs[1].missing = MissingPolicy::kImpute;
    specs[1].impute_number = 1.5;  // promo_share is in [0, 1]
    cases.push_back({"out-of-range impute", specs, "impute value"});
  }
  {
    auto specs = example_specs();
    specs[0].levels.clear();
    cases.push_back({"no levels", specs, "levels must not be empty"});
  }
  {
    auto specs = example_specs();
    specs[0].levels = {"стандартт", "премиум"};  // misspelling, not the canonical level
    cases.push_back({"misspelt level", specs, "not a canonical level"});
  }
  {
    auto specs = example_specs();
    specs[0].levels = {"стандарт", "gold"};
    cases.push_back({"unknown level", specs, "not a canonical level"});
  }
  {
    auto specs = example_specs();
    specs[0].levels = {"стандарт", "премиум", "стандарт"};
    cases.push_back({"duplicate level", specs, "appears twice"});
  }
  {
    auto specs = example_specs();
    specs[2].missing = MissingPolicy::kImpute;
    specs[2].impute_level = "Мелкая бытовая техника и электроника";  // valid, but not listed
    cases.push_back({"impute level not listed", specs, "impute level"});
  }
  for (const auto& c : cases) {
    const std::string message = invalid_argument_message([&] { Pipeline pipeline(c.specs); });
    EXPECT_THAT(message, HasSubstr(c.expected)) << c.what;
    if (!c.specs.empty()) {
      EXPECT_THAT(message, HasSubstr("pipeline.features[")) << c.what;
    }
  }
}

TEST(PipelineConstructorTest, ErrorNamesTheSpecIndexAndField) {
  auto specs = example_specs();
  specs[3].scale = 0.0;
  const std::string message = invalid_argument_message([&] { Pipeline pipeline(specs); });
  EXPECT_THAT(message, HasSubstr("pipeline.features[3]"));
  EXPECT_THAT(message, HasSubstr("revenue_this_month"));
}

TEST(PipelineJsonTest, ToJsonLayout) {
  const json out = Pipeline(example_specs()).to_json();
  ASSERT_TRUE(out.at("features").is_array());
  ASSERT_EQ(out.at("features").size(), 6u);
  const json& service = out["features"][0];
  EXPECT_EQ(service.at("name"), "service_type");
  EXPECT_EQ(service.at("encoding"), "one_hot");
  EXPECT_EQ(service.at("levels"), json::array({"стандарт", "премиум"}));
  EXPECT_EQ(service.at("unseen"), "reject");
  EXPECT_EQ(service.at("missing"), json({{"policy", "reject"}}));
  const json& revenue = out["features"][3];
  EXPECT_EQ(revenue.at("encoding"), "numeric");
  EXPECT_EQ(revenue.at("transform"), "log1p");
  EXPECT_EQ(revenue.at("center"), 8.0);
  EXPECT_EQ(revenue.at("scale"), 0.5);
  EXPECT_EQ(out["features"][2].at("unseen"), "zeros");
  EXPECT_EQ(out["features"][5].at("missing"), json({{"policy", "impute"}, {"value", 14.0}}));
}

TEST(PipelineJsonTest, RoundTripGivesIdenticalTransforms) {
  auto specs = example_specs();
  specs[0].missing = MissingPolicy::kImpute;
  specs[0].impute_level = "премиум";
  specs[1].center = 0.1 + 0.2;  // not exactly representable in short decimal
  specs[1].scale = 1.0 / 3.0;
  const Pipeline original(specs);
  const Pipeline copy = Pipeline::from_json(json::parse(original.to_json().dump()));
  EXPECT_EQ(copy.column_names(), original.column_names());
  EXPECT_EQ(copy.column_spec(), original.column_spec());
  EXPECT_EQ(copy.to_json(), original.to_json());

  std::vector<RawCustomer> customers{example_customer()};
  RawCustomer unseen = example_customer();
  unseen.set_category(FieldId::kPopularCategory, "Кухонная посуда");
  unseen.set_number(FieldId::kRevenueThisMonth, 0.0);
  customers.push_back(unseen);
  RawCustomer missing = example_customer();
  missing.clear(FieldId::kServiceType);
  missing.clear(FieldId::kMinutesThisMonth);
  customers.push_back(missing);
  for (const auto& customer : customers) {
    std::vector<FieldId> imputed_original;
    std::vector<FieldId> imputed_copy;
    const auto a = transform(original, customer, &imputed_original);
    const auto b = transform(copy, customer, &imputed_copy);
    EXPECT_EQ(a, b);  // bit-identical
    EXPECT_EQ(imputed_original, imputed_copy);
  }
}

TEST(PipelineJsonTest, FromJsonErrorsCarryAJsonPath) {
  const json valid = Pipeline(example_specs()).to_json();
  struct Case {
    const char* what;
    json document;
    const char* expected;
  };
  std::vector<Case> cases;
  cases.push_back({"not an object", json::array(), "pipeline: must be an object"});
  cases.push_back({"no features", json::object(), "pipeline.features: is required"});
  cases.push_back({"features not array", json{{"features", 1}}, "pipeline.features: must be an array"});
  cases.push_back({"empty features", json{{"features", json::array()}}, "pipeline.features: must not be empty"});
  auto mutate = [&](const char* what, auto&& change, const char* expected) {
    json document = valid;
    change(document["features"]);
    cases.push_back({what, document, expected});
  };
  mutate("item not object", [](json& f) { f[2] = 5; }, "pipeline.features[2]: must be an object");
  mutate("no name", [](json& f) { f[1].erase("name"); }, "pipeline.features[1].name: is required");
  mutate("name not string", [](json& f) { f[1]["name"] = 7; }, "pipeline.features[1].name: must be a string");
  mutate("unknown field", [](json& f) { f[1]["name"] = "shoe_size"; }, "pipeline.features[1].name: unknown field 'shoe_size'");
  mutate("bad encoding", [](json& f) { f[1]["encoding"] = "binned"; }, "pipeline.features[1].encoding: unknown value \"binned\"");
  mutate("no missing", [](json& f) { f[4].erase("missing"); }, "pipeline.features[4].missing: is required");
  mutate("missing not object", [](json& f) { f[4]["missing"] = "reject"; }, "pipeline.features[4].missing: must be an object");
  mutate("bad missing policy", [](json& f) { f[4]["missing"]["policy"] = "drop"; }, "pipeline.features[4].missing.policy: unknown value \"drop\"");
  mutate("no transform", [](json& f) { f[3].erase("transform"); }, "pipeline.features[3].transform: is required");
  mutate("bad transform", [](json& f) { f[3]["transform"] = "sqrt"; }, "pipeline.features[3].transform: unknown value \"sqrt\"");
  mutate("center string", [](json& f) { f[1]["center"] = "0.3"; }, "pipeline.features[1].center: must be a number");
  mutate("no scale", [](json& f) { f[1].erase("scale"); }, "pipeline.features[1].scale: is required");
  mutate("impute without value", [](json& f) { f[5]["missing"].erase("value"); }, "pipeline.features[5].missing.value: is required");
  mutate("levels not array", [](json& f) { f[0]["levels"] = "стандарт"; }, "pipeline.features[0].levels: must be an array");
  mutate(
      "levels not strings", [](json& f) { f[0]["levels"][1] = 2; },
      "pipeline.features[0].levels[1]: must be a string, got 2");
  mutate("bad unseen", [](json& f) { f[2]["unseen"] = "ignore"; }, "pipeline.features[2].unseen: unknown value \"ignore\"");
  mutate("zero scale", [](json& f) { f[3]["scale"] = 0; }, "pipeline.features[3]");
  mutate("unknown level", [](json& f) { f[2]["levels"][0] = "Книги"; }, "pipeline.features[2]");
  mutate("duplicate field", [](json& f) { f[4]["name"] = "promo_share"; }, "pipeline.features[4]");
  for (const auto& c : cases) {
    const std::string message =
        invalid_argument_message([&] { Pipeline::from_json(c.document); });
    EXPECT_THAT(message, HasSubstr(c.expected)) << c.what;
  }
}

}  // namespace
}  // namespace nbo::features
