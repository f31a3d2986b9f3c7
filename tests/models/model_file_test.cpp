// load_churn_model / save_churn_model on the hand-written fixture and on broken variants of it
// (made by mutating the fixture's JSON in the test, one problem class each).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <exception>
#include <functional>
#include <string>
#include <typeinfo>

#include <nlohmann/json.hpp>

#include "models/model_test_util.hpp"
#include "nbo/models/churn_model.hpp"

namespace nbo::models {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;
using test::TempDir;
using test::valid_model_json;

// Loads `file`, expecting ModelLoadError; returns its message ("" and a failure otherwise).
std::string load_error(const std::filesystem::path& file) {
  try {
    load_churn_model(file);
    ADD_FAILURE() << "model file " << file << " loaded without error";
  } catch (const ModelLoadError& error) {
    return error.what();
  } catch (const std::exception& error) {
    ADD_FAILURE() << "load_churn_model threw " << typeid(error).name()
                  << " instead of ModelLoadError: " << error.what();
  }
  return {};
}

TEST(ModelFileTest, ValidFixtureLoads) {
  const auto model = load_churn_model(test::fixture_path("models/valid_logistic.json"));
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->metadata().name, "churn");
  EXPECT_EQ(model->metadata().version, "fixture-1");
  EXPECT_EQ(model->metadata().trainer, "hand-written test fixture");
  EXPECT_EQ(model->estimator().type(), "logistic_regression");
  EXPECT_EQ(model->pipeline().column_count(), 9u);
  EXPECT_EQ(model->estimator().column_count(), 9u);
  EXPECT_EQ(model->calibration().type, "platt");
  EXPECT_EQ(model->calibration().slope, 0.85);
  EXPECT_EQ(model->calibration().offset, -0.05);
  EXPECT_EQ(model->decision().threshold, 0.42);
  ASSERT_EQ(model->decision().bands.size(), 3u);
  EXPECT_EQ(model->decision().bands[0].name, "low");
  EXPECT_EQ(model->decision().bands[2].upper, 1.0);
  // to_json reproduces the file's content (same JSON value, key order aside).
  EXPECT_EQ(model->to_json(), valid_model_json());
}

TEST(ModelFileTest, SaveThenLoadIsByteStable) {
  const auto model = load_churn_model(test::fixture_path("models/valid_logistic.json"));
  TempDir dir;
  const auto first = dir.path() / "nested" / "a.json";
  save_churn_model(*model, first);
  EXPECT_FALSE(std::filesystem::exists(first.string() + ".tmp"));
  const std::string text = test::read_text(first);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(json::parse(text), model->to_json());
  const auto again = load_churn_model(first);
  const auto second = dir.path() / "b.json";
  save_churn_model(*again, second);
  EXPECT_EQ(test::read_text(second), text);
  // Saving over an existing file replaces it.
  save_churn_model(*again, first);
  EXPECT_EQ(test::read_text(first), text);
}

struct BrokenModel {
  const char* name;
  std::function<std::string()> text;  // the file's content
  std::vector<std::string> expected;  // substrings of the error message besides the file name
};

std::string mutated(const std::function<void(json&)>& change) {
  json document = valid_model_json();
  change(document);
  return document.dump(2);
}

std::vector<BrokenModel> broken_models() {
  return {
      {"not JSON", [] { return std::string("{\"format\": \"nbo.churn_model\", "); },
       {"not valid JSON"}},
      {"empty file", [] { return std::string(); }, {"not valid JSON"}},
      {"not an object", [] { return std::string("[1, 2, 3]"); }, {"JSON object"}},
      {"wrong format name", [] { return mutated([](json& m) { m["format"] = "nbo.segment_model"; }); },
       {"format", "nbo.segment_model"}},
      {"no format", [] { return mutated([](json& m) { m.erase("format"); }); },
       {"format: is required"}},
      {"format_version 2", [] { return mutated([](json& m) { m["format_version"] = 2; }); },
       {"format_version", "2"}},
      {"format_version as string",
       [] { return mutated([](json& m) { m["format_version"] = "1"; }); }, {"format_version"}},
      {"missing metadata.name", [] { return mutated([](json& m) { m["metadata"].erase("name"); }); },
       {"metadata.name", "required"}},
      {"empty metadata.name", [] { return mutated([](json& m) { m["metadata"]["name"] = ""; }); },
       {"metadata.name", "empty"}},
      {"missing metadata.version",
       [] { return mutated([](json& m) { m["metadata"].erase("version"); }); },
       {"metadata.version"}},
      {"metadata not an object", [] { return mutated([](json& m) { m["metadata"] = "churn"; }); },
       {"metadata: must be an object"}},
      {"unknown estimator type",
       [] { return mutated([](json& m) { m["estimator"]["type"] = "random_forest"; }); },
       {"estimator.type", "random_forest"}},
      {"no intercept", [] { return mutated([](json& m) { m["estimator"].erase("intercept"); }); },
       {"estimator.intercept"}},
      {"too few coefficients",
       [] { return mutated([](json& m) { m["estimator"]["coefficients"].erase(8); }); },
       {"estimator.coefficients", "8", "9"}},
      {"too many coefficients",
       [] {
         return mutated([](json& m) {
           m["estimator"]["coefficients"].push_back({{"column", "tenure_days"}, {"weight", 0.1}});
         });
       },
       {"estimator.coefficients", "10", "9"}},
      {"coefficient column mismatch",
       [] {
         return mutated([](json& m) {
           m["estimator"]["coefficients"][2]["column"] = "promo";
         });
       },
       {"estimator.coefficients[2].column", "promo_share"}},
      {"coefficients swapped",
       [] {
         return mutated([](json& m) {
           auto& c = m["estimator"]["coefficients"];
           std::swap(c[0], c[1]);
         });
       },
       {"estimator.coefficients[0].column"}},
      {"weight as string \"NaN\"",
       [] {
         return mutated([](json& m) { m["estimator"]["coefficients"][3]["weight"] = "NaN"; });
       },
       {"estimator.coefficients[3]"}},
      {"threshold 1", [] { return mutated([](json& m) { m["decision"]["threshold"] = 1.0; }); },
       {"decision.threshold"}},
      {"threshold 0", [] { return mutated([](json& m) { m["decision"]["threshold"] = 0; }); },
       {"decision.threshold"}},
      {"threshold negative",
       [] { return mutated([](json& m) { m["decision"]["threshold"] = -0.5; }); },
       {"decision.threshold"}},
      {"bands not ascending",
       [] { return mutated([](json& m) { m["decision"]["risk_bands"][1]["upper"] = 0.2; }); },
       {"decision.risk_bands[1].upper"}},
      {"bands equal",
       [] { return mutated([](json& m) { m["decision"]["risk_bands"][1]["upper"] = 0.25; }); },
       {"decision.risk_bands[1].upper"}},
      {"last band below 1",
       [] { return mutated([](json& m) { m["decision"]["risk_bands"][2]["upper"] = 0.99; }); },
       {"decision.risk_bands", "last"}},
      {"band above 1",
       [] { return mutated([](json& m) { m["decision"]["risk_bands"][2]["upper"] = 1.5; }); },
       {"decision.risk_bands[2].upper"}},
      {"no bands",
       [] { return mutated([](json& m) { m["decision"]["risk_bands"] = json::array(); }); },
       {"decision.risk_bands"}},
      {"band without name",
       [] { return mutated([](json& m) { m["decision"]["risk_bands"][0].erase("name"); }); },
       {"decision.risk_bands[0].name"}},
      {"unknown feature name",
       [] {
         return mutated([](json& m) { m["pipeline"]["features"][1]["name"] = "shoe_size"; });
       },
       {"pipeline.features[1].name", "shoe_size"}},
      {"scale 0", [] { return mutated([](json& m) { m["pipeline"]["features"][3]["scale"] = 0; }); },
       {"pipeline.features[3]", "scale"}},
      {"negative scale",
       [] { return mutated([](json& m) { m["pipeline"]["features"][1]["scale"] = -0.25; }); },
       {"pipeline.features[1]", "scale"}},
      {"no pipeline", [] { return mutated([](json& m) { m.erase("pipeline"); }); },
       {"pipeline: is required"}},
      {"unknown calibration",
       [] { return mutated([](json& m) { m["calibration"]["type"] = "isotonic"; }); },
       {"calibration.type", "isotonic"}},
      {"platt slope <= 0",
       [] { return mutated([](json& m) { m["calibration"]["slope"] = -0.85; }); },
       {"calibration.slope"}},
      {"platt without offset",
       [] { return mutated([](json& m) { m["calibration"].erase("offset"); }); },
       {"calibration.offset"}},
      {"no decision", [] { return mutated([](json& m) { m.erase("decision"); }); },
       {"decision: is required"}},
      // Keys are a closed set: a misspelt optional key would otherwise change the model quietly.
      {"misspelt calibration",
       [] {
         return mutated([](json& m) {
           m["calibraton"] = m["calibration"];
           m.erase("calibration");
         });
       },
       {"calibraton: unknown key (allowed: \"format\", \"format_version\", \"metadata\","}},
      {"misspelt metadata key",
       [] { return mutated([](json& m) { m["metadata"]["trainr"] = "me"; }); },
       {"metadata.trainr: unknown key"}},
      {"platt key on calibration none",
       [] {
         return mutated([](json& m) { m["calibration"] = {{"type", "none"}, {"slope", 2.0}}; });
       },
       {"calibration.slope: unknown key (allowed: \"type\")"}},
      {"misspelt platt key",
       [] { return mutated([](json& m) { m["calibration"]["ofset"] = 0.1; }); },
       {"calibration.ofset: unknown key"}},
      {"numeric key on a one_hot feature",
       [] { return mutated([](json& m) { m["pipeline"]["features"][0]["scale"] = 1.0; }); },
       {"pipeline.features[0].scale: unknown key"}},
      {"imputed value under reject",
       [] {
         return mutated([](json& m) { m["pipeline"]["features"][1]["missing"]["value"] = 0.5; });
       },
       {"pipeline.features[1].missing.value: unknown key (allowed: \"policy\")"}},
      {"misspelt coefficient key",
       [] {
         return mutated([](json& m) {
           m["estimator"]["coefficients"][4]["weigth"] =
               m["estimator"]["coefficients"][4]["weight"];
         });
       },
       {"estimator.coefficients[4].weigth: unknown key"}},
      {"unknown decision key",
       [] { return mutated([](json& m) { m["decision"]["threshold_low"] = 0.2; }); },
       {"decision.threshold_low: unknown key"}},
      {"unknown band key",
       [] { return mutated([](json& m) { m["decision"]["risk_bands"][1]["lower"] = 0.25; }); },
       {"decision.risk_bands[1].lower: unknown key"}},
  };
}

TEST(ModelFileTest, EachBrokenVariantIsAModelLoadErrorNamingFileAndProblem) {
  TempDir dir;
  int index = 0;
  for (const auto& broken : broken_models()) {
    SCOPED_TRACE(broken.name);
    const auto file = dir.path() / ("broken_" + std::to_string(index++) + ".json");
    test::write_text(file, broken.text());
    const std::string message = load_error(file);
    if (message.empty()) continue;
    EXPECT_THAT(message, HasSubstr(file.string()));
    for (const auto& part : broken.expected) EXPECT_THAT(message, HasSubstr(part));
  }
}

TEST(ModelFileTest, FormatVersionBeyondIntRangeIsRejected) {
  // 4294967297 = 2^32 + 1: must not be read as version 1 after narrowing to int.
  TempDir dir;
  const auto file = dir.path() / "huge_version.json";
  json document = valid_model_json();
  document["format_version"] = 4294967297ULL;
  test::write_text(file, document.dump(2));
  const std::string message = load_error(file);
  EXPECT_THAT(message, HasSubstr(file.string()));
  EXPECT_THAT(message, HasSubstr("format_version"));
}

TEST(ModelFileTest, NumberOverflowingADoubleIsAModelLoadError) {
  // JSON has no NaN/Infinity; the closest a file gets to a non-finite weight is a literal that
  // overflows a double. nlohmann reports it as out_of_range (406), not as a parse_error.
  TempDir dir;
  const auto file = dir.path() / "overflow.json";
  json document = valid_model_json();
  document["estimator"]["coefficients"][3]["weight"] = 123.25;
  std::string text = document.dump(2);
  const auto at = text.find("123.25");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 6, "1e999");
  test::write_text(file, text);
  const std::string message = load_error(file);
  EXPECT_THAT(message, HasSubstr(file.string()));
  EXPECT_THAT(message, HasSubstr("1e999"));
}

TEST(ModelFileTest, BandThatIsNotAnObjectNamesItsPath) {
  TempDir dir;
  const auto file = dir.path() / "band.json";
  json document = valid_model_json();
  document["decision"]["risk_bands"][1] = 0.7;
  test::write_text(file, document.dump(2));
  const std::string message = load_error(file);
  EXPECT_THAT(message, HasSubstr(file.string()));
  EXPECT_THAT(message, HasSubstr("decision.risk_bands[1]: must be an object"));
}

TEST(ModelFileTest, FreeFormMetadataKeepsAnyKeys) {
  json document = valid_model_json();
  document["metadata"]["metrics"] = {{"roc_auc", {{"mean", 0.9}}}, {"anything", "goes"}};
  document["metadata"]["extra"] = {{"seed", 42}, {"candidates", json::array({1, 2})}};
  const ChurnModel model = ChurnModel::from_json(document);
  EXPECT_EQ(model.metadata().metrics, document["metadata"]["metrics"]);
  EXPECT_EQ(model.metadata().extra, document["metadata"]["extra"]);
}

TEST(ModelFileTest, MissingFileIsAModelLoadError) {
  TempDir dir;
  const auto file = dir.path() / "does_not_exist.json";
  const std::string message = load_error(file);
  EXPECT_THAT(message, HasSubstr(file.string()));
  EXPECT_THAT(message, HasSubstr("cannot be opened"));
}

TEST(ModelFileTest, FromJsonAcceptsNoCalibrationAsIdentity) {
  json document = valid_model_json();
  document.erase("calibration");
  const ChurnModel model = ChurnModel::from_json(document);
  EXPECT_EQ(model.calibration().type, "none");
  EXPECT_EQ(model.calibration().slope, 1.0);
  EXPECT_EQ(model.calibration().offset, 0.0);
  document["calibration"] = {{"type", "none"}};
  EXPECT_EQ(ChurnModel::from_json(document).to_json(), model.to_json());
}

}  // namespace
}  // namespace nbo::models
