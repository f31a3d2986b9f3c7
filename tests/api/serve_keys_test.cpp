// API keys with the real `nbo serve` as a child process: a server others can reach does not
// start without keys; keys made and revoked by `nbo keys` beside a running server take effect
// within a second or two.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>

#include "api/api_harness.hpp"
#include "support/api_key_text.hpp"
#include "support/child_process.hpp"
#include "support/prometheus_text.hpp"
#include "support/run_nbo.hpp"

namespace nbo::api::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

class ServeKeys : public ::testing::Test {
 protected:
  void SetUp() override {
    if (kBinary == nullptr) GTEST_SKIP() << "NBO_BINARY is not defined (partial build)";
  }
  std::vector<std::string> keys_args(std::vector<std::string> args) const {
    args.insert(args.end(), {"--db", db_.string(), "--migrations", migrations_dir().string()});
    return args;
  }
  TempDir dir_;
  std::filesystem::path db_ = dir_ / "nbo.db";
  std::filesystem::path log_ = dir_ / "serve.log";
};

// Polls `check` every 50 ms for up to `max`.
template <typename Check>
bool eventually(Check check, std::chrono::milliseconds max) {
  const auto deadline = std::chrono::steady_clock::now() + max;
  while (std::chrono::steady_clock::now() < deadline) {
    if (check()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return check();
}

TEST_F(ServeKeys, OnAnAddressOthersCanReachItRefusesToStartWithoutKeysUnlessAllowed) {
  auto args = serve_args(db_, models_dir());
  args.insert(args.end(), {"--host", "0.0.0.0"});
  {
    ChildProcess child(args, log_);
    const auto exit_code = child.wait_for_exit(20s);
    ASSERT_TRUE(exit_code.has_value()) << read_text(log_);
    EXPECT_EQ(*exit_code, 1);
  }
  const std::string refused = read_text(log_);
  EXPECT_THAT(refused, HasSubstr("no active API key"));
  EXPECT_THAT(refused, HasSubstr("--allow-anonymous"));
  EXPECT_THAT(refused, HasSubstr("nbo keys add"));

  args.push_back("--allow-anonymous");
  ChildProcess child(args, log_);
  static const std::string kListening = "listening on http://0.0.0.0:";
  unsigned short port = 0;
  const bool listening = eventually(
      [&] {
        const std::string text = read_text(log_);
        const auto at = text.find(kListening);
        if (at == std::string::npos) return false;
        port = static_cast<unsigned short>(std::stoul(text.substr(at + kListening.size())));
        return true;
      },
      20s);
  ASSERT_TRUE(listening) << read_text(log_);
  ASSERT_TRUE(wait_until_ready(port, 20s)) << read_text(log_);
  EXPECT_THAT(read_text(log_), HasSubstr("no API key is active"));
  test::HttpClient client("127.0.0.1", port, 5s);
  EXPECT_EQ(client
                .request("POST", "/predict", fixture_customer("215349").dump(),
                         {{"Content-Type", "application/json"}})
                .status,
            200U);
}

TEST_F(ServeKeys, KeysMadeAndRevokedBesideTheRunningServerTakeEffectWithinSeconds) {
  ChildProcess child(serve_args(db_, models_dir()), log_);
  const unsigned short port = wait_for_port(child, log_, 20s);
  ASSERT_NE(port, 0) << read_text(log_);
  ASSERT_TRUE(wait_until_ready(port, 20s)) << read_text(log_);
  test::HttpClient client("127.0.0.1", port, 5s);
  const std::string body = fixture_customer("215349").dump();
  const auto predict = [&](const std::string& token) {
    test::HttpHeaders headers{{"Content-Type", "application/json"}};
    if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
    return client.request("POST", "/predict", body, headers).status;
  };
  EXPECT_EQ(predict(""), 200U);  // no key yet, on the loopback

  const auto added =
      test_support::run_nbo(keys_args({"keys", "add", "--name", "crm", "--role", "scorer"}), dir_);
  ASSERT_EQ(added.exit_code, 0) << added.output;
  const std::string token = test_support::find_api_key(added.output);
  ASSERT_FALSE(token.empty()) << added.output;
  const std::string id = test_support::api_key_id(token);

  EXPECT_TRUE(eventually([&] { return predict("") == 401U; }, 5s)) << read_text(log_);
  EXPECT_EQ(predict(token), 200U);
  EXPECT_EQ(client.request("GET", "/health").status, 200U);
  // The connection limit's counters are exposed beside the key metrics.
  const auto metrics = nbo::test::parse_prometheus_text(
      client.request("GET", "/metrics", {}, {{"Authorization", "Bearer " + token}}).body);
  EXPECT_EQ(metrics.value("nbo_http_connections_evicted_total").value_or(-1), 0.0);
  EXPECT_EQ(metrics.value("nbo_api_keys_active").value_or(-1), 1.0);

  const auto revoked = test_support::run_nbo(keys_args({"keys", "revoke", "--id", id}), dir_);
  ASSERT_EQ(revoked.exit_code, 0) << revoked.output;
  EXPECT_TRUE(eventually([&] { return predict(token) == 401U; }, 5s)) << read_text(log_);
  // With its only key revoked the server does not go back to serving without keys.
  EXPECT_EQ(predict(""), 401U);
  EXPECT_THAT(read_text(log_), HasSubstr("API keys active: 0 (were 1)"));
  EXPECT_THAT(read_text(log_), Not(HasSubstr(token.substr(21))));
}

}  // namespace
}  // namespace nbo::api::testing
