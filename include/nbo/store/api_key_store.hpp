#pragma once

// The API keys of the service database (table api_keys, migration 0005): made, listed and revoked
// by `nbo keys` and the /admin/keys routes, read by the server into an auth::KeySet.
//
// Only each key's SHA-256 is stored (auth/api_keys.hpp); add() returns the token once.
// Threading: one connection, guarded by a mutex: every method may be called from any thread.
// Several ApiKeyStores (other processes included, such as `nbo keys` beside a running server)
// may use the same file; each change is one committed transaction.
// Errors: StoreError (error.hpp) naming the file, the statement and SQLite's message.

#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nbo/auth/api_keys.hpp"
#include "nbo/store/database.hpp"

namespace nbo::store {

class ApiKeyStore {
 public:
  // Opens the database file, whose migrations must have been applied.
  explicit ApiKeyStore(const std::filesystem::path& db_file, const OpenOptions& options = {});

  // Makes and stores a new active key. Throws std::invalid_argument for a bad name.
  auth::NewKey add(std::string name, auth::Role role);

  // Every key, revoked ones included, oldest first.
  std::vector<auth::ApiKey> list();

  // Revokes the key `id` (a key revoked before keeps its first revocation time). Returns the key
  // as stored afterwards; std::nullopt when no key has this id.
  std::optional<auth::ApiKey> revoke(std::string_view id);

  // The active keys, as the server accepts them (revoked ones are counted, not accepted).
  auth::KeySet active_keys();

 private:
  std::mutex mutex_;
  Database db_;
};

}  // namespace nbo::store
