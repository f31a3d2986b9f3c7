// nbo: customer scoring service. Thin entry point; the work is in nbo_core (src/cli).
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "nbo/cli/commands.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << nbo::cli::main_help();
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    std::cout << "nbo " << NBO_VERSION << '\n';
    return 0;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  try {
    if (command == "serve") return nbo::cli::run_serve(args);
    if (command == "train") return nbo::cli::run_train(args);
    if (command == "score") return nbo::cli::run_score(args);
    if (command == "import") return nbo::cli::run_import(args);
    if (command == "db") return nbo::cli::run_db(args);
    if (command == "keys") return nbo::cli::run_keys(args);
  } catch (const std::exception& error) {
    std::cerr << "nbo " << command << ": " << error.what() << '\n';
    return 1;
  }
  std::cerr << "nbo: unknown command '" << command << "'\n\n" << nbo::cli::main_help();
  return 2;
}
