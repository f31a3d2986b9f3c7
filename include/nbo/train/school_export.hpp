// Ingestion of the online school's export (../shared/data/school, see its SOURCE.md) into a
// catalog, users and a time-ordered event log per user (offers/domain.hpp).
//
// Files, read with the strict CSV reader (csv.hpp; CRLF or LF, a header that must name exactly
// these columns, no extra ones):
//   courses.csv  course_id, title, direction, level, price_rub, duration_months, active
//   users.csv    user_id, registered_at, age_group, region, allow_email
//   events.csv   event_id, user_id, event_time, event_type, course_id, amount_rub
//
// POLICY, the same discipline as the store export (market_export.hpp): every fix is counted in
// SchoolIngestionReport::fixes under a rule name; every row that cannot be used is an
// IngestionIssue (file, line, column, reason, user id) in `rejected` and is left out; a
// malformed FILE throws DataError naming file, line and column.
//   Defects of the shared export, and what happens to them:
//   - exact duplicate event rows (same event_id and every field equal; 749 in the shared
//     export): the repeat is dropped (fix "events.csv exact duplicate row dropped");
//   - course ids with a stray '9' after the 'C' (C91019 for C1019; 106 rows): read as the
//     catalog course they spell once the '9' is removed, when that course exists (fix
//     "events.csv course id 'C9NNNN' read as 'CNNNN'"); otherwise rejected as unknown;
//   - events without a user_id (170 rows): rejected (no user to attach them to);
//   - events dated after the export's period (41 rows on the two days after it, mostly
//     purchases, which would leak the future into a time split): rejected. The period is one
//     year from the first event's day (SOURCE.md: "one year of their actions"), unless
//     SchoolIngestionPolicy::period_end says otherwise;
//   - lessons completed before the course's purchase (729 user-course pairs: the first lesson
//     comes minutes to about a day and a half before the purchase row, which was logged late):
//     the purchase is moved to one second before the first lesson (fix "purchase logged after
//     the course's first lesson: moved just before it", per pair), so the course is owned when
//     its lessons are studied and the purchase stays a purchase;
//   - lessons of a course never bought in the export (43 pairs: bought before it began, or a
//     lost purchase row): kept, and the course counts as owned from the first lesson on (fix
//     "lesson_completed without any purchase: course taken as owned", per pair), so it is never
//     offered to that user.
//   Other checks (none fire on the shared export, each has a test):
//   - an event_id seen before with different fields: the later row is rejected;
//   - an unknown event_type, user_id or course_id, a page_view's course_id (dropped, counted), a
//     course event without course_id, an unparsable event_time: rejected at that column;
//   - a purchase without amount_rub takes the catalog price (fix); a non-positive or
//     non-numeric amount is rejected; amount_rub on another event type is rejected;
//   - a repeat purchase of a course the user already owns: dropped (fix);
//   - rows out of time order are put in order per user (fix "events.csv row out of time order");
//   - courses.csv / users.csv: a duplicate id, a level outside 1..3, a non-positive price or
//     duration, active/allow_email other than 0/1, a bad registered_at date: rejected at that
//     row and column (a rejected course's events are then rejected as unknown course).
//
// Thread safety: reentrant. Ownership: the result owns everything.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nbo/offers/domain.hpp"
#include "nbo/offers/features.hpp"
#include "nbo/train/csv.hpp"
#include "nbo/train/market_export.hpp"

namespace nbo::train {

inline constexpr std::string_view kSchoolCoursesFile = "courses.csv";
inline constexpr std::string_view kSchoolUsersFile = "users.csv";
inline constexpr std::string_view kSchoolEventsFile = "events.csv";

using SchoolUser = offers::User;

struct SchoolIngestionReport {
  std::map<std::string, std::size_t> fixes;  // rule -> count
  std::vector<IngestionIssue> rejected;      // in file order (courses, users, events), by line
  std::size_t courses_read = 0;
  std::size_t users_read = 0;
  std::size_t event_rows_read = 0;
  std::size_t events_kept = 0;
  offers::Seconds period_start = 0;
  offers::Seconds period_end = 0;  // exclusive
  // Rejections counted by (file, column, reason): the rows themselves are in `rejected`.
  std::map<std::string, std::size_t> rejected_by_rule() const;
  // Multi-line text: counts, every fix, rejections by rule, then at most `max_listed` rows.
  std::string summary(std::size_t max_listed = 20) const;
};

struct SchoolDataset {
  offers::Catalog catalog;
  std::vector<SchoolUser> users;  // users.csv order
  // events[i]: users[i]'s events, time-ordered (ties keep the file's order).
  std::vector<std::vector<offers::Event>> events;
  SchoolIngestionReport report;
  std::string fingerprint;  // "sha256:" over (name, size, bytes) of the three files, in order
};

struct SchoolIngestionPolicy {
  // Exclusive end of the export's period; nullopt: one year (365 days, 366 across a 29 Feb)
  // after the first event's day.
  std::optional<offers::Seconds> period_end;
};

// Reads `dir`/{courses,users,events}.csv. Throws DataError for a malformed file.
SchoolDataset load_school_export(const std::filesystem::path& dir,
                                 const SchoolIngestionPolicy& policy = {});

}  // namespace nbo::train
