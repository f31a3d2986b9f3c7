#include "nbo/store/database.hpp"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <map>
#include <set>
#include <system_error>
#include <utility>

#include "nbo/platform/files.hpp"
#include "nbo/store/timestamp.hpp"
#include "sqlite_setup.hpp"

namespace nbo::store {

namespace detail {

struct Connection {
  sqlite3* db = nullptr;
  std::filesystem::path file;
  bool read_only = false;

  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    if (db != nullptr) {
      const int rc = sqlite3_close_v2(db);
      if (rc != SQLITE_OK) {
        spdlog::error("store: closing database {} failed: {}", file.string(), sqlite3_errstr(rc));
      }
    }
  }
};

}  // namespace detail

namespace {

// SQL shortened to one line for error messages.
std::string shorten_sql(std::string_view sql) {
  constexpr std::size_t kMax = 160;
  std::string out;
  out.reserve(std::min(sql.size(), kMax) + 3);
  bool space = false;
  for (const char c : sql) {
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
    if (out.size() >= kMax) {
      out += "...";
      break;
    }
  }
  return out;
}

[[noreturn]] void throw_sqlite(const detail::Connection& conn, int rc, std::string_view what) {
  const char* message = conn.db != nullptr ? sqlite3_errmsg(conn.db) : sqlite3_errstr(rc);
  throw StoreError("store: database " + conn.file.string() + ": " + std::string(what) + ": " +
                       message + " (" + sqlite3_errstr(rc) + ", code " + std::to_string(rc) + ")",
                   rc);
}

void check(const detail::Connection& conn, int rc, std::string_view what) {
  if (rc != SQLITE_OK) throw_sqlite(conn, rc, what);
}

void exec(const detail::Connection& conn, const std::string& sql, std::string_view what) {
  char* errmsg = nullptr;
  const int rc = sqlite3_exec(conn.db, sql.c_str(), nullptr, nullptr, &errmsg);
  if (rc != SQLITE_OK) {
    const std::string message = errmsg != nullptr ? errmsg : sqlite3_errmsg(conn.db);
    sqlite3_free(errmsg);
    throw StoreError("store: database " + conn.file.string() + ": " + std::string(what) + ": " +
                         message + " (" + sqlite3_errstr(rc) + ", code " + std::to_string(rc) + ")",
                     rc);
  }
}

struct MigrationFile {
  int version = 0;
  std::string name;
  std::filesystem::path path;
};

// Parses "NNNN_name.sql"; returns false if the name does not have that shape.
bool parse_migration_name(const std::string& filename, MigrationFile& out) {
  constexpr std::string_view kExt = ".sql";
  if (filename.size() <= kExt.size() ||
      filename.compare(filename.size() - kExt.size(), kExt.size(), kExt) != 0) {
    return false;
  }
  const std::string stem = filename.substr(0, filename.size() - kExt.size());
  const auto underscore = stem.find('_');
  if (underscore == std::string::npos || underscore == 0 || underscore + 1 >= stem.size()) {
    return false;
  }
  int version = 0;
  const char* first = stem.data();
  const char* last = stem.data() + underscore;
  const auto [ptr, ec] = std::from_chars(first, last, version);
  if (ec != std::errc() || ptr != last || version <= 0) return false;
  out.version = version;
  out.name = stem.substr(underscore + 1);
  return true;
}

std::vector<MigrationFile> list_migrations(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) {
    throw StoreError("store: cannot read migrations directory " + dir.string() + ": " +
                     ec.message());
  }
  std::map<int, MigrationFile> by_version;
  for (const auto& entry : it) {
    const std::string filename = entry.path().filename().string();
    if (entry.path().extension() != ".sql") continue;
    if (!entry.is_regular_file(ec)) continue;
    MigrationFile file;
    if (!parse_migration_name(filename, file)) {
      throw StoreError("store: migration file " + entry.path().string() +
                       " is not named NNNN_name.sql (NNNN a positive version number)");
    }
    file.path = entry.path();
    const auto [existing, inserted] = by_version.emplace(file.version, file);
    if (!inserted) {
      throw StoreError("store: migration files " + existing->second.path.string() + " and " +
                       entry.path().string() + " share version " + std::to_string(file.version));
    }
  }
  std::vector<MigrationFile> out;
  out.reserve(by_version.size());
  for (auto& [version, file] : by_version) out.push_back(std::move(file));
  return out;
}

std::string read_migration(const std::filesystem::path& path) {
  std::string content;
  if (const auto error = platform::read_whole_file(path, content)) {
    throw StoreError("store: migration file " + path.string() + " " + error->describe());
  }
  return content;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Statement

Statement::Statement(Statement&& other) noexcept
    : connection_(std::exchange(other.connection_, nullptr)),
      stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    if (stmt_ != nullptr) sqlite3_finalize(stmt_);
    connection_ = std::exchange(other.connection_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

Statement::~Statement() {
  // sqlite3_finalize() returns the error of the last step(), which has been reported.
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

void Statement::fail(int rc, std::string_view action) const {
  throw_sqlite(*connection_, rc, std::string(action) + " `" + shorten_sql(sql()) + "`");
}

void Statement::check_bind(int rc, int index) const {
  if (rc != SQLITE_OK) fail(rc, "binding parameter " + std::to_string(index) + " of");
}

void Statement::check_unsigned_fits(int index, std::uint64_t value) const {
  if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    throw StoreError("store: database " + connection_->file.string() + ": value " +
                     std::to_string(value) + " for parameter " + std::to_string(index) + " of `" +
                     shorten_sql(sql()) + "` does not fit a 64-bit signed integer");
  }
}

Statement& Statement::bind(int index, std::int64_t value) {
  check_bind(sqlite3_bind_int64(stmt_, index, value), index);
  return *this;
}

Statement& Statement::bind(int index, double value) {
  check_bind(sqlite3_bind_double(stmt_, index, value), index);
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  // sqlite3_bind_text64 takes no nullptr for an empty string_view with null data.
  const char* data = text.data() != nullptr ? text.data() : "";
  check_bind(sqlite3_bind_text64(stmt_, index, data, text.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
             index);
  return *this;
}

Statement& Statement::bind(int index, std::nullptr_t) {
  check_bind(sqlite3_bind_null(stmt_, index), index);
  return *this;
}

Statement& Statement::bind_text_or_null(int index, std::string_view text) {
  if (text.empty()) return bind(index, nullptr);
  return bind(index, text);
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(rc, "executing");
}

void Statement::reset() noexcept {
  sqlite3_reset(stmt_);
}

void Statement::clear_bindings() noexcept {
  sqlite3_clear_bindings(stmt_);
}

int Statement::column_count() const noexcept {
  return sqlite3_column_count(stmt_);
}

bool Statement::column_is_null(int index) const noexcept {
  return sqlite3_column_type(stmt_, index) == SQLITE_NULL;
}

std::int64_t Statement::column_int64(int index) const noexcept {
  return sqlite3_column_int64(stmt_, index);
}

double Statement::column_double(int index) const noexcept {
  return sqlite3_column_double(stmt_, index);
}

std::string Statement::column_text(int index) const {
  const unsigned char* text = sqlite3_column_text(stmt_, index);
  if (text == nullptr) return {};
  const int size = sqlite3_column_bytes(stmt_, index);
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

std::string Statement::sql() const {
  const char* text = stmt_ != nullptr ? sqlite3_sql(stmt_) : nullptr;
  return text != nullptr ? std::string(text) : std::string();
}

// ---------------------------------------------------------------------------------------
// Database

Database::Database(std::unique_ptr<detail::Connection> connection) noexcept
    : connection_(std::move(connection)) {}

Database::Database(Database&& other) noexcept = default;
Database& Database::operator=(Database&& other) noexcept = default;
Database::~Database() = default;

Database Database::open(const std::filesystem::path& file, const OpenOptions& options) {
  auto conn = std::make_unique<detail::Connection>();
  conn->file = file;

  if (!options.read_only && file.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(file.parent_path(), ec);
    if (ec) {
      throw StoreError("store: cannot create directory " + file.parent_path().string() +
                       " for database " + file.string() + ": " + ec.message());
    }
  }

  const int flags =
      (options.read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) |
      SQLITE_OPEN_NOMUTEX;
  detail::configure_sqlite_once();
  const int rc = sqlite3_open_v2(file.c_str(), &conn->db, flags, nullptr);
  if (rc != SQLITE_OK) {
    // conn's destructor closes the half-open handle, after the message has been read.
    throw_sqlite(*conn, rc, "cannot open");
  }
  check(*conn, sqlite3_extended_result_codes(conn->db, 1), "enabling extended result codes");
  check(*conn, sqlite3_busy_timeout(conn->db, std::max(0, options.busy_timeout_ms)),
        "setting busy_timeout");

  const int db_readonly = sqlite3_db_readonly(conn->db, "main");
  if (db_readonly < 0) throw StoreError("store: database " + file.string() + ": no main schema");
  conn->read_only = db_readonly == 1;
  if (conn->read_only && !options.read_only) {
    spdlog::warn("store: database {} is not writable; opened read-only", file.string());
  }

  Database database(std::move(conn));
  if (!database.read_only()) {
    // The first statement that touches the file: an unreadable or non-SQLite file fails here.
    const std::string mode = [&] {
      Statement wal = database.prepare("PRAGMA journal_mode=WAL");
      if (!wal.step()) return std::string();
      return wal.column_text(0);
    }();
    if (mode != "wal") {
      throw StoreError("store: database " + file.string() +
                       ": PRAGMA journal_mode=WAL did not take effect (journal mode is '" + mode +
                       "')");
    }
    database.execute(options.synchronous == Synchronous::kFull ? "PRAGMA synchronous=FULL"
                                                               : "PRAGMA synchronous=NORMAL");
  }
  database.execute("PRAGMA foreign_keys=ON");
  // PRAGMA arguments cannot be bound; the value is an int of the options.
  database.execute("PRAGMA cache_size=-" + std::to_string(std::max(1, options.cache_kib)));
  if (options.wal_autocheckpoint_pages > 0 && !database.read_only()) {
    database.execute("PRAGMA wal_autocheckpoint=" +
                     std::to_string(options.wal_autocheckpoint_pages));
  }
  if (options.max_page_count > 0) {
    database.execute("PRAGMA max_page_count=" + std::to_string(options.max_page_count));
  }
  return database;
}

const std::filesystem::path& Database::path() const noexcept {
  return connection_->file;
}

bool Database::read_only() const noexcept {
  return connection_->read_only;
}

void Database::execute(std::string_view sql) {
  exec(*connection_, std::string(sql), "executing `" + shorten_sql(sql) + "`");
}

Statement Database::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const char* data = sql.data() != nullptr ? sql.data() : "";
  const int rc =
      sqlite3_prepare_v2(connection_->db, data, static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    throw_sqlite(*connection_, rc, "preparing `" + shorten_sql(sql) + "`");
  }
  if (stmt == nullptr) {
    throw StoreError("store: database " + connection_->file.string() + ": `" + shorten_sql(sql) +
                     "` contains no SQL statement");
  }
  return Statement(connection_.get(), stmt);
}

std::string Database::journal_mode() const {
  // prepare() is logically const here: it does not change the database.
  Statement stmt = const_cast<Database*>(this)->prepare("PRAGMA journal_mode");
  return stmt.step() ? stmt.column_text(0) : std::string();
}

std::int64_t Database::changes() const noexcept {
  return static_cast<std::int64_t>(sqlite3_changes64(connection_->db));
}

std::int64_t Database::last_insert_rowid() const noexcept {
  return static_cast<std::int64_t>(sqlite3_last_insert_rowid(connection_->db));
}

bool Database::in_transaction() const noexcept {
  return sqlite3_get_autocommit(connection_->db) == 0;
}

std::vector<int> Database::applied_versions() const {
  auto* self = const_cast<Database*>(this);
  Statement exists = self->prepare(
      "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'");
  if (!exists.step()) return {};
  Statement select = self->prepare("SELECT version FROM schema_migrations ORDER BY version");
  std::vector<int> versions;
  while (select.step()) versions.push_back(static_cast<int>(select.column_int64(0)));
  return versions;
}

std::vector<int> Database::apply_migrations(const std::filesystem::path& dir) {
  const std::vector<MigrationFile> files = list_migrations(dir);

  execute(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version INTEGER PRIMARY KEY,"
      " name TEXT NOT NULL,"
      " applied_at TEXT NOT NULL)");

  const std::vector<int> already = applied_versions();
  {
    std::set<int> known;
    for (const auto& file : files) known.insert(file.version);
    for (const int version : already) {
      if (known.count(version) == 0) {
        spdlog::warn(
            "store: database {} has migration version {} applied that is not in {} "
            "(the database is newer than this build?)",
            path().string(), version, dir.string());
      }
    }
  }

  std::vector<int> applied;
  for (const auto& file : files) {
    if (std::binary_search(already.begin(), already.end(), file.version)) continue;
    Transaction tx(*this);
    // Checked again under the write lock: another process may have applied it meanwhile.
    Statement is_applied = prepare("SELECT 1 FROM schema_migrations WHERE version = ?1");
    is_applied.bind(1, file.version);
    if (is_applied.step()) continue;  // tx rolls back an empty transaction

    const std::string sql = read_migration(file.path);
    exec(*connection_, sql, "migration " + file.path.string() + " failed, rolled back");
    if (!in_transaction()) {
      throw StoreError("store: migration " + file.path.string() + " on database " +
                       path().string() +
                       " ended the migration's transaction; migration files must not contain "
                       "BEGIN, COMMIT or ROLLBACK");
    }
    Statement record =
        prepare("INSERT INTO schema_migrations(version, name, applied_at) VALUES (?1, ?2, ?3)");
    record.bind(1, file.version).bind(2, file.name).bind(3, utc_now_iso8601());
    record.step();
    tx.commit();
    spdlog::info("store: applied migration {} to {}", file.path.filename().string(),
                 path().string());
    applied.push_back(file.version);
  }
  return applied;
}

bool Database::writable() noexcept {
  try {
    if (read_only()) {
      spdlog::warn("store: database {} is open read-only", path().string());
      return false;
    }
    if (in_transaction()) {
      spdlog::warn("store: writable() called inside an open transaction on {}", path().string());
      return false;
    }
    Transaction tx(*this);
    std::int64_t version = 0;
    {
      Statement read = prepare("PRAGMA user_version");
      if (read.step()) version = read.column_int64(0);
    }
    // PRAGMA arguments cannot be bound; the value is a number read just above.
    execute("PRAGMA user_version = " + std::to_string(version));
    tx.commit();
    return true;
  } catch (const std::exception& e) {
    spdlog::warn("store: write probe failed: {}", e.what());
    return false;
  }
}

// ---------------------------------------------------------------------------------------
// Transaction

Transaction::Transaction(Database& database, TransactionMode mode) : database_(database) {
  database_.execute(mode == TransactionMode::kImmediate ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED");
}

Transaction::~Transaction() {
  if (!active_) return;
  try {
    rollback();
  } catch (const std::exception& e) {
    spdlog::error("store: rollback failed: {}", e.what());
  }
}

void Transaction::commit() {
  database_.execute("COMMIT");
  active_ = false;
}

void Transaction::rollback() {
  active_ = false;
  // Some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_BUSY, SQLITE_NOMEM) make SQLite roll the
  // transaction back by itself; a second ROLLBACK would then fail with "no transaction".
  if (database_.in_transaction()) database_.execute("ROLLBACK");
}

bool StoreError::storage_unavailable() const noexcept {
  switch (code_ & 0xff) {  // the primary result code
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return true;
    default:
      return false;
  }
}

}  // namespace nbo::store
