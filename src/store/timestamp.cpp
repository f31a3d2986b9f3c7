#include "nbo/store/timestamp.hpp"

#include <cstdio>
#include <ctime>

namespace nbo::store {

std::string to_iso8601(std::chrono::system_clock::time_point time) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  const auto ms_since_epoch = duration_cast<milliseconds>(time.time_since_epoch()).count();
  // Floor division so that times before 1970 still get a millisecond part in [0, 999].
  auto seconds = ms_since_epoch / 1000;
  auto millis = ms_since_epoch % 1000;
  if (millis < 0) {
    millis += 1000;
    seconds -= 1;
  }
  const auto as_time_t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&as_time_t, &tm);
  char buffer[40];
  const int written = std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                                    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                    tm.tm_min, tm.tm_sec, static_cast<int>(millis));
  return std::string(buffer, written > 0 ? static_cast<std::size_t>(written) : 0U);
}

std::string utc_now_iso8601() {
  return to_iso8601(std::chrono::system_clock::now());
}

}  // namespace nbo::store
