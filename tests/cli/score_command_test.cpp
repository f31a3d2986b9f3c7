// `nbo score`: the library functions on the fixtures of tests/fixtures/score, the real executable
// as a child process, and the raw-export mode on ../shared/data/market.

#include "nbo/cli/score_command.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "nbo/features/customer.hpp"
#include "nbo/train/csv.hpp"
#include "support/run_nbo.hpp"
#include "support/temp_dir.hpp"

namespace nbo::cli {
namespace {

using Json = nlohmann::json;

std::filesystem::path fixture(const std::string& name) {
  return std::filesystem::path(NBO_FIXTURES_DIR) / "score" / name;
}
std::filesystem::path model_file() {
  return std::filesystem::path(NBO_MODELS_DIR) / "churn.json";
}
std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + file.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_text(const std::filesystem::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

const models::ChurnModel& model() {
  static const auto loaded = models::load_churn_model(model_file());
  return *loaded;
}

// The fixture customers (values copied from the export), as the API would receive them.
const std::map<std::string, Json>& expected_customers() {
  static const std::map<std::string, Json> customers = [] {
    const auto make = [](const char* service, bool allow, double activity_6m, int activity_now,
                         int tenure, double promo, const char* category, int categories, int unpaid,
                         int errors, int pages, double revenue_2ago, double revenue_last,
                         double revenue_now, int minutes_last, int minutes_now) {
      return Json{{"service_type", service},
                  {"allow_messages", allow},
                  {"marketing_activity_6m", activity_6m},
                  {"marketing_activity_current", activity_now},
                  {"tenure_days", tenure},
                  {"promo_share", promo},
                  {"popular_category", category},
                  {"avg_categories_per_visit", categories},
                  {"unpaid_items_quarter", unpaid},
                  {"service_errors", errors},
                  {"pages_per_visit", pages},
                  {"revenue_2_months_ago", revenue_2ago},
                  {"revenue_last_month", revenue_last},
                  {"revenue_this_month", revenue_now},
                  {"minutes_last_month", minutes_last},
                  {"minutes_this_month", minutes_now}};
    };
    return std::map<std::string, Json>{
        {"215349", make("премиум", true, 4.4, 4, 819, 0.75, "Товары для детей", 4, 4, 2, 5, 4472.0,
                        5216.0, 4971.6, 12, 10)},
        {"215350", make("стандартт", false, 4.9, 3, 539, 0.14, "Домашний текстиль", 5, 2, 1, 5,
                        4826.0, 5457.5, 5058.4, 8, 13)},
        {"215351", make("стандартт", true, 3.2, 5, 896, 0.99, "Товары для детей", 5, 0, 6, 4,
                        4793.0, 6158.0, 6610.4, 11, 13)},
        {"215352", make("стандартт", false, 5.1, 3, 1064, 0.94, "Товары для детей", 3, 2, 3, 2,
                        4594.0, 5807.5, 5872.5, 8, 11)},
        {"215353", make("стандартт", true, 3.3, 4, 762, 0.26, "Домашний текстиль", 4, 1, 1, 4,
                        5124.0, 4738.5, 5388.5, 10, 10)},
    };
  }();
  return customers;
}

struct Scored {
  ScoreSummary summary;
  std::string text;
  train::CsvTable table;  // the output read back with the project's strict reader
};

Scored score_text(const std::string& input, std::size_t reasons = 3,
                  const std::string& name = "input.csv") {
  std::istringstream in(input);
  std::ostringstream out;
  Scored scored;
  scored.summary = score_csv(model(), in, name, out, reasons);
  scored.text = out.str();
  train::CsvOptions options;
  options.delimiter = ',';
  scored.table = train::parse_csv(scored.text, "scores.csv", options);
  return scored;
}

Scored score_fixture(const std::string& name, std::size_t reasons = 3) {
  return score_text(read_text(fixture(name)), reasons, name);
}

// The output rows by customer id: column name -> cell.
std::map<std::string, std::map<std::string, std::string>> rows_by_id(const train::CsvTable& t) {
  std::map<std::string, std::map<std::string, std::string>> rows;
  for (const auto& row : t.rows) {
    auto& cells = rows[row.fields[0]];
    for (std::size_t c = 0; c < t.header.size(); ++c) cells[t.header[c]] = row.fields[c];
  }
  return rows;
}

// Checks every expected customer's output row against model().predict() for the same customer.
void expect_scores_match_predict(const train::CsvTable& table, std::size_t reasons) {
  const auto rows = rows_by_id(table);
  for (const auto& [id, features] : expected_customers()) {
    SCOPED_TRACE(id);
    ASSERT_EQ(rows.count(id), 1U);
    const auto& row = rows.at(id);
    const auto prediction = model().predict(features::customer_from_json(features), reasons);
    // 17 significant digits read back to the very same double.
    EXPECT_EQ(std::strtod(row.at("probability").c_str(), nullptr), prediction.probability);
    EXPECT_EQ(row.at("label"), prediction.label ? "1" : "0");
    EXPECT_EQ(row.at("risk_band"), prediction.risk_band->name);
    EXPECT_EQ(row.at("error"), "");
    ASSERT_EQ(prediction.reasons.size(), reasons);
    for (std::size_t k = 0; k < reasons; ++k) {
      const auto suffix = std::to_string(k + 1);
      EXPECT_EQ(row.at("reason_" + suffix),
                features::store_field(prediction.reasons[k].field).api_name);
      EXPECT_EQ(std::strtod(row.at("contribution_" + suffix).c_str(), nullptr),
                prediction.reasons[k].contribution);
    }
  }
}

using ::nbo::test_support::Completed;
using ::nbo::test_support::market_dir;
using ::nbo::test_support::run_nbo;
using ::nbo::test_support::TempDir;

TEST(ScoreCommandTest, OutputHeader) {
  EXPECT_EQ(
      score_output_header(2),
      (std::vector<std::string>{"customer_id", "probability", "label", "risk_band", "reason_1",
                                "contribution_1", "reason_2", "contribution_2", "error"}));
  EXPECT_EQ(score_output_header(0), (std::vector<std::string>{"customer_id", "probability", "label",
                                                              "risk_band", "error"}));
}

TEST(ScoreCommandTest, ApiNamedColumnsScoreLikePredictAndBadRowsCarryTheirError) {
  const auto scored = score_fixture("customers_api.csv");
  EXPECT_EQ(scored.summary.rows_scored, 5U);
  EXPECT_EQ(scored.summary.rows_failed, 2U);
  EXPECT_TRUE(scored.summary.ignored_columns.empty());
  EXPECT_EQ(scored.table.header, score_output_header(3));
  ASSERT_EQ(scored.table.rows.size(), 7U);
  // Input order is kept.
  std::vector<std::string> ids;
  for (const auto& row : scored.table.rows) ids.push_back(row.fields[0]);
  EXPECT_EQ(ids, (std::vector<std::string>{"215349", "215350", "bad-category", "215351",
                                           "missing-field", "215352", "215353"}));
  expect_scores_match_predict(scored.table, 3);

  const auto rows = rows_by_id(scored.table);
  for (const auto* id : {"bad-category", "missing-field"}) {
    SCOPED_TRACE(id);
    for (const auto& [column, cell] : rows.at(id)) {
      if (column != "customer_id" && column != "error") {
        EXPECT_EQ(cell, "") << column;
      }
    }
  }
  EXPECT_EQ(
      rows.at("bad-category")
          .at("error")
          .rfind("unknown_category: field 'popular_category' has unknown value \"Игрушки\"", 0),
      0U)
      << rows.at("bad-category").at("error");
  EXPECT_EQ(rows.at("missing-field").at("error").rfind("missing_field: ", 0), 0U)
      << rows.at("missing-field").at("error");
  EXPECT_NE(rows.at("missing-field").at("error").find("revenue_this_month"), std::string::npos);
  // The error text holds commas, so it was quoted and still read back as one cell.
  EXPECT_NE(scored.text.find(",\"unknown_category: "), std::string::npos);
}

TEST(ScoreCommandTest, ExportColumnNamesSemicolonsAndDecimalCommas) {
  const auto scored = score_fixture("customers_export_columns.csv");
  EXPECT_EQ(scored.summary.rows_scored, 5U);
  EXPECT_EQ(scored.summary.rows_failed, 2U);
  EXPECT_EQ(scored.summary.ignored_columns, std::vector<std::string>{"Покупательская активность"});
  ASSERT_EQ(scored.table.rows.size(), 7U);
  expect_scores_match_predict(scored.table, 3);
  const auto rows = rows_by_id(scored.table);
  EXPECT_EQ(rows.at("bad-service").at("error").rfind("unknown_category: field 'service_type'", 0),
            0U)
      << rows.at("bad-service").at("error");
  EXPECT_EQ(rows.at("promo-out-of-range").at("error").rfind("out_of_range: field 'promo_share'", 0),
            0U)
      << rows.at("promo-out-of-range").at("error");
  EXPECT_EQ(rows.at("promo-out-of-range").at("probability"), "");
}

TEST(ScoreCommandTest, BothFixturesGiveTheSameScores) {
  const auto api = rows_by_id(score_fixture("customers_api.csv").table);
  const auto exported = rows_by_id(score_fixture("customers_export_columns.csv").table);
  for (const auto& [id, features] : expected_customers()) EXPECT_EQ(api.at(id), exported.at(id));
}

TEST(ScoreCommandTest, ReasonCountSetsTheColumns) {
  const auto none = score_fixture("customers_api.csv", 0);
  EXPECT_EQ(none.table.header, score_output_header(0));
  expect_scores_match_predict(none.table, 0);
  const auto five = score_fixture("customers_api.csv", 5);
  EXPECT_EQ(five.table.header, score_output_header(5));
  expect_scores_match_predict(five.table, 5);
}

TEST(ScoreCommandTest, BatchScoringWithoutReasonsKeepsBadRowsInPlace) {
  const auto three = score_fixture("customers_api.csv", 3);
  const auto none = score_fixture("customers_api.csv", 0);
  EXPECT_EQ(none.summary.rows_scored, three.summary.rows_scored);
  EXPECT_EQ(none.summary.rows_failed, three.summary.rows_failed);
  EXPECT_GT(none.summary.rows_failed, 0U);
  ASSERT_EQ(none.table.rows.size(), three.table.rows.size());
  for (std::size_t r = 0; r < none.table.rows.size(); ++r) {
    const auto& batch = none.table.rows[r].fields;
    const auto& single = three.table.rows[r].fields;
    EXPECT_EQ(batch[0], single[0]);
    for (std::size_t c = 1; c <= 3; ++c) EXPECT_EQ(batch[c], single[c]) << "row " << r;
    EXPECT_EQ(batch.back(), single.back()) << "row " << r;
  }
}

TEST(ScoreCommandTest, CellSyntax) {
  const std::string header =
      "id,service_type,allow_messages,marketing_activity_6m,marketing_activity_current,"
      "tenure_days,promo_share,popular_category,avg_categories_per_visit,unpaid_items_quarter,"
      "service_errors,pages_per_visit,revenue_2_months_ago,revenue_last_month,revenue_this_month,"
      "minutes_last_month,minutes_this_month\r\n";
  const std::string tail = ",4,4,2,5,4472.0,5216.0,4971.6,12,10\r\n";
  const auto scored =
      score_text(header + "ok,премиум,нет,4.4,4,819,0.75,Товары для детей" + tail +
                 "yes,премиум,yes,4.4,4,819,0.75,Товары для детей" + tail +
                 "comma,премиум,1,\"4,4\",4,819,0.75,Товары для детей" + tail +
                 "text,премиум,1,4.4,4,819,lots,Товары для детей" + tail +
                 "fraction,премиум,1,4.4,4.5,819,0.75,Товары для детей" + tail +
                 ",премиум,1,4.4,4,819,0.75,Товары для детей" + tail +
                 "\"a,\"\"quoted\"\" id\",премиум,1,4.4,4,819,0.75,Косметика и аксессуары" + tail);
  const auto& rows = scored.table.rows;
  ASSERT_EQ(rows.size(), 7U);
  const auto error_of = [&](std::size_t i) { return rows[i].fields.back(); };
  EXPECT_EQ(error_of(0), "");
  EXPECT_EQ(error_of(1).rfind("invalid_type: field 'allow_messages' must be a boolean", 0), 0U)
      << error_of(1);
  EXPECT_EQ(error_of(2).rfind("invalid_value: field 'marketing_activity_6m': decimal comma", 0), 0U)
      << error_of(2);
  EXPECT_EQ(error_of(3), "invalid_type: field 'promo_share' must be a number, got 'lots'");
  EXPECT_EQ(error_of(4).rfind("invalid_type: field 'marketing_activity_current' must be an "
                              "integer",
                              0),
            0U)
      << error_of(4);
  EXPECT_EQ(rows[5].fields[0], "");
  EXPECT_EQ(error_of(5), "missing_field: line 7: the customer id is empty");
  // A quoted id round-trips; the known misspelling "аксессуары" is normalized and scores.
  EXPECT_EQ(rows[6].fields[0], "a,\"quoted\" id");
  EXPECT_EQ(error_of(6), "");
  EXPECT_EQ(scored.summary.rows_scored, 2U);
  EXPECT_EQ(scored.summary.rows_failed, 5U);
}

TEST(ScoreCommandTest, StructuralProblemsThrowDataErrorNamingTheInput) {
  const auto problem = [](const std::string& input) -> std::string {
    std::istringstream in(input);
    std::ostringstream out;
    try {
      score_csv(model(), in, "bad.csv", out, 3);
    } catch (const train::DataError& error) {
      EXPECT_EQ(error.file(), "bad.csv");
      return error.what();
    }
    return "no error";
  };
  EXPECT_NE(problem("tenure_days,service_type\n1,премиум\n").find("no id column"),
            std::string::npos);
  EXPECT_NE(problem("id,customer_id,tenure_days\n1,1,5\n").find("a second id column"),
            std::string::npos);
  EXPECT_NE(problem("id,tenure_days,Длительность\n1,5,5\n")
                .find("field 'tenure_days' is also given by column 'tenure_days'"),
            std::string::npos);
  const std::string revenue = problem("id;Выручка\n1;5,0\n");
  EXPECT_NE(revenue.find("revenue_2_months_ago, revenue_last_month, revenue_this_month"),
            std::string::npos)
      << revenue;
  EXPECT_NE(problem("id,tenure_days\n1,5,6\n").find("bad.csv:2"), std::string::npos);
  EXPECT_NE(problem("").find("bad.csv"), std::string::npos);
}

TEST(ScoreCommandTest, RawExportScoresEveryKeptCustomer) {
  if (!std::filesystem::exists(market_dir() / "market_file.csv")) {
    GTEST_SKIP() << "the store export is not at " << market_dir()
                 << " (NBO_TEST_DATA_DIR); the raw-export mode is not tested";
  }
  const auto data = train::load_market_export(market_dir());
  std::ostringstream out;
  const auto summary = score_export(model(), data, out, 3);
  EXPECT_EQ(summary.rows_scored, 1296U);
  EXPECT_EQ(summary.rows_failed, 0U);
  train::CsvOptions options;
  options.delimiter = ',';
  const auto table = train::parse_csv(out.str(), "scores.csv", options);
  ASSERT_EQ(table.rows.size(), 1296U);
  // Without reasons the batch path gives every customer the same probability, label and band.
  std::ostringstream batch_out;
  const auto batch_summary = score_export(model(), data, batch_out, 0);
  EXPECT_EQ(batch_summary.rows_scored, 1296U);
  const auto batch = train::parse_csv(batch_out.str(), "batch.csv", options);
  ASSERT_EQ(batch.rows.size(), 1296U);
  for (std::size_t i = 0; i < batch.rows.size(); ++i) {
    for (std::size_t c = 0; c < 4; ++c) {
      ASSERT_EQ(batch.rows[i].fields[c], table.rows[i].fields[c]) << "row " << i << " cell " << c;
    }
  }
  // Spot-check against predict() in the dataset's own order.
  for (std::size_t i = 0; i < data.customers.size(); i += 97) {
    const auto& customer = data.customers[i];
    ASSERT_EQ(table.rows[i].fields[0], customer.customer_id);
    EXPECT_EQ(std::strtod(table.rows[i].fields[1].c_str(), nullptr),
              model().predict(customer.customer, 0).probability)
        << customer.customer_id;
  }
}

class ScoreCommandEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::nbo::test_support::nbo_binary() == nullptr)
      GTEST_SKIP() << "NBO_BINARY is not defined (partial build)";
  }
  TempDir dir_;
};

TEST_F(ScoreCommandEndToEnd, FailedRowsGiveExitStatus3AndTheOthersAreWritten) {
  const auto out = dir_ / "scores.csv";
  const auto run = run_nbo({"score", "--model", model_file().string(), "--input",
                            fixture("customers_api.csv").string(), "--out", out.string()},
                           dir_);
  EXPECT_EQ(run.exit_code, 3) << run.output;
  EXPECT_NE(run.output.find("5 rows scored, 2 failed"), std::string::npos) << run.output;
  const auto table = train::read_csv(out);
  EXPECT_EQ(table.header, score_output_header(3));
  ASSERT_EQ(table.rows.size(), 7U);
  expect_scores_match_predict(table, 3);
  // Nothing but the output (and the test's log) is left in the directory: no temporary file.
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"run.log", "scores.csv"}));
}

TEST_F(ScoreCommandEndToEnd, AllRowsScoredGivesExitStatus0) {
  // The API fixture without its two bad rows.
  std::istringstream fixture_lines(read_text(fixture("customers_api.csv")));
  std::string good;
  for (std::string line; std::getline(fixture_lines, line);) {
    if (line.rfind("bad-", 0) != 0 && line.rfind("missing-", 0) != 0) good += line + "\n";
  }
  write_text(dir_ / "good.csv", good);
  const auto out = dir_ / "scores.csv";
  const auto run = run_nbo({"score", "--model", model_file().string(), "--input",
                            (dir_ / "good.csv").string(), "--out", out.string(), "--reasons", "1"},
                           dir_);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("5 rows scored, 0 failed"), std::string::npos) << run.output;
  const auto table = train::read_csv(out);
  EXPECT_EQ(table.header, score_output_header(1));
  expect_scores_match_predict(table, 1);
}

TEST_F(ScoreCommandEndToEnd, UsageAndUnreadableFiles) {
  const auto out = dir_ / "scores.csv";
  const auto input = fixture("customers_api.csv").string();
  EXPECT_EQ(run_nbo({"score", "--input", input}, dir_).exit_code, 2);
  EXPECT_EQ(run_nbo({"score", "--input", input, "--out", out.string(), "--reasons", "-1"}, dir_)
                .exit_code,
            2);
  EXPECT_EQ(run_nbo({"score", "--bogus"}, dir_).exit_code, 2);
  const auto help = run_nbo({"score", "--help"}, dir_);
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("--reasons"), std::string::npos) << help.output;
  EXPECT_NE(run_nbo({"--help"}, dir_).output.find("score"), std::string::npos);

  const auto no_model = run_nbo({"score", "--model", (dir_ / "absent.json").string(), "--input",
                                 input, "--out", out.string()},
                                dir_);
  EXPECT_EQ(no_model.exit_code, 1);
  EXPECT_NE(no_model.output.find("absent.json"), std::string::npos) << no_model.output;

  const auto no_input = run_nbo({"score", "--model", model_file().string(), "--input",
                                 (dir_ / "absent.csv").string(), "--out", out.string()},
                                dir_);
  EXPECT_EQ(no_input.exit_code, 1);
  EXPECT_NE(no_input.output.find("absent.csv"), std::string::npos) << no_input.output;

  write_text(dir_ / "no_id.csv", "tenure_days\n5\n");
  const auto no_id = run_nbo({"score", "--model", model_file().string(), "--input",
                              (dir_ / "no_id.csv").string(), "--out", out.string()},
                             dir_);
  EXPECT_EQ(no_id.exit_code, 1);
  EXPECT_NE(no_id.output.find("no_id.csv"), std::string::npos) << no_id.output;
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST_F(ScoreCommandEndToEnd, RawExportDirectory) {
  if (!std::filesystem::exists(market_dir() / "market_file.csv")) {
    GTEST_SKIP() << "the store export is not at " << market_dir()
                 << " (NBO_TEST_DATA_DIR); the raw-export mode is not tested";
  }
  const auto out = dir_ / "scores.csv";
  const auto run = run_nbo({"score", "--model", model_file().string(), "--input",
                            market_dir().string(), "--out", out.string()},
                           dir_);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("1296 rows scored, 0 failed"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("excluded by ingestion"), std::string::npos) << run.output;
  const auto table = train::read_csv(out);
  EXPECT_EQ(table.rows.size(), 1296U);
  for (const auto& row : table.rows) ASSERT_EQ(row.fields.back(), "") << row.fields[0];
}

}  // namespace
}  // namespace nbo::cli
