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

namespace nbo::cli {
namespace po = boost::program_options;

int run_import(const std::vector<std::string>& args) {
  if (args.empty() || args[0] != "offers") {
    std::cerr << "Usage: nbo import offers [options]   (nbo import offers --help)\n";
    return 2;
  }
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
  try {
    po::store(po::command_line_parser(std::vector<std::string>(args.begin() + 1, args.end()))
                  .options(description)
                  .run(),
              values);
    po::notify(values);
  } catch (const po::error& error) {
    std::cerr << "nbo import offers: " << error.what() << "\n";
    return 2;
  }
  if (values.count("help") != 0) {
    std::cout << "Usage: nbo import offers [options]\n\nLoads a school export into the database: "
                 "courses and users are inserted or replaced, each imported user's events "
                 "replace the stored ones, all in one transaction.\n\n"
              << description;
    return 0;
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
