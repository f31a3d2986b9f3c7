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
#include "support/child_process.hpp"
#include "support/prometheus_text.hpp"

namespace nbo::api::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

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
  for (const char* flag :
       {"--host", "--port", "--threads", "--models", "--db-path", "--migrations",
        "--max-body-bytes", "--max-in-flight", "--max-batch", "--read-timeout-ms",
        "--idle-timeout-ms", "--shutdown-timeout-ms", "--request-log-max-bytes",
        "--request-log-overflow", "--request-log-input", "--request-log-retention-days",
        "--log-format", "--log-level", "--help"}) {
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
