#include "sqlite_setup.hpp"

#include <sqlite3.h>

#include <mutex>

namespace nbo::store::detail {

void configure_sqlite_once() noexcept {
  static std::once_flag once;
  // SQLITE_MISUSE when SQLite is already initialized: it keeps its defaults, which work too.
  std::call_once(once, [] { static_cast<void>(sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0)); });
}

}  // namespace nbo::store::detail
