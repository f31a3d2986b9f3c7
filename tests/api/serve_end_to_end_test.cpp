// The real `nbo` executable as a child process: start-up, serving, graceful shutdown on SIGTERM
// with the request log flushed, start-up failures, help.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "api/api_harness.hpp"
#include "support/prometheus_text.hpp"

extern char** environ;

namespace nbo::api::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

#ifdef NBO_BINARY
constexpr const char* kBinary = NBO_BINARY;
#else
constexpr const char* kBinary = nullptr;
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
    const auto deadline = Clock::now() + max;
    while (!exited()) {
      if (Clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(5ms);
    }
    return exit_status_;
  }

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
  std::vector<std::string> environment_;
};

struct Completed {
  std::optional<int> exit_code;  // nullopt: timed out (and killed)
  std::string output;            // stdout and stderr together
};

Completed run_to_completion(const std::vector<std::string>& args, const TempDir& dir,
                            std::chrono::milliseconds max = 10s) {
  const auto log = dir / "run.log";
  Completed completed;
  {
    ChildProcess child(args, log);
    completed.exit_code = child.wait_for_exit(max);
  }
  completed.output = read_text(log);
  return completed;
}

std::vector<std::string> serve_args(const std::filesystem::path& db,
                                    const std::filesystem::path& models) {
  return {kBinary,        "serve",
          "--port",       "0",
          "--db-path",    db.string(),
          "--models",     models.string(),
          "--migrations", migrations_dir().string(),
          "--threads",    "2"};
}

// Reads `log` until the start-up line names the port; 0 when the child exits or time runs out.
unsigned short wait_for_port(ChildProcess& child, const std::filesystem::path& log,
                             std::chrono::milliseconds max) {
  static const std::string kListening = "listening on http://127.0.0.1:";
  const auto deadline = Clock::now() + max;
  while (Clock::now() < deadline) {
    const std::string text = read_text(log);
    for (auto at = text.find(kListening); at != std::string::npos;
         at = text.find(kListening, at + 1)) {
      const std::size_t digits = at + kListening.size();
      if (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) {
        return static_cast<unsigned short>(std::stoul(text.substr(digits)));
      }
    }
    if (child.exited()) return 0;
    std::this_thread::sleep_for(10ms);
  }
  return 0;
}

bool wait_until_ready(unsigned short port, std::chrono::milliseconds max) {
  const auto deadline = Clock::now() + max;
  while (Clock::now() < deadline) {
    try {
      test::HttpClient client("127.0.0.1", port, 2s);
      if (client.request("GET", "/ready").status == 200) return true;
    } catch (const std::exception&) {
      // not accepting yet
    }
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

class ServeEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    if (kBinary == nullptr) GTEST_SKIP() << "NBO_BINARY is not defined (partial build)";
  }
  TempDir dir_;
};

TEST_F(ServeEndToEnd, ServesThenShutsDownGracefullyOnSigtermWithTheRequestLogFlushed) {
  const auto db = dir_ / "var" / "nbo.db";  // the directory is created by the server
  const auto log = dir_ / "serve.log";
  ChildProcess child(serve_args(db, models_dir()), log);
  const unsigned short port = wait_for_port(child, log, 10s);
  ASSERT_NE(port, 0) << "no 'listening on' line; log:\n" << read_text(log);
  ASSERT_TRUE(wait_until_ready(port, 10s)) << read_text(log);

  constexpr int kRequests = 200;
  std::set<std::string> ids;
  const std::string body = fixture_customer("215349").dump();
  {
    test::HttpClient client("127.0.0.1", port, 5s);
    for (int i = 0; i < kRequests; ++i) {
      const std::string id = "e2e-" + std::to_string(i);
      const auto response = client.request(
          "POST", "/predict", body, {{"Content-Type", "application/json"}, {"X-Request-Id", id}});
      ASSERT_EQ(response.status, 200U) << id << ": " << response.body;
      ASSERT_EQ(response.header("X-Request-Id"), id);
      ids.insert(id);
    }
    const auto metrics = client.request("GET", "/metrics");
    ASSERT_EQ(metrics.status, 200U);
    const auto parsed = test::parse_prometheus_text(metrics.body);
    EXPECT_EQ(parsed.value("nbo_http_requests_total",
                           {{"route", "/predict"}, {"method", "POST"}, {"status", "200"}}),
              std::optional<double>(kRequests));
    EXPECT_TRUE(parsed.value("nbo_http_in_flight_requests").has_value());
    // The client keeps its connection open: shutdown must close idle keep-alive connections.
    ASSERT_TRUE(child.signal(SIGTERM));
    const auto code = child.wait_for_exit(15s);
    ASSERT_TRUE(code.has_value()) << "nbo serve did not exit after SIGTERM; log:\n"
                                  << read_text(log);
    EXPECT_EQ(*code, 0) << read_text(log);
  }

  const std::string output = read_text(log);
  EXPECT_NE(output.find("shutting down"), std::string::npos) << output;
  EXPECT_NE(output.find("shutdown complete"), std::string::npos) << output;

  store::OpenOptions read_only;
  read_only.read_only = true;
  auto database = store::Database::open(db, read_only);
  auto rows = database.prepare(
      "SELECT request_id, route, status FROM request_log WHERE request_id LIKE 'e2e-%'");
  std::set<std::string> logged;
  int total = 0;
  while (rows.step()) {
    ++total;
    logged.insert(rows.column_text(0));
    EXPECT_EQ(rows.column_text(1), "/predict");
    EXPECT_EQ(rows.column_int64(2), 200);
  }
  EXPECT_EQ(total, kRequests);
  EXPECT_EQ(logged, ids);
}

TEST_F(ServeEndToEnd, SigintAlsoShutsDownCleanly) {
  const auto log = dir_ / "serve.log";
  ChildProcess child(serve_args(dir_ / "nbo.db", models_dir()), log);
  const unsigned short port = wait_for_port(child, log, 10s);
  ASSERT_NE(port, 0) << read_text(log);
  ASSERT_TRUE(wait_until_ready(port, 10s)) << read_text(log);
  ASSERT_TRUE(child.signal(SIGINT));
  const auto code = child.wait_for_exit(15s);
  ASSERT_TRUE(code.has_value()) << read_text(log);
  EXPECT_EQ(*code, 0) << read_text(log);
}

// The churn version GET /models answers ("" when it cannot be read).
std::string served_churn_version(unsigned short port) {
  test::HttpClient client("127.0.0.1", port, 5s);
  const auto response = client.request("GET", "/models");
  if (response.status != 200) return "";
  const Json body = Json::parse(response.body);
  for (const auto& model : body["models"]) {
    if (model.value("kind", "") == "churn") return model.value("version", "");
  }
  return "";
}

std::optional<double> served_reloads(unsigned short port, const std::string& result) {
  test::HttpClient client("127.0.0.1", port, 5s);
  return test::parse_prometheus_text(client.request("GET", "/metrics").body)
      .value("nbo_model_reloads_total", {{"result", result}});
}

TEST_F(ServeEndToEnd, SighupReloadsTheModelsAndABrokenFileKeepsThem) {
  const auto models = dir_ / "models";
  std::filesystem::create_directories(models);
  for (const auto* name : {"churn.json", "segments.json", "offers.json"}) {
    std::filesystem::copy_file(models_dir() / name, models / name);
  }
  Json churn = Json::parse(read_text(models / "churn.json"));
  Json segments = Json::parse(read_text(models / "segments.json"));
  const std::string original = churn["metadata"]["version"];
  const auto log = dir_ / "serve.log";
  ChildProcess child(serve_args(dir_ / "nbo.db", models), log);
  const unsigned short port = wait_for_port(child, log, 10s);
  ASSERT_NE(port, 0) << read_text(log);
  ASSERT_TRUE(wait_until_ready(port, 10s)) << read_text(log);
  ASSERT_EQ(served_churn_version(port), original);

  const std::string reloaded = original + "-sighup";
  churn["metadata"]["version"] = reloaded;
  segments["metadata"]["churn_model_version"] = reloaded;
  write_text(models / "segments.json", segments.dump());
  write_text(models / "churn.json", churn.dump());
  ASSERT_TRUE(child.signal(SIGHUP));
  const auto deadline = Clock::now() + 10s;
  while (served_churn_version(port) != reloaded && Clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(served_churn_version(port), reloaded) << read_text(log);
  EXPECT_EQ(served_reloads(port, "ok"), std::optional<double>(1));

  write_text(models / "churn.json", "{\"format\": ");
  ASSERT_TRUE(child.signal(SIGHUP));
  const auto failed_deadline = Clock::now() + 10s;
  while (served_reloads(port, "failed") != std::optional<double>(1) &&
         Clock::now() < failed_deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(served_reloads(port, "failed"), std::optional<double>(1)) << read_text(log);
  EXPECT_EQ(served_churn_version(port), reloaded);
  EXPECT_FALSE(child.exited()) << read_text(log);
  {
    test::HttpClient client("127.0.0.1", port, 5s);
    EXPECT_EQ(client.request("GET", "/ready").status, 200U);
  }
  const std::string output = read_text(log);
  EXPECT_NE(output.find("model reload (SIGHUP)"), std::string::npos) << output;
  EXPECT_NE(output.find((models / "churn.json").string()), std::string::npos) << output;

  ASSERT_TRUE(child.signal(SIGTERM));
  const auto code = child.wait_for_exit(15s);
  ASSERT_TRUE(code.has_value()) << read_text(log);
  EXPECT_EQ(*code, 0) << read_text(log);
}

TEST_F(ServeEndToEnd, MissingModelFileFailsNamingIt) {
  const auto models = dir_ / "empty-models";
  std::filesystem::create_directories(models);
  const auto result = run_to_completion(serve_args(dir_ / "nbo.db", models), dir_);
  ASSERT_TRUE(result.exit_code.has_value()) << "did not exit; output:\n" << result.output;
  EXPECT_NE(*result.exit_code, 0) << result.output;
  EXPECT_LT(*result.exit_code, 128) << "killed by a signal: " << result.output;
  EXPECT_NE(result.output.find((models / "churn.json").string()), std::string::npos)
      << result.output;
}

TEST_F(ServeEndToEnd, InvalidModelFileFailsNamingIt) {
  const auto models = dir_ / "broken-models";
  std::filesystem::create_directories(models);
  for (const std::string& content : {std::string("{ \"format\": \"nbo.churn_model\", "),
                                     std::string(R"({"format": "nbo.churn_model"})")}) {
    write_text(models / "churn.json", content);
    const auto result = run_to_completion(serve_args(dir_ / "nbo.db", models), dir_);
    ASSERT_TRUE(result.exit_code.has_value()) << "did not exit; output:\n" << result.output;
    EXPECT_NE(*result.exit_code, 0) << result.output;
    EXPECT_LT(*result.exit_code, 128) << "killed by a signal: " << result.output;
    EXPECT_NE(result.output.find((models / "churn.json").string()), std::string::npos)
        << result.output;
  }
}

TEST_F(ServeEndToEnd, HelpExitsZero) {
  const auto main_help = run_to_completion({kBinary, "--help"}, dir_);
  ASSERT_TRUE(main_help.exit_code.has_value());
  EXPECT_EQ(*main_help.exit_code, 0) << main_help.output;
  for (const char* word : {"serve", "train", "--help", "--version"}) {
    EXPECT_NE(main_help.output.find(word), std::string::npos) << word << "\n" << main_help.output;
  }

  const auto serve_help = run_to_completion({kBinary, "serve", "--help"}, dir_);
  ASSERT_TRUE(serve_help.exit_code.has_value());
  EXPECT_EQ(*serve_help.exit_code, 0) << serve_help.output;
  for (const char* flag : {"--host", "--port", "--threads", "--models", "--db-path", "--migrations",
                           "--max-body-bytes", "--max-in-flight", "--max-batch",
                           "--read-timeout-ms", "--idle-timeout-ms", "--shutdown-timeout-ms",
                           "--request-log-capacity", "--log-format", "--log-level", "--help"}) {
    EXPECT_NE(serve_help.output.find(flag), std::string::npos) << flag << "\n" << serve_help.output;
  }
}

TEST_F(ServeEndToEnd, UsageErrorsExitTwo) {
  const auto no_command = run_to_completion({kBinary}, dir_);
  ASSERT_TRUE(no_command.exit_code.has_value());
  EXPECT_EQ(*no_command.exit_code, 2) << no_command.output;

  const auto bad_port = run_to_completion({kBinary, "serve", "--port", "70000"}, dir_);
  ASSERT_TRUE(bad_port.exit_code.has_value());
  EXPECT_EQ(*bad_port.exit_code, 2) << bad_port.output;
  EXPECT_NE(bad_port.output.find("--port"), std::string::npos) << bad_port.output;

  const auto unknown = run_to_completion({kBinary, "frobnicate"}, dir_);
  ASSERT_TRUE(unknown.exit_code.has_value());
  EXPECT_EQ(*unknown.exit_code, 2) << unknown.output;
}

}  // namespace
}  // namespace nbo::api::testing
