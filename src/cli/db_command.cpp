// `nbo db backup` and `nbo db check`: maintenance of the service database while the server runs
// (the work is in store/maintenance.hpp).
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <iostream>

#include "nbo/cli/commands.hpp"
#include "nbo/store/error.hpp"
#include "nbo/store/maintenance.hpp"
#include "options.hpp"

namespace nbo::cli {
namespace po = boost::program_options;
namespace {

constexpr std::string_view kUsage = "Usage: nbo db backup|check [options]   (nbo db backup --help)";

int run_db_backup(const std::vector<std::string>& args) {
  std::string db_path;
  std::string target;
  bool force = false;
  int pages_per_step = 0;
  int pause_ms = 0;
  const store::BackupOptions defaults;
  po::options_description description("nbo db backup options");
  description.add_options()("help,h", "print this help and exit")(
      "db", po::value(&db_path), "the database to copy (required; it may be in use)")(
      "to", po::value(&target), "the file to write the copy to (required)")(
      "force", po::bool_switch(&force), "replace the target file if it exists")(
      "pages-per-step", po::value(&pages_per_step)->default_value(defaults.pages_per_step),
      "database pages copied between two pauses")(
      "pause-ms", po::value(&pause_ms)->default_value(static_cast<int>(defaults.pause.count())),
      "pause between two steps, in milliseconds, so that writers are not held up");
  po::variables_map values;
  if (const auto status = parse_command_options(
          args, description, values, "nbo db backup",
          "Usage: nbo db backup --db FILE --to FILE [--force]\n\nWrites a consistent copy of the "
          "database with SQLite's backup API while the server keeps reading and writing it. The "
          "copy is written beside the target and moved into place when complete; an existing "
          "target is kept unless --force is given (it must not be in use then).")) {
    return *status;
  }
  if (db_path.empty() || target.empty()) {
    std::cerr << "nbo db backup: --db and --to are required\n";
    return 2;
  }
  if (pages_per_step <= 0 || pause_ms < 0) {
    std::cerr << "nbo db backup: --pages-per-step must be > 0 and --pause-ms >= 0\n";
    return 2;
  }
  store::BackupOptions options;
  options.overwrite = force;
  options.pages_per_step = pages_per_step;
  options.pause = std::chrono::milliseconds(pause_ms);
  try {
    const auto result = store::backup_database(db_path, target, options);
    std::cout << fmt::format(
        "backed up {} to {}: {} pages, {} bytes, {} steps, {} restarts, {:.2f} s\n", db_path,
        target, result.pages, result.bytes, result.steps, result.restarts, result.seconds);
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "nbo db backup: " << error.what() << "\n";
    if (!force && std::filesystem::exists(target)) {
      std::cerr << "nbo db backup: pass --force to replace " << target << "\n";
    }
    return 1;
  }
}

int run_db_check(const std::vector<std::string>& args) {
  std::string db_path;
  po::options_description description("nbo db check options");
  description.add_options()("help,h", "print this help and exit")(
      "db", po::value(&db_path), "the database to check (required; it may be in use)");
  po::variables_map values;
  if (const auto status = parse_command_options(
          args, description, values, "nbo db check",
          "Usage: nbo db check --db FILE\n\nRuns PRAGMA integrity_check and PRAGMA "
          "foreign_key_check on the database, read-only, and prints what they find. Exit status: "
          "0 ok, 1 problems found or the file cannot be read, 2 bad usage.")) {
    return *status;
  }
  if (db_path.empty()) {
    std::cerr << "nbo db check: --db is required\n";
    return 2;
  }
  try {
    const auto report = store::check_database(db_path);
    if (report.ok()) {
      std::cout << db_path << ": ok (integrity_check, foreign_key_check)\n";
      return 0;
    }
    std::cout << db_path << ": " << report.problems.size() << " problem(s)\n";
    for (const auto& problem : report.problems) std::cout << "  " << problem << "\n";
    return 1;
  } catch (const std::exception& error) {
    std::cerr << "nbo db check: " << error.what() << "\n";
    return 1;
  }
}

}  // namespace

int run_db(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "backup") return run_db_backup(args);
  if (!args.empty() && args[0] == "check") return run_db_check(args);
  std::cerr << kUsage << "\n";
  return 2;
}

}  // namespace nbo::cli
