#include "nbo/store/maintenance.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>
#include <system_error>
#include <thread>

#include "nbo/store/error.hpp"
#include "sqlite_setup.hpp"

namespace nbo::store {
namespace {

using Clock = std::chrono::steady_clock;

// One raw connection, closed by the destructor when close() did not run (failures there are
// logged: the error being thrown already says what went wrong).
class Connection {
 public:
  Connection(const std::filesystem::path& file, int flags, int busy_timeout_ms) : file_(file) {
    detail::configure_sqlite_once();
    const int rc = sqlite3_open_v2(file.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) fail(rc, "cannot open");
    check(sqlite3_extended_result_codes(db_, 1), "enabling extended result codes");
    check(sqlite3_busy_timeout(db_, busy_timeout_ms), "setting the busy timeout");
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    if (db_ == nullptr) return;
    if (const int rc = sqlite3_close_v2(db_); rc != SQLITE_OK) {
      spdlog::warn("store: closing {} failed: {}", file_.string(), sqlite3_errstr(rc));
    }
  }

  sqlite3* get() const noexcept { return db_; }
  const std::filesystem::path& file() const noexcept { return file_; }

  void close() {
    const int rc = sqlite3_close(db_);
    if (rc != SQLITE_OK) fail(rc, "closing");
    db_ = nullptr;
  }

  void check(int rc, std::string_view what) const {
    if (rc != SQLITE_OK) fail(rc, what);
  }

  [[noreturn]] void fail(int rc, std::string_view what) const {
    const char* message = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    throw StoreError(fmt::format("store: database {}: {}: {} ({}, code {})", file_.string(), what,
                                 message, sqlite3_errstr(rc), rc),
                     rc);
  }

 private:
  std::filesystem::path file_;
  sqlite3* db_ = nullptr;
};

// Removes a file and its SQLite companions unless dismissed (a backup that did not finish).
class TemporaryDatabase {
 public:
  explicit TemporaryDatabase(std::filesystem::path file) : file_(std::move(file)) { remove(); }
  TemporaryDatabase(const TemporaryDatabase&) = delete;
  TemporaryDatabase& operator=(const TemporaryDatabase&) = delete;
  ~TemporaryDatabase() {
    if (!dismissed_) remove();
  }
  const std::filesystem::path& file() const noexcept { return file_; }
  void dismiss() noexcept { dismissed_ = true; }

 private:
  void remove() noexcept {
    for (const char* suffix : {"", "-journal", "-wal", "-shm"}) {
      std::error_code ignored;
      std::filesystem::remove(file_.string() + suffix, ignored);
    }
  }
  std::filesystem::path file_;
  bool dismissed_ = false;
};

[[noreturn]] void fail_errno(std::string_view what, const std::filesystem::path& file) {
  const int error = errno;
  throw StoreError(fmt::format("store: {} {}: {}", what, file.string(), std::strerror(error)));
}

// fsync of a file or directory, so a finished copy and its name survive a crash.
void sync_path(const std::filesystem::path& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail_errno("cannot open for syncing", path);
  const int rc = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  errno = saved;
  if (rc != 0) fail_errno("cannot sync", path);
}

bool is_busy(int rc) {
  const int primary = rc & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

bool is_corruption(int rc) {
  const int primary = rc & 0xff;
  return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
}

}  // namespace

BackupResult backup_database(const std::filesystem::path& source,
                             const std::filesystem::path& target, const BackupOptions& options) {
  const auto started = Clock::now();
  std::error_code error;
  if (!std::filesystem::is_regular_file(source, error)) {
    throw StoreError(
        fmt::format("store: backup source {} does not exist or is not a file", source.string()));
  }
  if (std::filesystem::exists(target, error)) {
    if (std::filesystem::equivalent(source, target, error)) {
      throw StoreError(
          fmt::format("store: backup target {} is the source itself", target.string()));
    }
    if (!options.overwrite) {
      throw StoreError(fmt::format("store: backup target {} already exists", target.string()));
    }
  }
  if (options.pages_per_step <= 0 || options.max_restarts < 0) {
    throw StoreError("store: backup options: pages_per_step must be > 0, max_restarts >= 0");
  }
  const auto directory =
      target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  std::filesystem::create_directories(directory, error);
  if (error) {
    throw StoreError(fmt::format("store: cannot create the directory of {}: {}", target.string(),
                                 error.message()));
  }
  TemporaryDatabase temporary(directory /
                              fmt::format(".{}.backup-{}", target.filename().string(), ::getpid()));

  BackupResult result;
  {
    Connection from(source, SQLITE_OPEN_READONLY, options.busy_timeout_ms);
    Connection to(temporary.file(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                  options.busy_timeout_ms);
    sqlite3_backup* backup = sqlite3_backup_init(to.get(), "main", from.get(), "main");
    if (backup == nullptr) to.fail(sqlite3_extended_errcode(to.get()), "starting the backup");

    int pages = options.pages_per_step;
    int last_done = -1;
    auto busy_since = Clock::time_point{};
    int rc = SQLITE_OK;
    for (;;) {
      rc = sqlite3_backup_step(backup, pages);
      ++result.steps;
      if (rc == SQLITE_DONE) break;
      if (rc == SQLITE_OK) {
        busy_since = {};
        const int done = sqlite3_backup_pagecount(backup) - sqlite3_backup_remaining(backup);
        // A step that ends no further than the last one began again from the first page.
        if (last_done >= 0 && done <= last_done) {
          ++result.restarts;
          if (result.restarts >= options.max_restarts) pages = -1;
        }
        last_done = done;
      } else if (is_busy(rc)) {
        const auto now = Clock::now();
        if (busy_since == Clock::time_point{}) busy_since = now;
        if (now - busy_since > std::chrono::milliseconds(options.busy_timeout_ms)) break;
      } else {
        break;
      }
      std::this_thread::sleep_for(options.pause);
    }
    result.pages = sqlite3_backup_pagecount(backup);
    // finish() returns the error of the failed step, if any; SQLITE_OK after SQLITE_DONE.
    const int finished = sqlite3_backup_finish(backup);
    if (rc != SQLITE_DONE) {
      to.fail(rc, is_busy(rc) ? "copying pages: the source stayed locked past the busy timeout"
                              : "copying pages");
    }
    to.check(finished, "finishing the backup");
    to.close();
    from.close();
  }
  sync_path(temporary.file(), false);

  if (options.overwrite) {
    // A -wal file left beside the old target would be applied to the new copy when it opens.
    for (const char* suffix : {"-wal", "-shm", "-journal"}) {
      const std::filesystem::path companion = target.string() + suffix;
      std::filesystem::remove(companion, error);
      if (error) {
        throw StoreError(
            fmt::format("store: cannot remove {}: {}", companion.string(), error.message()));
      }
    }
    if (::rename(temporary.file().c_str(), target.c_str()) != 0) {
      fail_errno("cannot move the copy to", target);
    }
  } else {
    // link() fails if the target appeared meanwhile: never replaces a file.
    if (::link(temporary.file().c_str(), target.c_str()) != 0) {
      fail_errno("cannot create", target);
    }
    if (::unlink(temporary.file().c_str()) != 0) fail_errno("cannot remove", temporary.file());
  }
  temporary.dismiss();
  sync_path(directory, true);
  result.bytes = static_cast<std::int64_t>(std::filesystem::file_size(target));
  result.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return result;
}

IntegrityReport check_database(const std::filesystem::path& file) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(file, error)) {
    throw StoreError(
        fmt::format("store: database {} does not exist or is not a file", file.string()));
  }
  Connection connection(file, SQLITE_OPEN_READONLY, 5000);
  IntegrityReport report;

  // Runs `sql`, giving each row to `row`; false when SQLite found the file corrupt (recorded).
  const auto run = [&](const char* sql, const auto& row) {
    sqlite3_stmt* statement = nullptr;
    int rc = sqlite3_prepare_v2(connection.get(), sql, -1, &statement, nullptr);
    while (rc == SQLITE_OK) {
      rc = sqlite3_step(statement);
      if (rc == SQLITE_ROW) {
        row(statement);
        rc = SQLITE_OK;
      }
    }
    const std::string message = sqlite3_errmsg(connection.get());
    if (const int finalized = sqlite3_finalize(statement);
        rc == SQLITE_DONE && finalized != SQLITE_OK) {
      rc = finalized;
    }
    if (rc == SQLITE_DONE) return true;
    if (is_corruption(rc)) {
      report.problems.push_back(
          fmt::format("{} stopped: {} ({}, code {})", sql, message, sqlite3_errstr(rc), rc));
      return false;
    }
    connection.fail(rc, sql);
  };
  const auto text = [](sqlite3_stmt* statement, int column) {
    const auto* value = sqlite3_column_text(statement, column);
    return value != nullptr ? std::string(reinterpret_cast<const char*>(value)) : std::string();
  };

  const bool readable = run("PRAGMA integrity_check", [&](sqlite3_stmt* statement) {
    std::string line = text(statement, 0);
    if (line != "ok") report.problems.push_back(std::move(line));
  });
  if (!readable) return report;
  run("PRAGMA foreign_key_check", [&](sqlite3_stmt* statement) {
    const std::string rowid = sqlite3_column_type(statement, 1) == SQLITE_NULL
                                  ? std::string("(none)")
                                  : std::to_string(sqlite3_column_int64(statement, 1));
    report.problems.push_back(fmt::format("table {} rowid {}: no row in {} (constraint {})",
                                          text(statement, 0), rowid, text(statement, 2),
                                          sqlite3_column_int64(statement, 3)));
  });
  connection.close();
  return report;
}

}  // namespace nbo::store
