// What the subcommands share when they read their options. Private to src/cli.
#pragma once

#include <boost/program_options.hpp>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nbo::cli {

// Parses `args` (args[0] is the subcommand's own name, e.g. "segments", and is skipped) by
// `description` into `values`. Returns the exit status to return at once: 2 after printing
// "<command>: <problem>" for a bad option, 0 after printing `usage` and the options for --help;
// nullopt when the command should go on.
inline std::optional<int> parse_command_options(
    const std::vector<std::string>& args,
    const boost::program_options::options_description& description,
    boost::program_options::variables_map& values, std::string_view command,
    std::string_view usage) {
  namespace po = boost::program_options;
  try {
    po::store(po::command_line_parser(std::vector<std::string>(args.begin() + 1, args.end()))
                  .options(description)
                  .run(),
              values);
    po::notify(values);
  } catch (const po::error& error) {
    std::cerr << command << ": " << error.what() << "\n";
    return 2;
  }
  if (values.count("help") != 0) {
    std::cout << usage << "\n\n" << description;
    return 0;
  }
  return std::nullopt;
}

}  // namespace nbo::cli
