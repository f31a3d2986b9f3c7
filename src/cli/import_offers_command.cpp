// `nbo import offers`: loads a school export's catalog, users and events into the service
// database, with the same ingestion (and the same fixes and rejections) as `nbo train offers`.
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <iostream>

#include "nbo/cli/commands.hpp"
#include "nbo/store/database.hpp"
#include "nbo/store/offer_store.hpp"
#include "nbo/train/school_export.hpp"
#include "options.hpp"

namespace nbo::cli {
namespace po = boost::program_options;

int run_import_offers(const std::vector<std::string>& args) {
  std::string data_dir;
  std::string db_file;
  std::string migrations_dir;
  po::options_description description("nbo import offers options");
  description.add_options()("help,h", "print this help and exit")(
      "data", po::value(&data_dir)->default_value("../shared/data/school"),
      "directory of the school export (courses.csv, users.csv, events.csv)")(
      "db", po::value(&db_file)->default_value("nbo.db"), "SQLite database file")(
      "migrations", po::value(&migrations_dir)->default_value("migrations"),
      "directory of the SQL migrations, applied first");
  po::variables_map values;
  if (const auto status = parse_command_options(
          args, description, values, "nbo import offers",
          "Usage: nbo import offers [options]\n\nLoads a school export into the database: "
          "courses and users are inserted or replaced, each imported user's events replace the "
          "stored ones, all in one transaction.")) {
    return *status;
  }
  using Clock = std::chrono::steady_clock;
  const auto seconds_since = [](Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
  };
  const auto started = Clock::now();
  train::SchoolDataset data;
  try {
    data = train::load_school_export(data_dir);
  } catch (const std::exception& error) {
    std::cerr << "nbo import offers: " << error.what() << "\n";
    return 1;
  }
  const double read_seconds = seconds_since(started);
  std::cout << data.report.summary(10);
  const auto write_started = Clock::now();
  {
    auto database = store::Database::open(db_file);
    database.apply_migrations(migrations_dir);
  }
  store::OfferStore offer_store(db_file);
  const auto counts = offer_store.import(data.catalog, data.users, data.events);
  const double write_seconds = seconds_since(write_started);
  std::cout << fmt::format(
      "imported {} courses, {} users, {} events into {}: read and checked in {:.2f} s, written in "
      "{:.2f} s, {:.2f} s in all\n",
      counts.courses, counts.users, counts.events, db_file, read_seconds, write_seconds,
      seconds_since(started));
  return 0;
}

}  // namespace nbo::cli
