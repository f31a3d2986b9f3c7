// `nbo import`: `customers` here, `offers` in import_offers_command.cpp.
// `nbo import customers`: loads a store export's customers into the service database, as
// PUT /customers/{id} would store them, so that /predict by id, /segment by id and the campaign
// lists answer for every one of them.
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <iostream>

#include "nbo/cli/commands.hpp"
#include "nbo/store/customer_store.hpp"
#include "nbo/store/database.hpp"
#include "nbo/train/market_export.hpp"
#include "options.hpp"

namespace nbo::cli {
namespace po = boost::program_options;

int run_import(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "customers") return run_import_customers(args);
  if (!args.empty() && args[0] == "offers") return run_import_offers(args);
  std::cerr << "Usage: nbo import customers|offers [options]   (nbo import customers --help)\n";
  return 2;
}

int run_import_customers(const std::vector<std::string>& args) {
  std::string data_dir;
  std::string db_path;
  std::string migrations_dir;
  po::options_description description("nbo import customers options");
  description.add_options()("help,h", "print this help and exit")(
      "data", po::value(&data_dir)->default_value("../shared/data/market"),
      "directory of the store export")("db", po::value(&db_path)->default_value("var/nbo.db"),
                                       "the service's SQLite database")(
      "migrations", po::value(&migrations_dir)->default_value("migrations"),
      "migrations applied first, as nbo serve does");
  po::variables_map values;
  if (const auto status = parse_command_options(
          args, description, values, "nbo import customers",
          "Usage: nbo import customers [options]\n\nStores every customer the export's "
          "ingestion keeps (fixes and rejections as for training), replacing stored customers "
          "with the same id. Their segments are computed by the server when a campaign list is "
          "first asked for.")) {
    return *status;
  }
  const auto started = std::chrono::steady_clock::now();
  train::MarketDataset data;
  try {
    data = train::load_market_export(data_dir);
    auto database = store::Database::open(db_path);
    database.apply_migrations(migrations_dir);
  } catch (const std::exception& error) {
    std::cerr << "nbo import customers: " << error.what() << "\n";
    return 1;
  }
  std::cout << data.report.summary(10) << "\n";
  std::vector<std::pair<std::string, features::RawCustomer>> customers;
  customers.reserve(data.customers.size());
  for (const auto& customer : data.customers) {
    customers.emplace_back(customer.customer_id, customer.customer);
  }
  store::CustomerStore store(db_path);
  store.upsert_many(customers);
  std::cout << fmt::format(
      "stored {} customers in {} ({} stored in all) in {:.2f} s\n", customers.size(), db_path,
      store.count(),
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return 0;
}

}  // namespace nbo::cli
