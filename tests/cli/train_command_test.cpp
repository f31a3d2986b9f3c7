// `nbo train churn`, the real executable as a child process on ../shared/data/market: files
// written, what the model records, byte-identical reruns, and bad options.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "nbo/models/churn_model.hpp"
#include "support/run_nbo.hpp"
#include "support/temp_dir.hpp"

namespace nbo::cli {
namespace {

using ::nbo::test_support::market_dir;
using ::nbo::test_support::read_bytes;
using ::nbo::test_support::run_nbo;
using ::nbo::test_support::TempDir;
using ::testing::HasSubstr;

class TrainCommandEndToEnd : public ::testing::Test {
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

  // A small but complete run: one family, 1x3 outer folds, 2 inner folds.
  std::vector<std::string> quick_args(const std::string& name,
                                      const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> args{"train",         "churn",
                                  "--data",        market_dir().string(),
                                  "--out",         (dir_ / (name + ".json")).string(),
                                  "--report",      (dir_ / (name + "_report")).string(),
                                  "--families",    "logistic_l2",
                                  "--folds",       "3",
                                  "--repeats",     "1",
                                  "--inner-folds", "2",
                                  "--threads",     "2"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  TempDir dir_;
};

TEST_F(TrainCommandEndToEnd, WritesModelAndReportAndRecordsWhatItDid) {
  const auto run = run_nbo(quick_args("a", {"--trained-at", "2026-11-23T00:00:00Z"}), dir_);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("1296 kept"));
  EXPECT_THAT(run.output, HasSubstr("outer fold 3/3"));
  EXPECT_THAT(run.output, HasSubstr("chosen: logistic_l2"));

  const auto model = models::load_churn_model(dir_ / "a.json");
  EXPECT_EQ(model->metadata().trained_at, "2026-11-23T00:00:00Z");
  EXPECT_THAT(model->metadata().training_data_fingerprint, ::testing::StartsWith("sha256:"));
  const double auc = model->metadata().metrics.at("cv_roc_auc_mean").get<double>();
  EXPECT_GT(auc, 0.85);
  EXPECT_LT(auc, 0.95);
  EXPECT_EQ(model->metadata().metrics.at("training_customers").get<int>(), 1296);

  const auto report = read_bytes(dir_ / "a_report" / "churn_report.md");
  EXPECT_THAT(report, HasSubstr("| logistic_l2 **(chosen)** |"));
  EXPECT_THAT(report, HasSubstr("![ROC curves](roc.svg)"));
  for (const char* image : {"roc.svg", "reliability.svg", "importance.svg"}) {
    EXPECT_THAT(read_bytes(dir_ / "a_report" / image), ::testing::StartsWith("<svg")) << image;
  }
}

TEST_F(TrainCommandEndToEnd, SameExportAndSeedGiveAByteIdenticalModelFile) {
  const std::vector<std::string> time{"--trained-at", "2026-11-23T00:00:00Z"};
  const auto first = run_nbo(quick_args("first", time), dir_);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const auto second = run_nbo(quick_args("second", time), dir_);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  const auto bytes = read_bytes(dir_ / "first.json");
  EXPECT_GT(bytes.size(), 1000U);
  EXPECT_TRUE(bytes == read_bytes(dir_ / "second.json"));

  const auto other_seed = run_nbo(quick_args("other", {"--seed", "7", time[0], time[1]}), dir_);
  ASSERT_EQ(other_seed.exit_code, 0) << other_seed.output;
  EXPECT_FALSE(bytes == read_bytes(dir_ / "other.json"));
}

TEST_F(TrainCommandEndToEnd, DefaultTrainedAtIsTheExportsModificationTime) {
  const auto run = run_nbo(quick_args("mtime"), dir_);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto trained_at = models::load_churn_model(dir_ / "mtime.json")->metadata().trained_at;
  const auto newest = std::filesystem::last_write_time(market_dir() / "market_file.csv");
  const auto year = std::chrono::year_month_day(std::chrono::floor<std::chrono::days>(
                                                    std::chrono::file_clock::to_sys(newest)))
                        .year();
  EXPECT_EQ(trained_at.substr(0, 4), std::to_string(static_cast<int>(year))) << trained_at;
}

TEST_F(TrainCommandEndToEnd, BadOptionsAndMissingDataFailWithAMessage) {
  const auto bad_time = run_nbo(quick_args("bad", {"--trained-at", "yesterday"}), dir_);
  EXPECT_EQ(bad_time.exit_code, 2) << bad_time.output;
  EXPECT_THAT(bad_time.output, HasSubstr("--trained-at 'yesterday'"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "bad.json"));

  const auto few_folds = run_nbo(quick_args("few", {"--folds", "1"}), dir_);
  EXPECT_EQ(few_folds.exit_code, 2) << few_folds.output;

  const auto unknown_family = run_nbo(
      {"train", "churn", "--data", market_dir().string(), "--out", (dir_ / "x.json").string(),
       "--report", (dir_ / "x").string(), "--families", "logistic_l3"},
      dir_);
  EXPECT_EQ(unknown_family.exit_code, 2) << unknown_family.output;
  EXPECT_THAT(unknown_family.output, HasSubstr("logistic_l3"));

  const auto missing = dir_ / "no_such_export";
  const auto no_data = run_nbo({"train", "churn", "--data", missing.string(), "--out",
                                (dir_ / "y.json").string(), "--report", (dir_ / "y").string()},
                               dir_);
  EXPECT_EQ(no_data.exit_code, 1) << no_data.output;
  EXPECT_THAT(no_data.output, HasSubstr("market_file.csv"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "y.json"));
}

}  // namespace
}  // namespace nbo::cli
