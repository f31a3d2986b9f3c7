// Ingestion of the school export: each class of malformed file fails with file, line and
// column; each defect of the shared export is fixed or rejected and counted.
#include "nbo/train/school_export.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "offers/offers_fixture.hpp"
#include "support/temp_dir.hpp"

namespace nbo::train {
namespace {

using ::nbo::offers::testing::crlf;
using ::nbo::offers::testing::ExportFiles;
using ::nbo::offers::testing::kEvents;
using ::nbo::test_support::TempDir;
using ::testing::HasSubstr;

SchoolDataset load(const ExportFiles& files) {
  TempDir dir;
  files.write(dir.path());
  return load_school_export(dir.path());
}

std::string load_error(const ExportFiles& files) {
  try {
    load(files);
  } catch (const DataError& error) {
    return error.what();
  }
  return "(no error)";
}

ExportFiles with_events(std::initializer_list<std::string_view> extra) {
  ExportFiles files;
  for (const auto line : extra) {
    files.events += line;
    files.events += "\r\n";
  }
  return files;
}

std::size_t user_events(const SchoolDataset& data, std::string_view user) {
  for (std::size_t i = 0; i < data.users.size(); ++i) {
    if (data.users[i].user_id == user) return data.events[i].size();
  }
  return 0;
}

TEST(SchoolExport, CleanExportLoadsEverythingInTimeOrder) {
  const auto data = load(ExportFiles{});
  EXPECT_EQ(data.catalog.size(), 5U);
  EXPECT_EQ(data.users.size(), 3U);
  EXPECT_EQ(data.report.events_kept, 9U);
  EXPECT_TRUE(data.report.rejected.empty()) << data.report.summary();
  EXPECT_TRUE(data.report.fixes.empty()) << data.report.summary();
  EXPECT_EQ(user_events(data, "U1"), 6U);
  EXPECT_EQ(data.report.period_end, *offers::parse_time("2026-09-01"));
  const auto& u1 = data.events[0];
  for (std::size_t i = 1; i < u1.size(); ++i) EXPECT_LE(u1[i - 1].time, u1[i].time);
  EXPECT_EQ(u1[4].kind, offers::EventKind::kPurchase);
  EXPECT_DOUBLE_EQ(u1[4].amount_rub, 25200);
  EXPECT_FALSE(data.users[1].allow_email);
  EXPECT_TRUE(data.fingerprint.starts_with("sha256:"));
}

// ---- malformed files: DataError with file, line and column

TEST(SchoolExport, MissingFileIsNamed) {
  TempDir dir;
  ExportFiles{}.write(dir.path());
  std::filesystem::remove(dir / "users.csv");
  try {
    load_school_export(dir.path());
    FAIL() << "no error";
  } catch (const DataError& error) {
    EXPECT_THAT(error.what(), HasSubstr("users.csv"));
  }
}

TEST(SchoolExport, MissingColumnIsNamed) {
  ExportFiles files;
  files.courses = crlf({"course_id,title,direction,level,price_rub,active", "C1,a,b,1,10,1"});
  EXPECT_THAT(load_error(files), HasSubstr("courses.csv"));
  EXPECT_THAT(load_error(files), HasSubstr("duration_months"));
}

TEST(SchoolExport, ExtraColumnIsRefused) {
  ExportFiles files;
  files.users = crlf({"user_id,registered_at,age_group,region,allow_email,phone",
                      "U1,2025-09-01,25-34,Москва,1,123"});
  EXPECT_THAT(load_error(files), HasSubstr("users.csv:1"));
  EXPECT_THAT(load_error(files), HasSubstr("phone"));
}

TEST(SchoolExport, RowWithWrongFieldCountNamesItsLine) {
  auto files = with_events({"9,U1,2025-09-05 10:00:00,page_view,,,extra"});
  EXPECT_THAT(load_error(files), HasSubstr("events.csv:11"));
}

TEST(SchoolExport, EmptyFileAndBrokenQuotingAndBadUtf8AreRefused) {
  ExportFiles empty;
  empty.events = "";
  EXPECT_THAT(load_error(empty), HasSubstr("events.csv"));
  auto quoted = with_events({"9,U1,\"2025-09-05 10:00:00,page_view,,"});
  EXPECT_THAT(load_error(quoted), HasSubstr("events.csv:11"));
  ExportFiles utf8;
  utf8.courses += "C1020,\xff\xfe,design,1,100,1,1\r\n";
  EXPECT_THAT(load_error(utf8), HasSubstr("courses.csv:7"));
}

// ---- the shared export's defects

TEST(SchoolExport, ExactDuplicateRowIsDroppedAndCounted) {
  auto files = with_events({"8,U2,2026-08-30 12:00:00,course_view,C1001,"});
  const auto data = load(files);
  EXPECT_EQ(data.report.fixes.at("events.csv exact duplicate row dropped"), 1U);
  EXPECT_EQ(data.report.events_kept, 9U);
  EXPECT_TRUE(data.report.rejected.empty());
}

TEST(SchoolExport, ReusedEventIdWithOtherValuesIsRejectedAtTheDifferingColumn) {
  auto files = with_events({"8,U2,2026-08-30 12:00:00,course_view,C1002,"});
  const auto data = load(files);
  ASSERT_EQ(data.report.rejected.size(), 1U);
  EXPECT_EQ(data.report.rejected[0].line, 11U);
  EXPECT_EQ(data.report.rejected[0].column, "course_id");
}

TEST(SchoolExport, StrayNineInCourseIdIsRepairedWhenTheCourseExists) {
  auto files = with_events({"9,U3,2025-09-05 10:00:00,course_view,C91003,",
                            "10,U3,2025-09-05 10:01:00,course_view,C95555,"});
  const auto data = load(files);
  EXPECT_EQ(data.report.fixes.at("events.csv course id 'C9NNNN' read as 'CNNNN'"), 1U);
  ASSERT_EQ(data.report.rejected.size(), 1U);
  EXPECT_EQ(data.report.rejected[0].column, "course_id");
  EXPECT_EQ(data.report.rejected[0].line, 12U);
  EXPECT_THAT(data.report.rejected[0].reason, HasSubstr("C95555"));
  const auto& u3 = data.events[2];
  EXPECT_EQ(u3.back().course, data.catalog.find("C1003"));
}

TEST(SchoolExport, EventWithoutUserIsRejected) {
  auto files = with_events({"9,,2025-09-05 10:00:00,page_view,,"});
  const auto data = load(files);
  ASSERT_EQ(data.report.rejected.size(), 1U);
  EXPECT_EQ(data.report.rejected[0].file, "events.csv");
  EXPECT_EQ(data.report.rejected[0].line, 11U);
  EXPECT_EQ(data.report.rejected[0].column, "user_id");
}

TEST(SchoolExport, EventAfterThePeriodIsRejectedSoItCannotLeak) {
  auto files = with_events({"9,U3,2026-09-01 00:02:04,purchase,C1002,69200",
                            "10,U3,2026-08-31 23:59:59,purchase,C1002,69200"});
  const auto data = load(files);
  ASSERT_EQ(data.report.rejected.size(), 1U);
  EXPECT_EQ(data.report.rejected[0].column, "event_time");
  EXPECT_EQ(data.report.rejected[0].line, 11U);
  EXPECT_EQ(user_events(data, "U3"), 2U);
}

TEST(SchoolExport, LessonWithoutPurchaseMakesTheCourseOwnedAndIsCounted) {
  auto files = with_events({"9,U3,2025-09-05 10:00:00,lesson_completed,C1003,",
                            "10,U3,2025-09-06 10:00:00,lesson_completed,C1003,"});
  const auto data = load(files);
  EXPECT_EQ(data.report.fixes.at("lesson_completed without any purchase: course taken as owned"),
            1U);
  const auto state =
      offers::summarize(data.events[2], *offers::parse_time("2026-01-01"), data.catalog);
  EXPECT_TRUE(state.courses[static_cast<std::size_t>(data.catalog.find("C1003"))].owned);
}

TEST(SchoolExport, PurchaseLoggedAfterTheFirstLessonIsMovedBeforeIt) {
  auto files = with_events({"9,U3,2025-09-05 10:00:00,lesson_completed,C1003,",
                            "10,U3,2025-09-05 20:00:00,purchase,C1003,142300",
                            "11,U3,2025-09-06 10:00:00,lesson_completed,C1003,"});
  const auto data = load(files);
  EXPECT_EQ(
      data.report.fixes.at("purchase logged after the course's first lesson: moved just before it"),
      1U);
  EXPECT_EQ(data.report.fixes.count("events.csv repeat purchase of an owned course dropped"), 0U);
  const auto& u3 = data.events[2];
  ASSERT_EQ(u3.size(), 4U);
  EXPECT_EQ(u3[1].kind, offers::EventKind::kPurchase);
  EXPECT_EQ(u3[1].time, *offers::parse_time("2025-09-05 09:59:59"));
  EXPECT_EQ(u3[2].kind, offers::EventKind::kStudy);
}

// ---- other checks

TEST(SchoolExport, RowLevelProblemsAreRejectedAtTheirColumn) {
  auto files = with_events({
      "9,U9,2025-09-05 10:00:00,page_view,,",            // unknown user
      "10,U3,2025-13-05 10:00:00,page_view,,",           // bad time
      "11,U3,2025-09-05 10:00:00,scroll,,",              // unknown type
      "12,U3,2025-09-05 10:00:00,course_view,,",         // course event without course
      "13,U3,2025-09-05 10:00:00,purchase,C1002,-5",     // bad amount
      "14,U3,2025-09-05 10:00:00,course_view,C1002,10",  // amount on a view
  });
  const auto data = load(files);
  ASSERT_EQ(data.report.rejected.size(), 6U) << data.report.summary();
  const char* columns[] = {"user_id",   "event_time", "event_type",
                           "course_id", "amount_rub", "amount_rub"};
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(data.report.rejected[i].column, columns[i]) << i;
    EXPECT_EQ(data.report.rejected[i].line, 11U + i) << i;
  }
}

TEST(SchoolExport, PurchaseFixes) {
  auto files = with_events({
      "9,U3,2025-09-05 10:00:00,purchase,C1002,",        // no amount: catalog price
      "10,U3,2025-09-06 10:00:00,purchase,C1002,69200",  // repeat purchase: dropped
      "11,U3,2025-09-06 11:00:00,page_view,C1002,",      // page_view course dropped
  });
  const auto data = load(files);
  EXPECT_EQ(data.report.fixes.at("events.csv purchase without amount_rub: catalog price used"), 1U);
  EXPECT_EQ(data.report.fixes.at("events.csv repeat purchase of an owned course dropped"), 1U);
  EXPECT_EQ(data.report.fixes.at("events.csv page_view course_id dropped"), 1U);
  const auto& u3 = data.events[2];
  ASSERT_EQ(u3.size(), 3U);
  EXPECT_DOUBLE_EQ(u3[1].amount_rub, 69200);
  EXPECT_EQ(u3[2].course, -1);
}

TEST(SchoolExport, OutOfOrderRowsAreSortedPerUser) {
  auto files = with_events({"9,U3,2025-09-03 10:00:00,page_view,,"});
  const auto data = load(files);
  EXPECT_EQ(data.report.fixes.at("events.csv row out of time order (sorted per user)"), 1U);
  const auto& u3 = data.events[2];
  ASSERT_EQ(u3.size(), 2U);
  EXPECT_LT(u3[0].time, u3[1].time);
}

TEST(SchoolExport, BadCatalogAndUserRowsAreRejected) {
  ExportFiles files;
  files.courses += crlf({"C1001,dup,design,1,100,1,1", "C1020,x,design,4,100,1,1",
                         "C1021,x,design,1,0,1,1", "C1022,x,design,1,100,1,2"});
  files.users += crlf({"U1,2025-09-01,25-34,Москва,1", "U4,2025-02-30,25-34,Москва,1",
                       "U5,2025-09-01,25-34,Москва,yes"});
  const auto data = load(files);
  ASSERT_EQ(data.report.rejected.size(), 7U) << data.report.summary();
  EXPECT_EQ(data.report.rejected[0].column, "course_id");
  EXPECT_EQ(data.report.rejected[1].column, "level");
  EXPECT_EQ(data.report.rejected[2].column, "price_rub");
  EXPECT_EQ(data.report.rejected[3].column, "active");
  EXPECT_EQ(data.report.rejected[4].column, "user_id");
  EXPECT_EQ(data.report.rejected[5].column, "registered_at");
  EXPECT_EQ(data.report.rejected[6].column, "allow_email");
  EXPECT_EQ(data.catalog.size(), 5U);
  EXPECT_EQ(data.users.size(), 3U);
}

// The shared export: every defect SOURCE.md hints at is found and counted.
TEST(SchoolExport, SharedExportDefectsAreCounted) {
  const std::filesystem::path dir = std::filesystem::path(NBO_TEST_DATA_DIR) / "school";
  if (!std::filesystem::exists(dir / "events.csv")) {
    GTEST_SKIP() << "shared school export not found at " << dir;
  }
  const auto data = load_school_export(dir);
  const auto& fixes = data.report.fixes;
  EXPECT_EQ(fixes.at("events.csv exact duplicate row dropped"), 749U);
  EXPECT_GT(fixes.at("events.csv course id 'C9NNNN' read as 'CNNNN'"), 50U);
  EXPECT_EQ(fixes.at("purchase logged after the course's first lesson: moved just before it"),
            724U);
  EXPECT_EQ(fixes.at("lesson_completed without any purchase: course taken as owned"), 5U);
  EXPECT_EQ(fixes.count("events.csv repeat purchase of an owned course dropped"), 0U);
  const auto rules = data.report.rejected_by_rule();
  EXPECT_EQ(rules.at("events.csv column 'user_id': empty user id"), 170U);
  std::size_t after_period = 0;
  for (const auto& issue : data.report.rejected) {
    if (issue.column == "event_time") ++after_period;
  }
  EXPECT_EQ(after_period, 41U);
  EXPECT_EQ(data.catalog.size(), 89U);
  EXPECT_EQ(data.users.size(), 10000U);
}

}  // namespace
}  // namespace nbo::train
