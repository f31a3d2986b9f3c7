#pragma once

// Online maintenance of a database file while the service uses it: a consistent copy made with
// SQLite's backup API (`nbo db backup`) and an integrity check (`nbo db check`).
//
// Threading: each call opens its own connections and closes them before returning; calls may run
// from any thread and beside any other connection to the same file (the server's included).
// Errors: StoreError (error.hpp) naming the file, the step and SQLite's message; every SQLite
// return code is checked.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace nbo::store {

struct BackupOptions {
  // Replace an existing target file (and its -wal and -shm files, which would otherwise be
  // applied to the new copy). The target must not be in use by any connection.
  bool overwrite = false;
  // Pages copied per step; between steps the source is unlocked for `pause`, so writers of a
  // database in rollback-journal mode are not starved (in WAL mode writers never wait for it).
  int pages_per_step = 256;
  std::chrono::milliseconds pause{5};
  // A write to the source by another connection between two steps restarts the copy from the
  // first page, so that it stays one snapshot. After this many restarts the rest is copied in
  // one step, which in WAL mode holds a read snapshot only and does not block writers.
  int max_restarts = 3;
  // How long one step waits for a lock held by another connection, in milliseconds.
  int busy_timeout_ms = 5000;
};

struct BackupResult {
  std::int64_t pages = 0;  // pages of the copy
  std::int64_t bytes = 0;  // size of the target file
  int steps = 0;           // backup steps run
  int restarts = 0;        // times the source changed between steps and the copy restarted
  double seconds = 0.0;    // wall time
};

// Copies the database `source` (which must exist; it is opened read-only and never modified)
// into `target` as one consistent snapshot: the rows committed before the copy's last restart,
// none of a transaction that commits later. The copy is written to a temporary file beside the
// target, synced, then moved into place, so `target` is either absent (or the previous file)
// or complete. Throws StoreError when the target exists and !options.overwrite, when `source` is
// missing or not a database, or on any SQLite or file-system failure (the temporary file is
// then removed).
BackupResult backup_database(const std::filesystem::path& source,
                             const std::filesystem::path& target,
                             const BackupOptions& options = {});

struct IntegrityReport {
  // Lines of PRAGMA integrity_check other than its single "ok", and one line per row of
  // PRAGMA foreign_key_check ("table <t> rowid <r>: no row in <parent> (constraint <n>)"); or
  // the error that stopped the check (a file that is not a database, a corrupt page).
  std::vector<std::string> problems;
  bool ok() const noexcept { return problems.empty(); }
};

// Opens `file` read-only (a missing file is an error, it is never created) and runs
// PRAGMA integrity_check and PRAGMA foreign_key_check. Corruption found by SQLite while it
// checks (SQLITE_CORRUPT, SQLITE_NOTADB) is reported in the problems, not thrown. Throws
// StoreError when the file does not exist or cannot be opened at all.
IntegrityReport check_database(const std::filesystem::path& file);

}  // namespace nbo::store
