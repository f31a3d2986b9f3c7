#include "nbo/train/school_export.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "nbo/train/fingerprint.hpp"

namespace nbo::train {
namespace {

using offers::EventKind;
using offers::Seconds;

const std::vector<std::string> kCourseColumns = {
    "course_id", "title", "direction", "level", "price_rub", "duration_months", "active"};
const std::vector<std::string> kUserColumns = {"user_id", "registered_at", "age_group", "region",
                                               "allow_email"};
const std::vector<std::string> kEventColumns = {"event_id",   "user_id",   "event_time",
                                                "event_type", "course_id", "amount_rub"};

std::optional<long long> parse_integer(std::string_view text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  long long value = 0;
  std::size_t i = 0;
  const bool negative = text[0] == '-';
  if (negative) ++i;
  if (i == text.size()) return std::nullopt;
  for (; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  return negative ? -value : value;
}

class Loader {
 public:
  explicit Loader(SchoolIngestionReport& report) : report_(report) {}

  void reject(const CsvTable& table, const CsvRow& row, std::string_view column, std::string reason,
              std::string user = {}) {
    report_.rejected.push_back({.file = table.file,
                                .line = row.line,
                                .column = std::string(column),
                                .reason = std::move(reason),
                                .customer_id = std::move(user)});
  }
  void fix(const std::string& rule) { ++report_.fixes[rule]; }

 private:
  SchoolIngestionReport& report_;
};

std::vector<offers::Course> read_courses(const CsvTable& table, Loader& loader) {
  std::vector<offers::Course> courses;
  std::unordered_map<std::string, std::size_t> seen;
  const auto c_id = table.column_index("course_id");
  const auto c_title = table.column_index("title");
  const auto c_direction = table.column_index("direction");
  const auto c_level = table.column_index("level");
  const auto c_price = table.column_index("price_rub");
  const auto c_duration = table.column_index("duration_months");
  const auto c_active = table.column_index("active");
  for (const auto& row : table.rows) {
    const auto& f = row.fields;
    if (f[c_id].empty()) {
      loader.reject(table, row, "course_id", "empty course id");
      continue;
    }
    if (seen.contains(f[c_id])) {
      loader.reject(table, row, "course_id",
                    fmt::format("course '{}' already defined on an earlier line", f[c_id]));
      continue;
    }
    offers::Course course;
    course.course_id = f[c_id];
    course.title = f[c_title];
    course.direction = f[c_direction];
    if (course.title.empty()) {
      loader.reject(table, row, "title", "empty title");
      continue;
    }
    if (course.direction.empty()) {
      loader.reject(table, row, "direction", "empty direction");
      continue;
    }
    const auto level = parse_integer(f[c_level]);
    if (!level || *level < offers::kMinLevel || *level > offers::kMaxLevel) {
      loader.reject(table, row, "level", fmt::format("'{}' is not a level 1..3", f[c_level]));
      continue;
    }
    const auto price = parse_number(f[c_price]);
    if (!price || !(price->value > 0) || !std::isfinite(price->value)) {
      loader.reject(table, row, "price_rub",
                    fmt::format("'{}' is not a positive price", f[c_price]));
      continue;
    }
    const auto duration = parse_integer(f[c_duration]);
    if (!duration || *duration < 1 || *duration > 120) {
      loader.reject(table, row, "duration_months",
                    fmt::format("'{}' is not a duration of 1..120 months", f[c_duration]));
      continue;
    }
    if (f[c_active] != "0" && f[c_active] != "1") {
      loader.reject(table, row, "active", fmt::format("'{}' is not 0 or 1", f[c_active]));
      continue;
    }
    course.level = static_cast<int>(*level);
    course.price_rub = price->value;
    course.duration_months = static_cast<int>(*duration);
    course.active = f[c_active] == "1";
    seen.emplace(course.course_id, courses.size());
    courses.push_back(std::move(course));
  }
  return courses;
}

std::vector<SchoolUser> read_users(const CsvTable& table, Loader& loader) {
  std::vector<SchoolUser> users;
  std::unordered_map<std::string, std::size_t> seen;
  const auto c_id = table.column_index("user_id");
  const auto c_registered = table.column_index("registered_at");
  const auto c_age = table.column_index("age_group");
  const auto c_region = table.column_index("region");
  const auto c_email = table.column_index("allow_email");
  for (const auto& row : table.rows) {
    const auto& f = row.fields;
    if (f[c_id].empty()) {
      loader.reject(table, row, "user_id", "empty user id");
      continue;
    }
    if (seen.contains(f[c_id])) {
      loader.reject(table, row, "user_id", "user already defined on an earlier line", f[c_id]);
      continue;
    }
    const auto registered = offers::parse_time(f[c_registered]);
    if (!registered) {
      loader.reject(table, row, "registered_at",
                    fmt::format("'{}' is not a date YYYY-MM-DD", f[c_registered]), f[c_id]);
      continue;
    }
    if (f[c_email] != "0" && f[c_email] != "1") {
      loader.reject(table, row, "allow_email", fmt::format("'{}' is not 0 or 1", f[c_email]),
                    f[c_id]);
      continue;
    }
    seen.emplace(f[c_id], users.size());
    users.push_back({.user_id = f[c_id],
                     .registered_at = *registered,
                     .age_group = f[c_age],
                     .region = f[c_region],
                     .allow_email = f[c_email] == "1"});
  }
  return users;
}

// One year after the day of `first`: the same calendar day a year later, at midnight.
Seconds one_year_after_day_of(Seconds first) {
  const std::string day = offers::format_time(first).substr(0, 10);
  const int year = std::stoi(day.substr(0, 4));
  const auto month = static_cast<unsigned>(std::stoi(day.substr(5, 2)));
  auto date = static_cast<unsigned>(std::stoi(day.substr(8, 2)));
  if (month == 2 && date == 29) date = 28;
  return offers::days_from_civil(year + 1, month, date) * offers::kSecondsPerDay;
}

}  // namespace

std::map<std::string, std::size_t> SchoolIngestionReport::rejected_by_rule() const {
  std::map<std::string, std::size_t> rules;
  for (const auto& issue : rejected) {
    // Reasons quote the offending value after "': "; the rule is the text without it.
    std::string reason = issue.reason;
    if (const auto quote = reason.find("' ");
        !reason.empty() && reason[0] == '\'' && quote != std::string::npos) {
      reason = "'...'" + reason.substr(quote + 1);
    }
    ++rules[fmt::format("{} column '{}': {}", issue.file, issue.column, reason)];
  }
  return rules;
}

std::string SchoolIngestionReport::summary(std::size_t max_listed) const {
  std::string text = fmt::format(
      "courses read: {}, users read: {}, event rows read: {}, events kept: {}, period {} .. {} "
      "(exclusive)\n",
      courses_read, users_read, event_rows_read, events_kept, offers::format_time(period_start),
      offers::format_time(period_end));
  text += "fixes:\n";
  if (fixes.empty()) text += "  (none)\n";
  for (const auto& [rule, count] : fixes) text += fmt::format("  {}: {}\n", rule, count);
  text += fmt::format("rejected rows: {}\n", rejected.size());
  for (const auto& [rule, count] : rejected_by_rule()) {
    text += fmt::format("  {}: {}\n", rule, count);
  }
  for (std::size_t i = 0; i < rejected.size() && i < max_listed; ++i) {
    text += fmt::format("  {}\n", to_string(rejected[i]));
  }
  if (rejected.size() > max_listed) {
    text += fmt::format("  ... and {} more\n", rejected.size() - max_listed);
  }
  return text;
}

SchoolDataset load_school_export(const std::filesystem::path& dir,
                                 const SchoolIngestionPolicy& policy) {
  SchoolDataset data;
  auto& report = data.report;
  Loader loader(report);
  // Fingerprint over the bytes as read, in the fixed order.
  std::string fingerprint_input;
  std::vector<CsvTable> tables;
  for (const auto& [name, columns] :
       {std::pair{kSchoolCoursesFile, &kCourseColumns}, std::pair{kSchoolUsersFile, &kUserColumns},
        std::pair{kSchoolEventsFile, &kEventColumns}}) {
    const std::string bytes = read_file_bytes(dir / name);
    fingerprint_input += fmt::format("{}\n{}\n", name, bytes.size());
    fingerprint_input += bytes;
    CsvOptions options;
    options.delimiter = ',';
    options.required_columns = *columns;
    options.allow_extra_columns = false;
    tables.push_back(parse_csv(bytes, std::string(name), options));
  }
  data.fingerprint = "sha256:" + sha256_hex(fingerprint_input);
  fingerprint_input.clear();
  fingerprint_input.shrink_to_fit();

  const CsvTable& courses_table = tables[0];
  const CsvTable& users_table = tables[1];
  CsvTable& events_table = tables[2];
  data.catalog = offers::Catalog(read_courses(courses_table, loader));
  data.users = read_users(users_table, loader);
  report.courses_read = courses_table.rows.size();
  report.users_read = users_table.rows.size();
  report.event_rows_read = events_table.rows.size();

  std::unordered_map<std::string, std::size_t> user_index;
  user_index.reserve(data.users.size());
  for (std::size_t i = 0; i < data.users.size(); ++i) user_index.emplace(data.users[i].user_id, i);
  data.events.assign(data.users.size(), {});

  const auto c_id = events_table.column_index("event_id");
  const auto c_user = events_table.column_index("user_id");
  const auto c_time = events_table.column_index("event_time");
  const auto c_type = events_table.column_index("event_type");
  const auto c_course = events_table.column_index("course_id");
  const auto c_amount = events_table.column_index("amount_rub");

  // The period: from the first parsable event's day, one year unless the policy says otherwise.
  Seconds first_time = -1;
  for (const auto& row : events_table.rows) {
    if (const auto time = offers::parse_time(row.fields[c_time])) {
      first_time = first_time < 0 ? *time : std::min(first_time, *time);
    }
  }
  report.period_start = first_time < 0 ? 0 : first_time - first_time % offers::kSecondsPerDay;
  report.period_end = policy.period_end ? *policy.period_end
                                        : (first_time < 0 ? 0 : one_year_after_day_of(first_time));

  // event_id -> the row index of its first occurrence.
  std::unordered_map<std::string, std::size_t> seen_ids;
  seen_ids.reserve(events_table.rows.size());
  std::vector<Seconds> last_time(data.users.size(), -1);
  std::vector<bool> out_of_order(data.users.size(), false);
  // Per user: courses owned so far (bought, or proven by a lesson).
  std::vector<std::vector<std::int32_t>> owned(data.users.size());
  const auto owns = [&](std::size_t user, std::int32_t course) {
    const auto& list = owned[user];
    return std::find(list.begin(), list.end(), course) != list.end();
  };
  for (std::size_t r = 0; r < events_table.rows.size(); ++r) {
    const CsvRow& row = events_table.rows[r];
    const auto& f = row.fields;
    const std::string& user_id = f[c_user];
    if (f[c_id].empty()) {
      loader.reject(events_table, row, "event_id", "empty event id", user_id);
      continue;
    }
    if (const auto [it, added] = seen_ids.emplace(f[c_id], r); !added) {
      const CsvRow& first = events_table.rows[it->second];
      std::size_t differing = f.size();
      for (std::size_t c = 0; c < f.size(); ++c) {
        if (f[c] != first.fields[c]) {
          differing = c;
          break;
        }
      }
      if (differing == f.size()) {
        loader.fix("events.csv exact duplicate row dropped");
      } else {
        loader.reject(events_table, row, events_table.header[differing],
                      fmt::format("event_id {} already used on line {} with other values", f[c_id],
                                  first.line),
                      user_id);
      }
      continue;
    }
    if (user_id.empty()) {
      loader.reject(events_table, row, "user_id", "empty user id");
      continue;
    }
    const auto user_found = user_index.find(user_id);
    if (user_found == user_index.end()) {
      loader.reject(events_table, row, "user_id",
                    fmt::format("'{}' is not a user of users.csv", user_id), user_id);
      continue;
    }
    const std::size_t user = user_found->second;
    const auto time = offers::parse_time(f[c_time]);
    if (!time || f[c_time].size() != 19) {
      loader.reject(events_table, row, "event_time",
                    fmt::format("'{}' is not a time YYYY-MM-DD HH:MM:SS", f[c_time]), user_id);
      continue;
    }
    if (*time >= report.period_end || *time < report.period_start) {
      loader.reject(events_table, row, "event_time",
                    fmt::format("'{}' is outside the export's period (until {})", f[c_time],
                                offers::format_time(report.period_end)),
                    user_id);
      continue;
    }
    const auto kind = offers::kind_from_export_type(f[c_type]);
    if (!kind) {
      loader.reject(events_table, row, "event_type",
                    fmt::format("'{}' is not an event type", f[c_type]), user_id);
      continue;
    }
    std::int32_t course = -1;
    if (!offers::kind_has_course(*kind)) {
      if (!f[c_course].empty()) loader.fix("events.csv page_view course_id dropped");
    } else {
      if (f[c_course].empty()) {
        loader.reject(events_table, row, "course_id",
                      fmt::format("a {} event needs a course", f[c_type]), user_id);
        continue;
      }
      course = data.catalog.find(f[c_course]);
      const std::string& text = f[c_course];
      if (course < 0 && text.size() == 6 && text[0] == 'C' && text[1] == '9') {
        const std::string repaired = "C" + text.substr(2);
        course = data.catalog.find(repaired);
        if (course >= 0) loader.fix("events.csv course id 'C9NNNN' read as 'CNNNN'");
      }
      if (course < 0) {
        loader.reject(events_table, row, "course_id",
                      fmt::format("'{}' is not a course of courses.csv", text), user_id);
        continue;
      }
    }
    double amount = 0;
    if (*kind == EventKind::kPurchase) {
      if (f[c_amount].empty()) {
        amount = data.catalog[static_cast<std::size_t>(course)].price_rub;
        loader.fix("events.csv purchase without amount_rub: catalog price used");
      } else {
        const auto parsed = parse_number(f[c_amount]);
        if (!parsed || !(parsed->value > 0) || !std::isfinite(parsed->value)) {
          loader.reject(events_table, row, "amount_rub",
                        fmt::format("'{}' is not a positive amount", f[c_amount]), user_id);
          continue;
        }
        amount = parsed->value;
      }
      if (owns(user, course)) {
        loader.fix("events.csv repeat purchase of an owned course dropped");
        continue;
      }
    } else if (!f[c_amount].empty()) {
      loader.reject(
          events_table, row, "amount_rub",
          fmt::format("'{}' on a {} event (only purchases have an amount)", f[c_amount], f[c_type]),
          user_id);
      continue;
    }
    if (*kind == EventKind::kPurchase) owned[user].push_back(course);
    if (*time < last_time[user]) out_of_order[user] = true;
    last_time[user] = std::max(last_time[user], *time);
    data.events[user].push_back(
        {.time = *time, .kind = *kind, .course = course, .amount_rub = amount});
    ++report.events_kept;
  }
  // Lessons of a course the user has not bought (yet): the purchase row comes later than the
  // course's first lesson (logged late), or there is none in the export at all.
  for (std::size_t u = 0; u < data.users.size(); ++u) {
    auto& events = data.events[u];
    std::unordered_map<std::int32_t, Seconds> first_lesson;
    for (const auto& event : events) {
      if (event.kind != EventKind::kStudy) continue;
      const auto [it, added] = first_lesson.emplace(event.course, event.time);
      if (!added) it->second = std::min(it->second, event.time);
    }
    if (first_lesson.empty()) continue;
    bool moved = false;
    for (auto& event : events) {
      if (event.kind != EventKind::kPurchase) continue;
      const auto lesson = first_lesson.find(event.course);
      if (lesson == first_lesson.end()) continue;
      if (event.time > lesson->second) {
        event.time = lesson->second - 1;
        moved = true;
        loader.fix("purchase logged after the course's first lesson: moved just before it");
      }
      first_lesson.erase(lesson);
    }
    for (std::size_t i = 0; i < first_lesson.size(); ++i) {
      loader.fix("lesson_completed without any purchase: course taken as owned");
    }
    if (moved) {
      std::stable_sort(events.begin(), events.end(),
                       [](const auto& a, const auto& b) { return a.time < b.time; });
    }
  }
  for (std::size_t u = 0; u < data.users.size(); ++u) {
    if (!out_of_order[u]) continue;
    auto& events = data.events[u];
    std::size_t moved = 0;
    for (std::size_t i = 1; i < events.size(); ++i) moved += events[i].time < events[i - 1].time;
    std::stable_sort(events.begin(), events.end(),
                     [](const auto& a, const auto& b) { return a.time < b.time; });
    report.fixes["events.csv row out of time order (sorted per user)"] += moved;
  }
  // Rejections in file order, then line order.
  const auto file_rank = [](const std::string& file) {
    return file == kSchoolCoursesFile ? 0 : file == kSchoolUsersFile ? 1 : 2;
  };
  std::stable_sort(report.rejected.begin(), report.rejected.end(),
                   [&](const IngestionIssue& a, const IngestionIssue& b) {
                     const int fa = file_rank(a.file);
                     const int fb = file_rank(b.file);
                     return fa != fb ? fa < fb : a.line < b.line;
                   });
  return data;
}

}  // namespace nbo::train
