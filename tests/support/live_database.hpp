// A database that is being written to, for the tests of online backups (tests/store, tests/cli):
// a migrated file with an `items` table, a writer thread on its own connection that commits one
// row per transaction with increasing ids, and a way to corrupt a copy.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "nbo/store/database.hpp"

namespace nbo::test_support {

// Creates `file` with the migrations of `migrations` and a table items(id, payload) holding
// `rows` rows of about 200 bytes (ids 1..rows), committed.
inline void make_items_database(const std::filesystem::path& file,
                                const std::filesystem::path& migrations, std::int64_t rows) {
  auto db = store::Database::open(file);
  db.apply_migrations(migrations);
  db.execute("CREATE TABLE items(id INTEGER PRIMARY KEY, payload TEXT NOT NULL)");
  store::Transaction transaction(db);
  auto insert = db.prepare("INSERT INTO items(id, payload) VALUES (?, ?)");
  for (std::int64_t id = 1; id <= rows; ++id) {
    insert.reset();
    insert.bind(1, id).bind(2, std::string(200, static_cast<char>('a' + id % 26)));
    insert.step();
  }
  transaction.commit();
}

// Commits rows id = count + 1, count + 2, ... into `file`'s items table, one per transaction, on
// its own thread and connection, until stop() (or destruction).
class LiveWriter {
 public:
  explicit LiveWriter(const std::filesystem::path& file) : file_(file) {
    auto db = store::Database::open(file_);
    auto count = db.prepare("SELECT COUNT(*) FROM items");
    count.step();
    committed_ = count.column_int64(0);
    thread_ = std::thread([this] { run(); });
  }
  LiveWriter(const LiveWriter&) = delete;
  LiveWriter& operator=(const LiveWriter&) = delete;
  ~LiveWriter() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  // The highest id committed so far: every row up to it is in the database.
  std::int64_t committed() const { return committed_.load(); }

  // Waits until `rows` more rows than at the start are committed (at most 10 s).
  void wait_for_rows(std::int64_t rows) const {
    const auto target = committed_.load() + rows;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (committed_.load() < target && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  // Stops the writer; throws what it failed with, if anything.
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (!error_.empty()) {
      const std::string error = error_;
      error_.clear();
      throw std::runtime_error("live writer: " + error);
    }
  }

 private:
  void run() {
    try {
      auto db = store::Database::open(file_);
      auto insert = db.prepare("INSERT INTO items(id, payload) VALUES (?, ?)");
      while (!stop_.load()) {
        const std::int64_t id = committed_.load() + 1;
        store::Transaction transaction(db);
        insert.reset();
        insert.bind(1, id).bind(2, std::string(200, 'w'));
        insert.step();
        transaction.commit();
        committed_.store(id);
      }
    } catch (const std::exception& error) {
      error_ = error.what();
    }
  }

  std::filesystem::path file_;
  std::atomic<std::int64_t> committed_{0};
  std::atomic<bool> stop_{false};
  std::string error_;
  std::thread thread_;
};

// Overwrites a few pages in the middle of a database file (no -wal beside it) with garbage, as a
// failing disk would.
inline void overwrite_middle_pages(const std::filesystem::path& file) {
  constexpr std::uint64_t kPage = 4096;
  const auto size = std::filesystem::file_size(file);
  if (size < 8 * kPage) throw std::runtime_error("too small to corrupt: " + file.string());
  std::fstream out(file, std::ios::binary | std::ios::in | std::ios::out);
  out.seekp(static_cast<std::streamoff>(size / 2 / kPage * kPage));
  const std::string garbage(3 * kPage, '\xAB');
  out.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  if (!out) throw std::runtime_error("cannot corrupt " + file.string());
}

}  // namespace nbo::test_support
