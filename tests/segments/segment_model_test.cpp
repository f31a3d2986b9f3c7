// The segments file: assignment by the decision list at every boundary, value at risk, missing
// profit, validation of the parts, and the loader's errors naming the file and JSON path.
#include "nbo/segments/segment_model.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "nbo/features/customer.hpp"
#include "nbo/models/churn_model.hpp"
#include "nbo/models/registry.hpp"
#include "support/temp_dir.hpp"

namespace nbo::segments {
namespace {

using features::FieldId;
using features::RawCustomer;
using nlohmann::json;

Condition probability_at_least(double value) {
  return {std::string(kProbabilityInput), Operator::kGreaterEqual, value, ""};
}
Condition profit_at_least(double value) {
  return {"profit", Operator::kGreaterEqual, value, ""};
}
Condition profit_below(double value) {
  return {"profit", Operator::kLess, value, ""};
}

// A small decision list shaped like the trainer's: probability 0.5 x profit 4, one behavioural
// sub-group (unpaid items >= 3.5), one category sub-group, the profit-unknown segment, and the
// catch-all.
SegmentModel small_model() {
  std::vector<Action> actions{{"cart_reminders", "Reminders", "remind"},
                              {"retention_offer", "Retention", "keep them"},
                              {"category_offers", "Category", "offers"},
                              {"record_profit", "Record profit", "record it"},
                              {"no_action", "No campaign", "nothing"}};
  std::vector<Segment> segments;
  segments.push_back({"hv_risk_unpaid",
                      "High-value at risk: unpaid",
                      "",
                      {probability_at_least(0.5),
                       profit_at_least(4.0),
                       {"unpaid_items_quarter", Operator::kGreaterEqual, 3.5, ""}},
                      {{"cart_reminders", "54% vs 24%"}, {"retention_offer", "value"}},
                      {}});
  segments.push_back({"hv_risk_kids",
                      "High-value at risk: kids",
                      "",
                      {probability_at_least(0.5),
                       profit_at_least(4.0),
                       {"popular_category", Operator::kEqual, 0.0, "Товары для детей"}},
                      {{"category_offers", "34% vs 23%"}},
                      {}});
  segments.push_back({"hv_risk",
                      "High-value at risk",
                      "",
                      {probability_at_least(0.5), profit_at_least(4.0)},
                      {{"retention_offer", "value"}},
                      {}});
  segments.push_back({"lv_risk",
                      "Lower-value at risk",
                      "",
                      {probability_at_least(0.5), profit_below(4.0)},
                      {},
                      {}});
  segments.push_back({"risk_unknown",
                      "At risk, profit unknown",
                      "",
                      {probability_at_least(0.5), {"profit", Operator::kMissing, 0.0, ""}},
                      {{"record_profit", "no profit"}},
                      {}});
  segments.push_back({"stable", "Stable", "", {}, {{"no_action", "stable"}}, {}});
  return SegmentModel({"v1", "2026-11-23T00:00:00Z", "sha256:x", "test", "churn-v1"},
                      {0.5, "half declined"}, {4.0, "natural break"}, std::move(actions),
                      std::move(segments));
}

RawCustomer customer(double profit, double unpaid, std::string_view category) {
  RawCustomer c;
  c.set_number(FieldId::kProfit, profit);
  c.set_number(FieldId::kUnpaidItemsQuarter, unpaid);
  c.set_category(FieldId::kPopularCategory, category);
  return c;
}

std::string segment_of(const SegmentModel& model, double probability, const RawCustomer& c) {
  return model.assign(probability, c).segment->id;
}

TEST(SegmentAssignment, ProbabilityThresholdBelongsToTheAtRiskSide) {
  const SegmentModel model = small_model();
  const RawCustomer c = customer(5.0, 0, "Домашний текстиль");
  EXPECT_EQ(segment_of(model, 0.5, c), "hv_risk");
  EXPECT_EQ(segment_of(model, std::nextafter(0.5, 0.0), c), "stable");
  EXPECT_EQ(segment_of(model, 1.0, c), "hv_risk");
  EXPECT_EQ(segment_of(model, 0.0, c), "stable");
}

TEST(SegmentAssignment, ProfitThresholdBelongsToTheHighValueSide) {
  const SegmentModel model = small_model();
  EXPECT_EQ(segment_of(model, 0.9, customer(4.0, 0, "Домашний текстиль")), "hv_risk");
  EXPECT_EQ(segment_of(model, 0.9, customer(std::nextafter(4.0, 0.0), 0, "Домашний текстиль")),
            "lv_risk");
}

TEST(SegmentAssignment, BehaviouralBoundaryAndFirstMatchWins) {
  const SegmentModel model = small_model();
  // 3 unpaid items is below the 3.5 cut, 4 is above it.
  EXPECT_EQ(segment_of(model, 0.9, customer(5.0, 3, "Домашний текстиль")), "hv_risk");
  EXPECT_EQ(segment_of(model, 0.9, customer(5.0, 4, "Домашний текстиль")), "hv_risk_unpaid");
  // Both sub-group rules hold: the earlier one takes the customer.
  EXPECT_EQ(segment_of(model, 0.9, customer(5.0, 4, "Товары для детей")), "hv_risk_unpaid");
  EXPECT_EQ(segment_of(model, 0.9, customer(5.0, 0, "Товары для детей")), "hv_risk_kids");
  // A low-value customer never lands in a high-value sub-group.
  EXPECT_EQ(segment_of(model, 0.9, customer(1.0, 9, "Товары для детей")), "lv_risk");
}

TEST(SegmentAssignment, ValueAtRiskIsProbabilityTimesProfit) {
  const SegmentModel model = small_model();
  const Assignment a = model.assign(0.75, customer(4.4, 0, "Кухонная посуда"));
  ASSERT_TRUE(a.value_at_risk.has_value());
  EXPECT_DOUBLE_EQ(*a.value_at_risk, 0.75 * 4.4);
}

TEST(SegmentAssignment, CustomerWithoutProfitGetsNoValueAndTheProfitUnknownSegment) {
  const SegmentModel model = small_model();
  RawCustomer c = customer(5.0, 9, "Товары для детей");
  c.clear(FieldId::kProfit);
  const Assignment at_risk = model.assign(0.9, c);
  EXPECT_EQ(at_risk.segment->id, "risk_unknown");
  EXPECT_FALSE(at_risk.value_at_risk.has_value());
  const Assignment stable = model.assign(0.1, c);
  EXPECT_EQ(stable.segment->id, "stable");
  EXPECT_FALSE(stable.value_at_risk.has_value());
}

TEST(SegmentAssignment, ConditionsOnAnAbsentFieldDoNotHold) {
  RawCustomer c;
  EXPECT_FALSE(holds({"unpaid_items_quarter", Operator::kGreaterEqual, 0.0, ""}, 0.5, c));
  EXPECT_FALSE(holds({"unpaid_items_quarter", Operator::kLess, 1e9, ""}, 0.5, c));
  EXPECT_FALSE(holds({"popular_category", Operator::kNotEqual, 0.0, "Кухонная посуда"}, 0.5, c));
  EXPECT_TRUE(holds({"profit", Operator::kMissing, 0.0, ""}, 0.5, c));
  c.set_boolean(FieldId::kAllowMessages, false);
  EXPECT_TRUE(holds({"allow_messages", Operator::kEqual, 0.0, ""}, 0.5, c));
  EXPECT_FALSE(holds({"allow_messages", Operator::kEqual, 1.0, ""}, 0.5, c));
  EXPECT_TRUE(holds({"allow_messages", Operator::kNotEqual, 1.0, ""}, 0.5, c));
}

TEST(SegmentModelFile, RoundTripsThroughJson) {
  const SegmentModel model = small_model();
  const json first = model.to_json();
  const SegmentModel again = SegmentModel::from_json(first);
  EXPECT_EQ(again.to_json().dump(), first.dump());
  EXPECT_EQ(again.segments().size(), 6U);
  EXPECT_EQ(again.find_segment("hv_risk_kids")->rule[2].level, "Товары для детей");
}

// The problem from_json() reports for `document` after `edit`.
std::string problem(const std::function<void(json&)>& edit) {
  json document = small_model().to_json();
  edit(document);
  try {
    SegmentModel::from_json(document);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "accepted";
}

TEST(SegmentModelFile, RejectsInconsistentPartsNamingThePath) {
  EXPECT_EQ(problem([](json& d) { d["segments"][5]["rule"] = d["segments"][0]["rule"]; }),
            "segments[5].rule: the last segment must have an empty rule (it takes every customer "
            "no other rule takes)");
  EXPECT_EQ(problem([](json& d) { d["segments"][1]["actions"][0]["action"] = "discount"; }),
            "segments[1].actions[0].action: \"discount\" is not in the actions catalogue");
  EXPECT_EQ(problem([](json& d) { d["segments"][0]["rule"][2]["input"] = "unpaid"; }),
            "segments[0].rule[2].input: unknown input \"unpaid\" (expected \"probability\" or a "
            "customer field)");
  EXPECT_EQ(problem([](json& d) { d["segments"][1]["rule"][2]["value"] = "Игрушки"; }),
            "segments[1].rule[2].value: \"Игрушки\" is not a level of \"popular_category\"");
  EXPECT_EQ(problem([](json& d) { d["segments"][1]["rule"][2]["value"] = 3; }),
            "segments[1].rule[2].value: must be one of the field's levels (a string)");
  EXPECT_EQ(problem([](json& d) { d["segments"][0]["rule"][0]["op"] = "=="; }),
            "segments[0].rule[0].op: the probability takes \">=\" or \"<\", got \"==\"");
  EXPECT_EQ(problem([](json& d) { d["segments"][0]["rule"][0]["op"] = "~"; }),
            "segments[0].rule[0].op: unknown value \"~\" (expected \">=\", \"<\", \"==\", \"!=\", "
            "\"missing\")");
  EXPECT_EQ(problem([](json& d) { d["segments"][2]["id"] = "hv_risk_kids"; }),
            "segments[2].id: \"hv_risk_kids\" appears twice");
  EXPECT_EQ(problem([](json& d) { d["segments"][2]["id"] = "High Value"; }),
            "segments[2].id: must be 1 to 64 of [a-z0-9_], got \"High Value\"");
  EXPECT_EQ(problem([](json& d) { d["segments"][0]["colour"] = "red"; }),
            "segments[0].colour: unknown key (allowed: \"id\", \"name\", \"description\", "
            "\"rule\", \"actions\", \"stats\")");
  EXPECT_EQ(problem([](json& d) { d["format_version"] = 2; }),
            "format_version: must be an integer in [1, 1], got 2");
  EXPECT_EQ(problem([](json& d) { d["metadata"].erase("churn_model_version"); }),
            "metadata.churn_model_version: is required");
  EXPECT_EQ(problem([](json& d) { d["actions"][1]["id"] = "cart_reminders"; }),
            "actions[1].id: \"cart_reminders\" appears twice");
}

TEST(SegmentModelFile, LoaderNamesTheFile) {
  const test_support::TempDir dir;
  const auto file = dir.path() / "segments.json";
  EXPECT_THROW(
      {
        try {
          load_segment_model(file);
        } catch (const models::ModelLoadError& error) {
          EXPECT_NE(std::string(error.what()).find("segments.json: cannot be opened"),
                    std::string::npos)
              << error.what();
          throw;
        }
      },
      models::ModelLoadError);
  std::ofstream(file) << "{\"format\": ";
  try {
    load_segment_model(file);
    ADD_FAILURE() << "a truncated file was accepted";
  } catch (const models::ModelLoadError& error) {
    EXPECT_NE(std::string(error.what()).find("not valid JSON"), std::string::npos);
  }
  json document = small_model().to_json();
  document["thresholds"]["profit"]["value"] = "four";
  std::ofstream(file, std::ios::trunc) << document.dump(2);
  try {
    load_segment_model(file);
    ADD_FAILURE() << "a string threshold was accepted";
  } catch (const models::ModelLoadError& error) {
    EXPECT_EQ(std::string(error.what()),
              "segments file " + file.string() +
                  ": thresholds.profit.value: must be a number, got \"four\"");
  }
  save_segment_model(small_model(), file);
  EXPECT_EQ(load_segment_model(file)->to_json(), small_model().to_json());
}

TEST(SegmentModelFile, TheCommittedFileLoadsAndBelongsToTheCommittedChurnModel) {
  const std::filesystem::path models = NBO_MODELS_DIR;
  const auto segments = load_segment_model(models / "segments.json");
  const auto churn = models::load_churn_model(models / "churn.json");
  EXPECT_EQ(segments->metadata().churn_model_version, churn->metadata().version);
  EXPECT_EQ(segments->metadata().training_data_fingerprint,
            churn->metadata().training_data_fingerprint);
  EXPECT_TRUE(segments->segments().back().rule.empty());
  for (const auto& segment : segments->segments()) {
    EXPECT_FALSE(segment.actions.empty()) << segment.id << " recommends nothing";
  }
}

// The segment objects answers repeat are rendered once; each reads back as its segment and its
// actions from the catalogue, in the API's sorted-key layout.
TEST(SegmentModelFile, EachSegmentsSummaryIsItsActionsIdAndNameAsJson) {
  const std::filesystem::path models = NBO_MODELS_DIR;
  const auto segments = load_segment_model(models / "segments.json");
  for (const auto& segment : segments->segments()) {
    json expected = {{"id", segment.id}, {"name", segment.name}, {"actions", json::array()}};
    for (const auto& recommended : segment.actions) {
      const auto* action = segments->find_action(recommended.action);
      ASSERT_NE(action, nullptr);
      expected["actions"].push_back(
          {{"description", action->description}, {"id", action->id}, {"title", action->title}});
    }
    EXPECT_EQ(segments->summary_json(segment), expected.dump()) << segment.id;
  }
  const segments::Segment foreign = segments->segments().front();
  EXPECT_THROW(segments->summary_json(foreign), std::invalid_argument);
}

// The model set loads segments.json beside churn.json, and refuses one derived from another churn
// model or malformed, keeping the published set (the registry publishes only a good set).
TEST(SegmentModelSet, LoadsBesideTheChurnModelAndRefusesAMismatch) {
  const std::filesystem::path models = NBO_MODELS_DIR;
  const test_support::TempDir dir;
  std::filesystem::copy_file(models / "churn.json", dir.path() / "churn.json");
  models::ModelRegistry registry;
  EXPECT_EQ(registry.load_directory(dir.path())->segments, nullptr);

  json segments = json::parse(std::ifstream(models / "segments.json"));
  segments["metadata"]["churn_model_version"] = "another";
  std::ofstream(dir.path() / "segments.json") << segments.dump();
  try {
    registry.load_directory(dir.path());
    ADD_FAILURE() << "segments of another churn model were accepted";
  } catch (const models::ModelLoadError& error) {
    EXPECT_NE(std::string(error.what()).find("derived from churn model 'another'"),
              std::string::npos)
        << error.what();
  }
  std::ofstream(dir.path() / "segments.json", std::ios::trunc) << "[]";
  EXPECT_THROW(registry.load_directory(dir.path()), models::ModelLoadError);
  EXPECT_EQ(registry.current()->segments, nullptr);  // the good set stays published

  std::filesystem::copy_file(models / "segments.json", dir.path() / "segments.json",
                             std::filesystem::copy_options::overwrite_existing);
  EXPECT_NE(registry.load_directory(dir.path())->segments, nullptr);
}

}  // namespace
}  // namespace nbo::segments
