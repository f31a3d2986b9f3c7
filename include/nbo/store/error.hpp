#pragma once

#include <stdexcept>
#include <string>

namespace nbo::store {

// The one exception type of the store. The message is meant for an operator: it names the
// database file, the statement or migration file involved, and SQLite's own error text.
// code() is the extended SQLite result code (e.g. SQLITE_BUSY = 5, SQLITE_READONLY = 8), or 0
// when the error did not come from SQLite (bad migration file name, unreadable file, ...).
class StoreError : public std::runtime_error {
 public:
  explicit StoreError(const std::string& message, int code = 0)
      : std::runtime_error(message), code_(code) {}

  int code() const noexcept { return code_; }

  // The database cannot take writes for now: disk or file size limit full, read-only file or
  // file system, an I/O error, or a lock held too long. A service answers these with 503 (the
  // write did not happen; retry later), not as a bug.
  bool storage_unavailable() const noexcept;

 private:
  int code_;
};

}  // namespace nbo::store
