#include "nbo/offers/domain.hpp"

#include <fmt/format.h>

namespace nbo::offers {
namespace {

constexpr std::array<std::string_view, kEventKindCount> kKindNames = {"visit", "view",     "trial",
                                                                      "cart",  "purchase", "study"};

constexpr std::array<std::pair<std::string_view, EventKind>, 7> kExportTypes = {{
    {"page_view", EventKind::kVisit},
    {"course_view", EventKind::kView},
    {"free_lesson", EventKind::kTrial},
    {"webinar", EventKind::kTrial},
    {"add_to_cart", EventKind::kCart},
    {"purchase", EventKind::kPurchase},
    {"lesson_completed", EventKind::kStudy},
}};

bool digits(std::string_view text, std::size_t from, std::size_t count, int& out) {
  int value = 0;
  for (std::size_t i = from; i < from + count; ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  out = value;
  return true;
}

bool leap(int year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

}  // namespace

std::string_view kind_name(EventKind kind) noexcept {
  return kKindNames[static_cast<std::size_t>(kind)];
}

std::optional<EventKind> kind_from_name(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kKindNames.size(); ++i) {
    if (kKindNames[i] == name) return static_cast<EventKind>(i);
  }
  return std::nullopt;
}

std::optional<EventKind> kind_from_export_type(std::string_view type) noexcept {
  for (const auto& [name, kind] : kExportTypes) {
    if (name == type) return kind;
  }
  return std::nullopt;
}

std::int64_t days_from_civil(int year, unsigned month, unsigned day) noexcept {
  // H. Hinnant's algorithm: days from 1970-01-01 for a proleptic Gregorian date.
  const int y = year - (month <= 2 ? 1 : 0);
  const int era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<std::int64_t>(era) * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::optional<Seconds> parse_time(std::string_view text) noexcept {
  int year = 0;
  int month = 0;
  int day = 0;
  if (text.size() < 10 || !digits(text, 0, 4, year) || text[4] != '-' ||
      !digits(text, 5, 2, month) || text[7] != '-' || !digits(text, 8, 2, day)) {
    return std::nullopt;
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (year < 1970 || month < 1 || month > 12 || day < 1) return std::nullopt;
  if (day > kDays[month - 1] + (month == 2 && leap(year) ? 1 : 0)) return std::nullopt;
  int hour = 0;
  int minute = 0;
  int second = 0;
  std::size_t at = 10;
  if (text.size() > 10) {
    if ((text[10] != ' ' && text[10] != 'T') || text.size() < 19 || !digits(text, 11, 2, hour) ||
        text[13] != ':' || !digits(text, 14, 2, minute) || text[16] != ':' ||
        !digits(text, 17, 2, second) || hour > 23 || minute > 59 || second > 59) {
      return std::nullopt;
    }
    at = 19;
    if (at < text.size() && text[at] == '.') {
      ++at;
      const std::size_t start = at;
      while (at < text.size() && text[at] >= '0' && text[at] <= '9') ++at;
      if (at == start) return std::nullopt;
    }
    if (at < text.size() && text[at] == 'Z') ++at;
  }
  if (at != text.size()) return std::nullopt;
  return days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) *
             kSecondsPerDay +
         hour * 3600 + minute * 60 + second;
}

std::string format_time(Seconds time) {
  std::int64_t days = time / kSecondsPerDay;
  std::int64_t rest = time % kSecondsPerDay;
  if (rest < 0) {
    rest += kSecondsPerDay;
    --days;
  }
  // Inverse of days_from_civil (H. Hinnant's civil_from_days).
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned day = doy - (153 * mp + 2) / 5 + 1;
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t year = static_cast<std::int64_t>(yoe) + era * 400 + (month <= 2 ? 1 : 0);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", year, month, day, rest / 3600,
                     (rest / 60) % 60, rest % 60);
}

}  // namespace nbo::offers
