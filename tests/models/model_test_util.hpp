// Helpers shared by the model tests: the fixture model, temporary directories, file writing.
#pragma once

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include "support/temp_dir.hpp"

namespace nbo::models::test {

inline std::filesystem::path fixture_path(const std::string& relative) {
  return std::filesystem::path(NBO_FIXTURES_DIR) / relative;
}

inline std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + file.string());
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

inline void write_text(const std::filesystem::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) throw std::runtime_error("cannot write " + file.string());
}

inline nlohmann::json valid_model_json() {
  return nlohmann::json::parse(read_text(fixture_path("models/valid_logistic.json")));
}

using ::nbo::test_support::TempDir;

}  // namespace nbo::models::test
