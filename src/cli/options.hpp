// What the subcommands share when they read their options. Private to src/cli.
#pragma once

#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nbo/train/fingerprint.hpp"

namespace nbo::cli {

// The line every trainer prints after writing its model file, so that two machines can compare
// what they wrote without copying the files.
inline void print_model_file_sha256(const std::filesystem::path& model_file) {
  std::cout << fmt::format(
      "model file sha256 {} (the same export and seed give the same hash on any machine)\n",
      train::file_sha256_hex(model_file));
}

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
