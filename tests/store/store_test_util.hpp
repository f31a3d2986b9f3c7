#pragma once

// Helpers shared by the store tests: a unique temporary directory removed afterwards.

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <random>
#include <string>
#include <system_error>
#include "support/temp_dir.hpp"

namespace nbo::store::testing {

using ::nbo::test_support::TempDir;

inline std::filesystem::path migrations_dir() {
  return NBO_MIGRATIONS_DIR;
}

}  // namespace nbo::store::testing
