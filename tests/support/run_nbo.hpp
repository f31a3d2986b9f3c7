// Runs the real `nbo` executable (NBO_BINARY, defined by CMake when the executable is built) as a
// child process to completion, for the command-line end-to-end tests.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"

extern char** environ;

namespace nbo::test_support {

// The executable's path, or nullptr in a partial build without it (tests then skip).
inline const char* nbo_binary() {
#ifdef NBO_BINARY
  return NBO_BINARY;
#else
  return nullptr;
#endif
}

struct Completed {
  int exit_code = -1;  // the exit status, or 128 + signal number when killed by a signal
  std::string output;  // stdout and stderr together
};

// Runs `nbo args...` with stdin from /dev/null, stdout and stderr to `dir`/run.log, and the
// environment without NBO_* variables; waits for it. Throws std::runtime_error when it cannot
// be started.
inline Completed run_nbo(const std::vector<std::string>& args, const TempDir& dir) {
  const char* binary = nbo_binary();
  if (binary == nullptr) throw std::runtime_error("NBO_BINARY is not defined (partial build)");
  std::vector<std::string> all{binary};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : all) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<std::string> environment;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    if (std::strncmp(*entry, "NBO_", 4) != 0) environment.emplace_back(*entry);
  }
  std::vector<char*> envp;
  for (auto& entry : environment) envp.push_back(entry.data());
  envp.push_back(nullptr);
  const auto log = dir / "run.log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, binary, &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error(std::string("posix_spawn: ") + std::strerror(rc));
  int status = 0;
  ::waitpid(pid, &status, 0);
  Completed completed;
  completed.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream in(log, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  completed.output = text.str();
  return completed;
}

// The store export the command-line tests run on (../shared/data/market beside the checkout).
inline std::filesystem::path market_dir() {
  return std::filesystem::path(NBO_TEST_DATA_DIR) / "market";
}

// The whole content of `file` ("" when it cannot be read).
inline std::string read_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace nbo::test_support
