// The real `nbo serve` as a child process, for the end-to-end and crash tests: spawning it,
// finding the port it listens on, waiting until it is ready, killing it.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "api/api_harness.hpp"

extern char** environ;

namespace nbo::api::testing {

#ifdef NBO_BINARY
inline constexpr const char* kBinary = NBO_BINARY;
#else
inline constexpr const char* kBinary = nullptr;
#endif

// A child process with stdout and stderr going to `log_file`, stdin from /dev/null, default
// signal dispositions and an empty signal mask, and the environment without NBO_* variables.
// The destructor kills (SIGKILL) and reaps it if it is still running.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& args, const std::filesystem::path& log_file) {
    std::vector<char*> argv;
    for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
      if (std::strncmp(*entry, "NBO_", 4) != 0) environment_.emplace_back(*entry);
    }
    std::vector<char*> envp;
    for (auto& entry : environment_) envp.push_back(entry.data());
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    sigset_t empty;
    sigemptyset(&empty);
    posix_spawnattr_setsigmask(&attributes, &empty);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGPIPE);
    posix_spawnattr_setsigdefault(&attributes, &defaults);
    posix_spawnattr_setflags(&attributes,
                             static_cast<short>(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF));
    const int rc = posix_spawn(&pid_, argv[0], &actions, &attributes, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    if (rc != 0) {
      pid_ = -1;
      throw std::runtime_error(std::string("posix_spawn ") + args[0] + ": " + std::strerror(rc));
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() {
    if (pid_ > 0 && !exit_status_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }

  pid_t pid() const { return pid_; }
  bool signal(int number) const { return pid_ > 0 && !exit_status_ && ::kill(pid_, number) == 0; }

  // True when the child has exited (reaping it); never blocks.
  bool exited() {
    if (exit_status_) return true;
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status)
                                       : (WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255);
      return true;
    }
    return false;
  }

  // The exit code (128 + signal when killed by one), or nullopt if still running after `max`.
  std::optional<int> wait_for_exit(std::chrono::milliseconds max) {
    const auto deadline = std::chrono::steady_clock::now() + max;
    while (!exited()) {
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return exit_status_;
  }

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
  std::vector<std::string> environment_;
};

inline std::vector<std::string> serve_args(const std::filesystem::path& db,
                                           const std::filesystem::path& models) {
  return {kBinary,        "serve",
          "--port",       "0",
          "--db-path",    db.string(),
          "--models",     models.string(),
          "--migrations", migrations_dir().string(),
          "--threads",    "2"};
}

// Reads `log` until the start-up line names the port; 0 when the child exits or time runs out.
inline unsigned short wait_for_port(ChildProcess& child, const std::filesystem::path& log,
                                    std::chrono::milliseconds max) {
  static const std::string kListening = "listening on http://127.0.0.1:";
  const auto deadline = std::chrono::steady_clock::now() + max;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string text = read_text(log);
    for (auto at = text.find(kListening); at != std::string::npos;
         at = text.find(kListening, at + 1)) {
      const std::size_t digits = at + kListening.size();
      if (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) {
        return static_cast<unsigned short>(std::stoul(text.substr(digits)));
      }
    }
    if (child.exited()) return 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return 0;
}

inline bool wait_until_ready(unsigned short port, std::chrono::milliseconds max) {
  const auto deadline = std::chrono::steady_clock::now() + max;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      test::HttpClient client("127.0.0.1", port, std::chrono::seconds(2));
      if (client.request("GET", "/ready").status == 200) return true;
    } catch (const std::exception&) {
      // not accepting yet
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace nbo::api::testing
