#include "nbo/train/market_export.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace nbo::train {
namespace {

namespace fs = std::filesystem;
using features::FieldId;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const fs::path kFixtures = fs::path(NBO_FIXTURES_DIR) / "market";
const fs::path kRealExport = fs::path(NBO_TEST_DATA_DIR) / "market";

std::vector<std::string> ids_of(const MarketDataset& data) {
  std::vector<std::string> ids;
  for (const auto& c : data.customers) ids.push_back(c.customer_id);
  return ids;
}

const LabeledCustomer& customer(const MarketDataset& data, std::string_view id) {
  const auto it = std::find_if(data.customers.begin(), data.customers.end(),
                               [&](const LabeledCustomer& c) { return c.customer_id == id; });
  if (it == data.customers.end()) throw std::runtime_error("no customer " + std::string(id));
  return *it;
}

// A scratch copy of a fixture export that a test may corrupt; removed on destruction.
class ScratchExport {
 public:
  explicit ScratchExport(const std::string& fixture) {
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() /
           ("nbo_train_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    for (const auto& entry : fs::directory_iterator(kFixtures / fixture)) {
      fs::copy_file(entry.path(), dir_ / entry.path().filename());
    }
  }
  ~ScratchExport() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  ScratchExport(const ScratchExport&) = delete;
  ScratchExport& operator=(const ScratchExport&) = delete;

  const fs::path& dir() const { return dir_; }
  void write(const std::string& file, const std::string& bytes) const {
    std::ofstream out(dir_ / file, std::ios::binary | std::ios::trunc);
    out << bytes;
  }

 private:
  fs::path dir_;
};

DataError load_error(const fs::path& dir) {
  try {
    load_market_export(dir);
  } catch (const DataError& e) {
    return e;
  }
  ADD_FAILURE() << "no DataError loading " << dir;
  return DataError("", 0, "", "");
}

// --- the fixture with every quirk ---------------------------------------------------------

TEST(MarketExport, CleanFixtureLoadsEveryField) {
  const MarketDataset data = load_market_export(kFixtures / "clean");
  EXPECT_THAT(ids_of(data), ElementsAre("2001", "2002", "2003"));
  EXPECT_TRUE(data.report.rejected.empty());
  EXPECT_EQ(data.report.fixes,
            (std::map<std::string, std::size_t>{{"money.csv decimal comma", 3}}));
  EXPECT_EQ(data.report.customers_read, 3u);
  EXPECT_EQ(data.report.customers_kept, 3u);

  const LabeledCustomer& c = customer(data, "2001");
  EXPECT_EQ(c.declined, 1);
  EXPECT_DOUBLE_EQ(c.profit, 0.98);
  for (const auto& field : features::store_fields()) {
    EXPECT_TRUE(c.customer.has(field.id)) << field.api_name;
  }
  EXPECT_EQ(c.customer.category(FieldId::kServiceType), "премиум");
  EXPECT_TRUE(c.customer.boolean(FieldId::kAllowMessages));
  EXPECT_DOUBLE_EQ(c.customer.number(FieldId::kMarketingActivity6m), 3.4);
  EXPECT_DOUBLE_EQ(c.customer.number(FieldId::kTenureDays), 121);
  EXPECT_EQ(c.customer.category(FieldId::kPopularCategory), "Товары для детей");
  EXPECT_DOUBLE_EQ(c.customer.number(FieldId::kPagesPerVisit), 5);
  EXPECT_DOUBLE_EQ(c.customer.number(FieldId::kRevenue2MonthsAgo), 4472.0);
  EXPECT_DOUBLE_EQ(c.customer.number(FieldId::kRevenueLastMonth), 5216.0);
  EXPECT_DOUBLE_EQ(c.customer.number(FieldId::kRevenueThisMonth), 4971.6);
  EXPECT_DOUBLE_EQ(c.customer.number(FieldId::kMinutesLastMonth), 13);
  EXPECT_DOUBLE_EQ(c.customer.number(FieldId::kMinutesThisMonth), 14);
  EXPECT_DOUBLE_EQ(c.customer.number(FieldId::kProfit), 0.98);
  EXPECT_EQ(customer(data, "2002").declined, 0);
  EXPECT_FALSE(customer(data, "2002").customer.boolean(FieldId::kAllowMessages));
  EXPECT_THAT(data.fingerprint, ::testing::MatchesRegex("sha256:[0-9a-f]{64}"));
}

TEST(MarketExport, QuirksFixtureKeepsFixesAndRejectsExactly) {
  const MarketDataset data = load_market_export(kFixtures / "quirks");
  const IngestionReport& r = data.report;
  EXPECT_THAT(ids_of(data), ElementsAre("1001", "1002", "1006", "1009"));
  EXPECT_EQ(r.customers_read, 14u);
  EXPECT_EQ(r.customers_kept, 4u);
  EXPECT_THAT(r.excluded_ids, ElementsAre("1003", "1004", "1005", "1007", "1008", "1010", "1011",
                                          "1012", "1013", "1014"));
  const std::map<std::string, std::size_t> fixes{
      {"market_file.csv exact duplicate row dropped", 1},
      {"market_money.csv exact duplicate row dropped", 1},
      {"money.csv decimal comma", 11},
      {"period 'предыдцщий_месяц' -> 'предыдущий_месяц'", 12},
      {"popular_category 'Косметика и аксессуары' -> 'Косметика и аксесуары'", 1},
      {"service_type 'стандартт' -> 'стандарт'", 1},
  };
  EXPECT_EQ(r.fixes, fixes);

  struct Expected {
    std::string file;
    std::size_t line;
    std::string column;
    std::string customer_id;
    std::string reason_part;
  };
  const std::vector<Expected> expected{
      {"market_file.csv", 0, "id", "1011", "no row for this customer (seen in money.csv)"},
      {"market_file.csv", 9, "Популярная_категория", "1008", "unknown value \"Садовый инвентарь\""},
      {"market_file.csv", 12, "Покупательская активность", "1012", "unknown label 'Выросла'"},
      {"market_file.csv", 13, "Маркет_актив_6_мес", "1013", "'abc' is not a number"},
      {"market_file.csv", 14, "Акционные_покупки", "1014", "must be in [0, 1], got 1.5"},
      {"market_money.csv", 0, "id", "1011", "no rows for this customer"},
      {"market_money.csv", 8, "Выручка", "1003", "zero revenue in 'препредыдущий_месяц'"},
      {"market_money.csv", 13, "Выручка", "1004", "revenue 106862.2 in 'текущий_месяц' is above"},
      {"market_time.csv", 0, "Период", "1010", "no row for period 'предыдущий_месяц'"},
      {"market_time.csv", 0, "id", "1011", "no rows for this customer"},
      {"market_time.csv", 16, "минут", "1007",
       "conflicting duplicate of line 14: '16' there, '99' here"},
      {"money.csv", 0, "id", "1005", "no row for this customer"},
  };
  ASSERT_EQ(r.rejected.size(), expected.size()) << r.summary();
  for (std::size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(to_string(r.rejected[i]));
    EXPECT_EQ(r.rejected[i].file, expected[i].file);
    EXPECT_EQ(r.rejected[i].line, expected[i].line);
    EXPECT_EQ(r.rejected[i].column, expected[i].column);
    EXPECT_EQ(r.rejected[i].customer_id, expected[i].customer_id);
    EXPECT_THAT(r.rejected[i].reason, HasSubstr(expected[i].reason_part));
  }
  EXPECT_EQ(to_string(r.rejected[3]),
            "market_file.csv:13: column 'Маркет_актив_6_мес': 'abc' is not a number "
            "(customer 1013)");

  // Fixed values are canonical; profit is both on the record and on the RawCustomer.
  const LabeledCustomer& c1002 = customer(data, "1002");
  EXPECT_EQ(c1002.customer.category(FieldId::kServiceType), "стандарт");
  EXPECT_EQ(customer(data, "1009").customer.category(FieldId::kPopularCategory),
            "Косметика и аксесуары");
  EXPECT_DOUBLE_EQ(customer(data, "1009").profit, 5.01);
  EXPECT_DOUBLE_EQ(customer(data, "1006").profit, 4.0);
  EXPECT_DOUBLE_EQ(customer(data, "1006").customer.number(FieldId::kProfit), 4.0);
  EXPECT_DOUBLE_EQ(customer(data, "1001").customer.number(FieldId::kMinutesLastMonth), 12);

  const std::string summary = r.summary();
  EXPECT_THAT(summary, HasSubstr("14 customers read, 4 kept, 10 excluded (12 issues)"));
  EXPECT_THAT(summary, HasSubstr("service_type 'стандартт' -> 'стандарт'"));
  EXPECT_THAT(summary, HasSubstr("market_money.csv:13: column 'Выручка': revenue 106862.2"));
  EXPECT_THAT(r.summary(2), HasSubstr("... and 10 more"));
}

TEST(MarketExport, PolicyCanKeepZeroRevenueOutliersAndMissingProfit) {
  IngestionPolicy policy;
  policy.exclude_zero_revenue_months = false;
  policy.max_monthly_revenue = std::numeric_limits<double>::infinity();
  policy.require_profit = false;
  const MarketDataset data = load_market_export(kFixtures / "quirks", policy);
  EXPECT_THAT(ids_of(data), ElementsAre("1001", "1002", "1003", "1004", "1005", "1006", "1009"));
  EXPECT_DOUBLE_EQ(customer(data, "1004").customer.number(FieldId::kRevenueThisMonth), 106862.2);
  EXPECT_TRUE(std::isnan(customer(data, "1005").profit));
  EXPECT_FALSE(customer(data, "1005").customer.has(FieldId::kProfit));
}

TEST(MarketExport, IdsSortNumerically) {
  EXPECT_TRUE(customer_id_less("99", "100"));
  EXPECT_FALSE(customer_id_less("100", "99"));
  EXPECT_TRUE(customer_id_less("100", "a"));
  EXPECT_TRUE(customer_id_less("a", "b"));
  EXPECT_FALSE(customer_id_less("7", "7"));
}

TEST(MarketExport, FingerprintChangesWithAnyByte) {
  ScratchExport scratch("clean");
  const std::string before = load_market_export(scratch.dir()).fingerprint;
  EXPECT_EQ(load_market_export(kFixtures / "clean").fingerprint, before);
  scratch.write("money.csv", "id;Прибыль\r\n2001;0,98\r\n2002;4,16\r\n2003;3,14\r\n");
  EXPECT_NE(load_market_export(scratch.dir()).fingerprint, before);
}

// --- malformed files throw, naming file, line and column ----------------------------------

TEST(MarketExportMalformed, WrongHeader) {
  ScratchExport scratch("clean");
  scratch.write("market_money.csv", "id,Период,Выручка_руб\n2001,текущий_месяц,1.0\n");
  const DataError e = load_error(scratch.dir());
  EXPECT_EQ(e.file(), "market_money.csv");
  EXPECT_EQ(e.line(), 1u);
  EXPECT_EQ(e.column(), "Выручка");
  EXPECT_THAT(e.what(), HasSubstr("market_money.csv:1: column 'Выручка': missing from the header"));
}

TEST(MarketExportMalformed, ExtraHeaderColumn) {
  ScratchExport scratch("clean");
  scratch.write("money.csv", "id;Прибыль;Комментарий\r\n2001;0,98;x\r\n");
  const DataError e = load_error(scratch.dir());
  EXPECT_EQ(e.file(), "money.csv");
  EXPECT_EQ(e.line(), 1u);
  EXPECT_EQ(e.column(), "Комментарий");
}

TEST(MarketExportMalformed, NonNumberInNumericColumnRejectsTheCustomer) {
  // A bad value is a data problem (policy e), not a malformed file: the customer is rejected
  // with file, line and column, and the rest loads.
  ScratchExport scratch("clean");
  scratch.write("market_money.csv",
                "id,Период,Выручка\n"
                "2001,препредыдущий_месяц,4472.0\n2001,текущий_месяц,4971.6\n"
                "2001,предыдущий_месяц,5216.0\n2002,препредыдущий_месяц,4472.0\n"
                "2002,текущий_месяц,\"12,x\"\n2002,предыдущий_месяц,5216.0\n"
                "2003,препредыдущий_месяц,4472.0\n2003,текущий_месяц,4971.6\n"
                "2003,предыдущий_месяц,-5\n");
  const MarketDataset data = load_market_export(scratch.dir());
  EXPECT_THAT(ids_of(data), ElementsAre("2001"));
  ASSERT_EQ(data.report.rejected.size(), 2u);
  EXPECT_EQ(to_string(data.report.rejected[0]),
            "market_money.csv:6: column 'Выручка': '12,x' is not a number (customer 2002)");
  EXPECT_EQ(data.report.rejected[1].line, 10u);
  EXPECT_EQ(data.report.rejected[1].column, "Выручка");
  EXPECT_THAT(data.report.rejected[1].reason, HasSubstr("must be >= 0, got -5"));
}

TEST(MarketExportMalformed, BadUtf8) {
  ScratchExport scratch("clean");
  scratch.write("market_time.csv",
                "id,Период,минут\n2001,текущий_месяц,14\n2001,пред\xD1\x8B\xFF_месяц,13\n");
  const DataError e = load_error(scratch.dir());
  EXPECT_EQ(e.file(), "market_time.csv");
  EXPECT_EQ(e.line(), 3u);
  EXPECT_EQ(e.column(), "Период");
  EXPECT_THAT(e.what(), HasSubstr("market_time.csv:3: column 'Период': invalid UTF-8"));
}

TEST(MarketExportMalformed, EmptyFile) {
  ScratchExport scratch("clean");
  scratch.write("money.csv", "");
  const DataError e = load_error(scratch.dir());
  EXPECT_EQ(e.file(), "money.csv");
  EXPECT_EQ(e.line(), 1u);
  EXPECT_EQ(e.column(), "id");
  EXPECT_EQ(std::string(e.what()), "money.csv:1: column 'id': the file is empty (no header line)");
}

TEST(MarketExportMalformed, MissingFile) {
  ScratchExport scratch("clean");
  fs::remove(scratch.dir() / "market_time.csv");
  const DataError e = load_error(scratch.dir());
  EXPECT_EQ(e.file(), "market_time.csv");
  EXPECT_EQ(e.line(), 0u);  // the whole file: no line or column applies
  EXPECT_EQ(e.column(), "");
  EXPECT_THAT(e.what(), HasSubstr("market_time.csv: cannot read '"));
  EXPECT_THAT(e.what(), HasSubstr("file not found"));
}

TEST(MarketExportMalformed, RaggedRow) {
  ScratchExport scratch("clean");
  scratch.write("money.csv", "id;Прибыль\r\n2001;0,98\r\n2002\r\n");
  const DataError e = load_error(scratch.dir());
  EXPECT_EQ(e.file(), "money.csv");
  EXPECT_EQ(e.line(), 3u);
  EXPECT_EQ(e.column(), "Прибыль");
}

// --- the real export -------------------------------------------------------------------------

TEST(MarketExportReal, NumbersOfTheSharedExport) {
  if (!fs::exists(kRealExport / "market_file.csv")) {
    GTEST_SKIP() << "shared market data not found at " << kRealExport;
  }
  const MarketDataset data = load_market_export(kRealExport);
  const IngestionReport& r = data.report;
  EXPECT_EQ(r.customers_read, 1300u);
  EXPECT_EQ(r.customers_kept, 1296u);
  EXPECT_EQ(data.customers.size(), 1296u);
  EXPECT_THAT(r.excluded_ids, ElementsAre("215348", "215357", "215359", "215380"));
  const std::map<std::string, std::size_t> fixes{
      {"money.csv decimal comma", 1284},  // 16 profits are whole numbers
      {"period 'предыдцщий_месяц' -> 'предыдущий_месяц'", 1300},
      {"service_type 'стандартт' -> 'стандарт'", 10},
  };
  EXPECT_EQ(r.fixes, fixes);

  // Six zero-revenue months of three customers, and the outlier.
  std::vector<std::string> where;
  for (const auto& issue : r.rejected) {
    EXPECT_EQ(issue.file, "market_money.csv");
    EXPECT_EQ(issue.column, "Выручка");
    where.push_back(issue.customer_id + ":" + std::to_string(issue.line));
  }
  EXPECT_THAT(where, ElementsAre("215348:2", "215348:4", "215357:30", "215357:31", "215359:36",
                                 "215359:37", "215380:100"));
  EXPECT_THAT(r.rejected.back().reason, HasSubstr("106862.2"));

  std::size_t declined = 0;
  for (const auto& c : data.customers) {
    declined += static_cast<std::size_t>(c.declined);
    EXPECT_FALSE(std::isnan(c.profit));
  }
  EXPECT_EQ(declined, 494u);
  EXPECT_EQ(data.customers.size() - declined, 802u);
  EXPECT_TRUE(std::is_sorted(data.customers.begin(), data.customers.end(),
                             [](const LabeledCustomer& a, const LabeledCustomer& b) {
                               return customer_id_less(a.customer_id, b.customer_id);
                             }));

  const MarketDataset again = load_market_export(kRealExport);
  EXPECT_EQ(again.fingerprint, data.fingerprint);
  EXPECT_EQ(ids_of(again), ids_of(data));
}

}  // namespace
}  // namespace nbo::train
