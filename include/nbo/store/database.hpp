#pragma once

// Thin RAII layer over one SQLite connection. sqlite3.h is deliberately not included here:
// code outside src/store only sees the forward declarations below.
//
// Threading: a Database (and every Statement/Transaction made from it) may be used by one
// thread at a time; it may be handed from one thread to another. Callers that share a
// connection between threads must serialize access themselves (CustomerStore does, with a
// mutex). Separate Database objects, in the same or other processes, may use the same file
// concurrently: WAL mode lets readers run beside one writer, and writers wait up to the busy
// timeout for each other.
//
// Errors: every SQLite failure is reported as StoreError (see error.hpp) whose message names
// the database file, the statement or migration and sqlite3_errmsg().

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "nbo/store/error.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace nbo::store {

namespace detail {
struct Connection;  // owns the sqlite3* and remembers the file name for error messages
}  // namespace detail

// PRAGMA synchronous level. kNormal (the default) in WAL mode: a committed transaction
// survives a crash of the process but the last transactions may be lost on power failure or
// OS crash. kFull: each commit is fsync'ed (durable against power loss, slower commits).
enum class Synchronous { kNormal, kFull };

struct OpenOptions {
  // Open with SQLITE_OPEN_READONLY: nothing is created, no PRAGMA that writes is issued and
  // writable() returns false. Meant for tools, inspection and tests.
  bool read_only = false;
  // How long a statement waits for another connection's lock before failing with
  // SQLITE_BUSY, in milliseconds.
  int busy_timeout_ms = 5000;
  Synchronous synchronous = Synchronous::kNormal;
  // SQLite's page cache of this connection, in KiB (PRAGMA cache_size=-N); SQLite's default is
  // 2000. Memory is taken only as pages are read, up to this bound.
  int cache_kib = 2000;
  // Pages the write-ahead log may hold before a commit of this connection copies them back
  // into the database file (PRAGMA wal_autocheckpoint); 0 leaves SQLite's 1000. A larger value
  // lets a page changed by many transactions be copied back once, at the price of a larger
  // -wal file (up to about this many pages) between checkpoints.
  int wal_autocheckpoint_pages = 0;
  // Caps the file at this many pages (PRAGMA max_page_count; writes past it fail with
  // SQLITE_FULL, as on a full disk); 0 leaves SQLite's limit.
  long long max_page_count = 0;
};

class Database;

// A prepared statement. Made by Database::prepare(); finalized by the destructor. Move-only.
// Must not outlive the Database it was prepared on (moving that Database is fine).
// Parameter and column indexes follow SQLite: bind() indexes start at 1, column_*() at 0.
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Binders. Text is copied by SQLite (SQLITE_TRANSIENT), so the argument may die right after
  // the call. Throw StoreError on a bad index or when the statement is busy.
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, std::nullptr_t);
  // Any other integer type (int, std::size_t, bool, ...) is stored as a 64-bit integer.
  // Unsigned values above INT64_MAX throw StoreError instead of wrapping.
  template <typename T>
  requires(std::is_integral_v<T> && !std::is_same_v<T, std::int64_t>) Statement& bind(int index,
                                                                                      T value) {
    if constexpr (std::is_unsigned_v<T> && sizeof(T) >= sizeof(std::int64_t)) {
      check_unsigned_fits(index, static_cast<std::uint64_t>(value));
    }
    return bind(index, static_cast<std::int64_t>(value));
  }
  // Binds NULL when text is empty, the text otherwise.
  Statement& bind_text_or_null(int index, std::string_view text);

  // Runs one step. Returns true when a row is available (read it with column_*()), false when
  // the statement has finished. Throws StoreError on any failure (the statement then needs
  // reset() before it can run again; the enclosing transaction, if any, is left to its owner).
  bool step();

  // Makes the statement runnable again; bindings are kept (clear_bindings() drops them).
  // Never throws: the code sqlite3_reset() returns only repeats the error of the last step(),
  // which step() has already thrown.
  void reset() noexcept;
  void clear_bindings() noexcept;

  // Column getters for the current row (after step() returned true). NULL reads as 0, 0.0 or
  // "" respectively; column_is_null() tells them apart. Indexes out of range read as NULL.
  int column_count() const noexcept;
  bool column_is_null(int index) const noexcept;
  std::int64_t column_int64(int index) const noexcept;
  double column_double(int index) const noexcept;
  std::string column_text(int index) const;

  // The SQL text the statement was prepared from.
  std::string sql() const;

 private:
  friend class Database;
  Statement(detail::Connection* connection, sqlite3_stmt* stmt) noexcept
      : connection_(connection), stmt_(stmt) {}
  [[noreturn]] void fail(int rc, std::string_view action) const;
  void check_bind(int rc, int index) const;
  void check_unsigned_fits(int index, std::uint64_t value) const;

  detail::Connection* connection_ = nullptr;  // not owned
  sqlite3_stmt* stmt_ = nullptr;              // owned
};

// One SQLite connection. Move-only; the destructor closes it (statements left unfinalized
// are tolerated: sqlite3_close_v2 defers the close until they are gone).
class Database {
 public:
  // Opens (creating it and its parent directories if needed) the database file and
  // configures the connection: extended result codes, busy_timeout, journal_mode=WAL
  // (verified: throws if SQLite reports another mode, e.g. for ":memory:"), synchronous,
  // foreign_keys=ON.
  // If the file exists but cannot be opened for writing, SQLite falls back to read-only:
  // open() then succeeds, logs a warning, read_only() is true and writable() is false, so a
  // service can still start and report itself not ready.
  // Throws StoreError (naming the file) on any other failure.
  static Database open(const std::filesystem::path& file, const OpenOptions& options = {});

  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  const std::filesystem::path& path() const noexcept;
  bool read_only() const noexcept;

  // Applies the migrations in `dir`: every file named NNNN_name.sql (NNNN a positive decimal
  // version; the number of digits is free, order is numeric) whose version is not yet in
  // schema_migrations(version, name, applied_at), in ascending version order, each in its own
  // BEGIN IMMEDIATE transaction together with its schema_migrations row. Safe to run from
  // several processes at once: the "already applied?" check is repeated inside the write
  // transaction. A migration file must not contain BEGIN/COMMIT/ROLLBACK.
  // Returns the versions applied by this call (empty when the database was up to date).
  // Throws StoreError naming the file when a migration fails (that migration is rolled back;
  // the ones before it stay applied), when a .sql file in `dir` is not named NNNN_name.sql,
  // when two files share a version, or when `dir` cannot be read. Files not ending in .sql
  // are ignored. Versions recorded in the database but missing from `dir` are logged as a
  // warning (the database is newer than this build) and otherwise ignored.
  std::vector<int> apply_migrations(const std::filesystem::path& dir);

  // Versions recorded in schema_migrations, ascending; empty when the table does not exist.
  std::vector<int> applied_versions() const;

  // Runs one or more ';'-separated statements that return no rows needed by the caller.
  // Throws StoreError naming the (shortened) SQL.
  void execute(std::string_view sql);

  // Prepares one statement. Throws StoreError naming the SQL on a syntax error, unknown
  // table or column, etc.
  Statement prepare(std::string_view sql);

  // The result of `PRAGMA journal_mode` ("wal" after a successful open()).
  std::string journal_mode() const;

  // Rows changed by the last INSERT/UPDATE/DELETE on this connection.
  std::int64_t changes() const noexcept;
  std::int64_t last_insert_rowid() const noexcept;
  // True between BEGIN and COMMIT/ROLLBACK.
  bool in_transaction() const noexcept;

  // Readiness probe: performs a real, committed write (BEGIN IMMEDIATE, rewrites the
  // database header's user_version with its current value, COMMIT), so it fails when the
  // file or its directory is not writable, the disk is full, or another connection holds
  // the write lock for longer than the busy timeout. Never throws: logs the reason at warn
  // level and returns false. Returns false as well inside an open transaction and on a
  // read-only connection. Cost: one small WAL frame, no fsync with Synchronous::kNormal.
  bool writable() noexcept;

 private:
  explicit Database(std::unique_ptr<detail::Connection> connection) noexcept;
  std::unique_ptr<detail::Connection> connection_;
};

enum class TransactionMode { kDeferred, kImmediate };

// RAII transaction: BEGIN (IMMEDIATE by default: takes the write lock at once, waiting up to
// the busy timeout) in the constructor, ROLLBACK in the destructor unless commit() or
// rollback() ran. Use kDeferred for read-only work that needs one consistent snapshot.
// Not copyable or movable; must not outlive the Database. Transactions do not nest.
class Transaction {
 public:
  explicit Transaction(Database& database, TransactionMode mode = TransactionMode::kImmediate);
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  // Rolls back if still active; failures there are logged, never thrown.
  ~Transaction();

  // Throws StoreError if COMMIT fails; the destructor then rolls back.
  void commit();
  void rollback();

 private:
  Database& database_;
  bool active_ = true;
};

}  // namespace nbo::store
