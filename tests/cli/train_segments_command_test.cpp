// `nbo train segments`, the real executable on ../shared/data/market with the committed churn
// model: it reproduces the committed segments file and report byte for byte, and refuses a churn
// model whose cross-validation it cannot reproduce.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "support/run_nbo.hpp"
#include "support/temp_dir.hpp"

namespace nbo::cli {
namespace {

using ::nbo::test_support::market_dir;
using ::nbo::test_support::read_bytes;
using ::nbo::test_support::run_nbo;
using ::nbo::test_support::TempDir;
using ::testing::HasSubstr;

class TrainSegmentsEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    if (test_support::nbo_binary() == nullptr) {
      GTEST_SKIP() << "NBO_BINARY is not defined (partial build)";
    }
    if (!std::filesystem::exists(market_dir() / "market_file.csv")) {
      GTEST_SKIP() << "the store export is not at " << market_dir()
                   << " (../shared/data/market beside the checkout)";
    }
  }

  std::vector<std::string> args(const std::filesystem::path& model) const {
    return {"train",     "segments",
            "--data",    market_dir().string(),
            "--model",   model.string(),
            "--out",     (dir_ / "segments.json").string(),
            "--report",  (dir_ / "report").string(),
            "--threads", "2"};
  }

  // The committed churn model with `edit` applied, written to the temp dir.
  std::filesystem::path edited_model(const std::function<void(nlohmann::json&)>& edit) const {
    nlohmann::json model =
        nlohmann::json::parse(read_bytes(std::filesystem::path(NBO_MODELS_DIR) / "churn.json"));
    edit(model);
    const auto file = dir_ / "churn_edited.json";
    std::ofstream(file) << model.dump(2);
    return file;
  }

  TempDir dir_;
};

TEST_F(TrainSegmentsEndToEnd, ReproducesTheCommittedFileAndReport) {
  const std::filesystem::path source = NBO_SOURCE_DIR;
  const auto run = run_nbo(args(source / "models/churn.json"), dir_);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("thresholds: probability"));
  EXPECT_EQ(read_bytes(dir_ / "segments.json"), read_bytes(source / "models/segments.json"))
      << "retraining gave another segments file: commit the new models/segments.json and "
         "reports/segments/ if the change is intended";
  EXPECT_EQ(read_bytes(dir_ / "report/segments_customers.csv"),
            read_bytes(source / "reports/segments/segments_customers.csv"));
  EXPECT_EQ(read_bytes(dir_ / "report/segments.svg"),
            read_bytes(source / "reports/segments/segments.svg"));
  const std::string report = read_bytes(dir_ / "report/segments_report.md");
  EXPECT_THAT(report, HasSubstr("## The value-at-risk grid"));
  EXPECT_THAT(report, HasSubstr("![probability vs profit by segment](segments.svg)"));
}

TEST_F(TrainSegmentsEndToEnd, RefusesAChurnModelOfAnotherExport) {
  const auto model = edited_model(
      [](nlohmann::json& m) { m["metadata"]["training_data_fingerprint"] = "sha256:0000"; });
  const auto run = run_nbo(args(model), dir_);
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_THAT(run.output, HasSubstr("was trained on export sha256:0000"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "segments.json"));
}

TEST_F(TrainSegmentsEndToEnd, RefusesAChurnModelItCannotReproduce) {
  const auto model = edited_model([](nlohmann::json& m) {
    m["calibration"]["slope"] = m["calibration"]["slope"].get<double>() * 1.5;
  });
  const auto run = run_nbo(args(model), dir_);
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_THAT(run.output, HasSubstr("did not reproduce the model file's estimator"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "segments.json"));
}

TEST_F(TrainSegmentsEndToEnd, BadUsageAndMissingFiles) {
  auto bad = args(std::filesystem::path(NBO_MODELS_DIR) / "churn.json");
  bad.push_back("--min-lift");
  bad.push_back("0.5");
  EXPECT_EQ(run_nbo(bad, dir_).exit_code, 2);
  const auto missing = run_nbo(args(dir_ / "no_such_model.json"), dir_);
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_THAT(missing.output, HasSubstr("no_such_model.json"));
}

}  // namespace
}  // namespace nbo::cli
