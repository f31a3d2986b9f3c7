// Small school exports the offers tests write themselves: a catalog of a few courses, a few
// users and their events, as CSV text in the export's own format (CRLF line ends like the shared
// export).
#pragma once

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "nbo/offers/domain.hpp"

namespace nbo::offers::testing {

inline void write_file(const std::filesystem::path& file, std::string_view text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

// Joins lines with CRLF.
inline std::string crlf(std::initializer_list<std::string_view> lines) {
  std::string text;
  for (const auto line : lines) {
    text += line;
    text += "\r\n";
  }
  return text;
}

inline const std::string kCourses = crlf({
    "course_id,title,direction,level,price_rub,duration_months,active",
    "C1001,Python (с нуля),programming,1,25200,3,1",
    "C1002,Python (продвинутый),programming,2,69200,4,1",
    "C1003,Python (профессия),programming,3,142300,7,1",
    "C1010,Дизайн (с нуля),design,1,20000,3,1",
    "C1012,DevOps (с нуля),programming,1,30000,3,0",
});

inline const std::string kUsers = crlf({
    "user_id,registered_at,age_group,region,allow_email",
    "U1,2025-09-01,25-34,Москва,1",
    "U2,2025-09-02,18-24,Казань,0",
    "U3,2025-09-03,35-44,другой,1",
});

// Events of a clean export; tests append defective rows.
inline const std::string kEventsHeader =
    "event_id,user_id,event_time,event_type,course_id,amount_rub";
inline const std::string kEvents = crlf({
    kEventsHeader,
    "0,U1,2025-09-01 10:00:00,page_view,,",
    "1,U1,2025-09-01 10:01:00,course_view,C1001,",
    "2,U1,2025-09-01 10:05:00,free_lesson,C1001,",
    "3,U2,2025-09-02 11:00:00,course_view,C1010,",
    "4,U1,2025-09-02 09:00:00,add_to_cart,C1001,",
    "5,U1,2025-09-02 09:05:00,purchase,C1001,25200",
    "6,U1,2025-09-03 09:00:00,lesson_completed,C1001,",
    "7,U3,2025-09-04 12:00:00,webinar,C1002,",
    "8,U2,2026-08-30 12:00:00,course_view,C1001,",
});

struct ExportFiles {
  std::string courses = kCourses;
  std::string users = kUsers;
  std::string events = kEvents;
  void write(const std::filesystem::path& dir) const {
    write_file(dir / "courses.csv", courses);
    write_file(dir / "users.csv", users);
    write_file(dir / "events.csv", events);
  }
};

}  // namespace nbo::offers::testing
