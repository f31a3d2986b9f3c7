// `nbo keys add|list|revoke`: the API keys of a service database, also while the server runs
// (it re-reads them every second). The work is in store/api_key_store.hpp.
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <iostream>

#include "nbo/cli/commands.hpp"
#include "nbo/store/api_key_store.hpp"
#include "nbo/store/database.hpp"
#include "options.hpp"

namespace nbo::cli {
namespace po = boost::program_options;
namespace {

constexpr std::string_view kUsage =
    "Usage: nbo keys add|list|revoke [options]   (nbo keys add --help)";

// The options every keys subcommand takes: the database and its migrations.
struct DatabaseOptions {
  std::string db_path;
  std::string migrations_dir;

  void describe(po::options_description& description) {
    description.add_options()("help,h", "print this help and exit")(
        "db", po::value(&db_path), "the service database (required; it may be in use)")(
        "migrations", po::value(&migrations_dir)->default_value("migrations"),
        "directory of the SQL migrations, applied first, as nbo serve does");
  }

  // The store, with the migrations applied (a new database gets its api_keys table).
  store::ApiKeyStore open() const {
    auto database = store::Database::open(db_path);
    database.apply_migrations(migrations_dir);
    return store::ApiKeyStore(db_path);
  }
};

int run_keys_add(const std::vector<std::string>& args) {
  DatabaseOptions database;
  std::string name;
  std::string role_text;
  po::options_description description("nbo keys add options");
  database.describe(description);
  description.add_options()("name", po::value(&name),
                            "what the key is for, e.g. crm-prod (required; 1..100 bytes)")(
      "role", po::value(&role_text),
      "scorer (predict, segment, next-best-offer, reads), writer (also customers, events, "
      "courses, users, offer responses) or admin (also reload and keys) (required)");
  po::variables_map values;
  if (const auto status = parse_command_options(
          args, description, values, "nbo keys add",
          "Usage: nbo keys add --db FILE --name NAME --role scorer|writer|admin\n\nMakes an API "
          "key and prints it once: only its SHA-256 is stored, so it cannot be shown again. A "
          "running server accepts it within a second. Once a key exists, every route but /health "
          "and /ready needs 'Authorization: Bearer KEY'.")) {
    return *status;
  }
  if (database.db_path.empty() || name.empty() || role_text.empty()) {
    std::cerr << "nbo keys add: --db, --name and --role are required\n";
    return 2;
  }
  const auto role = auth::parse_role(role_text);
  if (!role) {
    std::cerr << "nbo keys add: --role must be scorer, writer or admin, got '" << role_text
              << "'\n";
    return 2;
  }
  try {
    auth::validate_key_name(name);
  } catch (const std::invalid_argument& error) {
    std::cerr << "nbo keys add: --name: " << error.what() << "\n";
    return 2;
  }
  try {
    auto keys = database.open();
    const auto made = keys.add(name, *role);
    std::cerr << fmt::format(
        "made API key {} ({}, role {}). It is printed once, on standard output; store it now.\n",
        made.key.id, made.key.name, auth::role_name(made.key.role));
    std::cout << made.token << "\n";
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "nbo keys add: " << error.what() << "\n";
    return 1;
  }
}

int run_keys_list(const std::vector<std::string>& args) {
  DatabaseOptions database;
  po::options_description description("nbo keys list options");
  database.describe(description);
  po::variables_map values;
  if (const auto status =
          parse_command_options(args, description, values, "nbo keys list",
                                "Usage: nbo keys list --db FILE\n\nPrints every API key, revoked "
                                "ones included: id, role, name, created and revoked times (never "
                                "the keys themselves, which are not stored).")) {
    return *status;
  }
  if (database.db_path.empty()) {
    std::cerr << "nbo keys list: --db is required\n";
    return 2;
  }
  try {
    auto keys = database.open();
    const auto all = keys.list();
    std::cout << fmt::format("{:<16}  {:<6}  {:<24}  {:<24}  {}\n", "id", "role", "created_at",
                             "revoked_at", "name");
    for (const auto& key : all) {
      std::cout << fmt::format("{:<16}  {:<6}  {:<24}  {:<24}  {}\n", key.id,
                               auth::role_name(key.role), key.created_at,
                               key.revoked_at.empty() ? "-" : key.revoked_at, key.name);
    }
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "nbo keys list: " << error.what() << "\n";
    return 1;
  }
}

int run_keys_revoke(const std::vector<std::string>& args) {
  DatabaseOptions database;
  std::string id;
  po::options_description description("nbo keys revoke options");
  database.describe(description);
  description.add_options()("id", po::value(&id), "the key's id, as nbo keys list shows it");
  po::variables_map values;
  if (const auto status = parse_command_options(
          args, description, values, "nbo keys revoke",
          "Usage: nbo keys revoke --db FILE --id ID\n\nRevokes a key: a running server refuses "
          "it within a second. The key stays in the list with its revocation time.\nExit status: "
          "0 revoked (or revoked before), 1 no key has this id or the database cannot be used, 2 "
          "bad usage.")) {
    return *status;
  }
  if (database.db_path.empty() || id.empty()) {
    std::cerr << "nbo keys revoke: --db and --id are required\n";
    return 2;
  }
  try {
    auto keys = database.open();
    const auto key = keys.revoke(id);
    if (!key) {
      std::cerr << "nbo keys revoke: no API key has id '" << id << "' (see nbo keys list)\n";
      return 1;
    }
    std::cout << fmt::format("revoked API key {} ({}, role {}) at {}\n", key->id, key->name,
                             auth::role_name(key->role), key->revoked_at);
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "nbo keys revoke: " << error.what() << "\n";
    return 1;
  }
}

}  // namespace

int run_keys(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "add") return run_keys_add(args);
  if (!args.empty() && args[0] == "list") return run_keys_list(args);
  if (!args.empty() && args[0] == "revoke") return run_keys_revoke(args);
  std::cerr << kUsage << "\n";
  return 2;
}

}  // namespace nbo::cli
