#include "nbo/store/api_key_store.hpp"

#include "nbo/store/timestamp.hpp"

namespace nbo::store {
namespace {

constexpr std::string_view kSelectKeys =
    "SELECT id, name, role, key_sha256, created_at, revoked_at FROM api_keys";

auth::ApiKey read_key(const Statement& row) {
  auth::ApiKey key;
  key.id = row.column_text(0);
  key.name = row.column_text(1);
  const std::string role = row.column_text(2);
  // The table's CHECK constraint admits only the three names.
  key.role = auth::parse_role(role).value_or(auth::Role::kScorer);
  key.digest = auth::digest_from_hex(row.column_text(3));
  key.created_at = row.column_text(4);
  key.revoked_at = row.column_text(5);
  return key;
}

}  // namespace

ApiKeyStore::ApiKeyStore(const std::filesystem::path& db_file, const OpenOptions& options)
    : db_(Database::open(db_file, options)) {}

auth::NewKey ApiKeyStore::add(std::string name, auth::Role role) {
  auth::NewKey made = auth::generate_key(std::move(name), role);
  made.key.created_at = utc_now_iso8601();
  std::lock_guard lock(mutex_);
  Transaction transaction(db_);
  Statement insert = db_.prepare(
      "INSERT INTO api_keys(id, name, role, key_sha256, created_at) VALUES (?1, ?2, ?3, ?4, ?5)");
  insert.bind(1, made.key.id)
      .bind(2, made.key.name)
      .bind(3, auth::role_name(role))
      .bind(4, auth::digest_hex(made.key.digest))
      .bind(5, made.key.created_at);
  insert.step();
  transaction.commit();
  return made;
}

std::vector<auth::ApiKey> ApiKeyStore::list() {
  std::lock_guard lock(mutex_);
  Statement select = db_.prepare(std::string(kSelectKeys) + " ORDER BY created_at, id");
  std::vector<auth::ApiKey> keys;
  while (select.step()) keys.push_back(read_key(select));
  return keys;
}

std::optional<auth::ApiKey> ApiKeyStore::revoke(std::string_view id) {
  std::lock_guard lock(mutex_);
  Transaction transaction(db_);
  Statement update =
      db_.prepare("UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL");
  update.bind(1, id).bind(2, utc_now_iso8601());
  update.step();
  Statement select = db_.prepare(std::string(kSelectKeys) + " WHERE id = ?1");
  select.bind(1, id);
  std::optional<auth::ApiKey> key;
  if (select.step()) key = read_key(select);
  transaction.commit();
  return key;
}

auth::KeySet ApiKeyStore::active_keys() {
  std::lock_guard lock(mutex_);
  // Revoked keys too: the set counts them (KeySet::none_ever_made()).
  Statement select = db_.prepare(std::string(kSelectKeys));
  std::vector<auth::ApiKey> keys;
  while (select.step()) keys.push_back(read_key(select));
  return auth::KeySet(keys);
}

}  // namespace nbo::store
