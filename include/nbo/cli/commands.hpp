// The subcommands of the `nbo` executable. Each takes its arguments without the program and
// subcommand names, prints its own errors, and returns the process exit code.
#pragma once

#include <string>
#include <vector>

namespace nbo::cli {

// `nbo serve`: blocks until SIGINT/SIGTERM, then shuts down gracefully.
int run_serve(const std::vector<std::string>& args);
// `nbo train churn`: trains the activity-decline model from a store export.
int run_train(const std::vector<std::string>& args);
// `nbo train segments` (args[0] is "segments"): the store's segments from an export and its churn
// model. Exit status: 0 written, 1 a file cannot be read, 2 bad usage or a churn model that was
// not trained on the export.
int run_train_segments(const std::vector<std::string>& args);
// `nbo train offers`: trains the next-best-offer model from a school export (called by run_train).
int run_train_offers(const std::vector<std::string>& args);
// `nbo import customers|offers`: a store export's customers (import_command.cpp) or a school
// export's catalog, users and events (import_offers_command.cpp) into the service database.
// Exit status: 0 stored, 1 the export or database cannot be used, 2 bad usage.
int run_import(const std::vector<std::string>& args);
int run_import_customers(const std::vector<std::string>& args);
int run_import_offers(const std::vector<std::string>& args);
// `nbo db backup|check` (db_command.cpp): an online copy of the service database with SQLite's
// backup API, or its integrity and foreign-key check. Exit status: backup 0 written, 1 failed
// (the target exists without --force, the source cannot be read...); check 0 ok, 1 problems
// found or the file cannot be read; both 2 bad usage.
int run_db(const std::vector<std::string>& args);
// `nbo keys add|list|revoke` (keys_command.cpp): the API keys of the service database. Exit
// status: 0 done, 1 the database cannot be used (or, for revoke, no key has the id), 2 bad usage.
int run_keys(const std::vector<std::string>& args);
// `nbo score`: scores a CSV of customers or a raw store export offline (cli/score_command.hpp).
// Exit status: 0 every row scored, 3 some rows failed validation (their error column says why),
// 1 the model, input or output file cannot be used, 2 bad usage.
int run_score(const std::vector<std::string>& args);

std::string main_help();

}  // namespace nbo::cli
