// What the stores share around their prepared statements. Private to src/store.
#pragma once

#include <string>
#include <string_view>

#include "nbo/store/database.hpp"

namespace nbo::store {

// db.prepare(sql), whose failure names the likely cause: a statement on a table that does not
// exist yet means the migrations were not applied.
inline Statement prepare_with_hint(Database& db, std::string_view sql) {
  try {
    return db.prepare(sql);
  } catch (const StoreError& e) {
    throw StoreError(std::string(e.what()) + " (have the migrations been applied?)", e.code());
  }
}

// Resets a statement and clears its bindings when leaving scope, even by an exception, so it can
// run again and keeps no copy of the last bound values.
class ResetGuard {
 public:
  explicit ResetGuard(Statement& stmt) noexcept : stmt_(stmt) {}
  ResetGuard(const ResetGuard&) = delete;
  ResetGuard& operator=(const ResetGuard&) = delete;
  ~ResetGuard() {
    stmt_.reset();
    stmt_.clear_bindings();
  }

 private:
  Statement& stmt_;
};

}  // namespace nbo::store
