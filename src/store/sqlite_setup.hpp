// Process-wide SQLite settings, applied once before the first connection opens (sqlite3_config
// must run before SQLite initializes itself, which the first sqlite3_open_v2 does).
//
// Thread safety: safe to call from any thread, any number of times; the settings are applied by
// the first call only.
#pragma once

namespace nbo::store::detail {

// Turns off SQLite's memory statistics (SQLITE_CONFIG_MEMSTATUS), which take a process-wide
// mutex around every allocation SQLite makes: about 9% of the request log writer's CPU per row
// (bench_request_log). Nothing in nbo reads those statistics. Where SQLite was already
// initialized by other code in the process, the statistics stay on and this is not an error.
void configure_sqlite_once() noexcept;

}  // namespace nbo::store::detail
