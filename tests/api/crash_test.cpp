// The real `nbo serve`, killed with SIGKILL in the middle of concurrent writes and scoring, then
// started again on the same file: every customer write that was answered 2xx is there with its
// exact value, the database passes PRAGMA integrity_check, and the server is ready again.
//
// Each round has a seed that decides when the kill comes. NBO_CRASH_ROUNDS (default 3) rounds
// run from NBO_CRASH_SEED (default 1); scripts/crash_test.sh runs many.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "nbo/store/database.hpp"
#include "support/child_process.hpp"

namespace nbo::api::testing {
namespace {

using namespace std::chrono_literals;

int environment_number(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::atoi(value) : fallback;
}

// One writer's view: the last value the server acknowledged per customer, and the write in
// flight when the server died (it may or may not have been committed).
struct WriterLedger {
  std::map<std::string, double> acknowledged;
  std::optional<std::pair<std::string, double>> in_flight;
  std::size_t acknowledged_writes = 0;
};

// The customer's body with `revenue_this_month` set to `value`: the value a check reads back.
std::string customer_body(const Json& features, double value) {
  Json body{{"features", features}};
  body["features"]["revenue_this_month"] = value;
  return body.dump();
}

struct RoundResult {
  std::size_t acknowledged_writes = 0;
  std::size_t customers_checked = 0;
  std::size_t lost = 0;
  std::size_t predictions = 0;
};

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (kBinary == nullptr) GTEST_SKIP() << "NBO_BINARY is not defined (partial build)";
  }

  RoundResult run_round(std::uint32_t seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    RoundResult result;
    const auto db = dir_ / ("crash-" + std::to_string(seed)) / "nbo.db";
    const auto log = dir_ / ("crash-" + std::to_string(seed) + ".log");
    std::mt19937 random(seed);
    const Json features = fixture_customer("215349")["features"];
    constexpr int kWriters = 3;
    std::vector<WriterLedger> ledgers(kWriters);
    {
      ChildProcess server(serve_args(db, models_dir()), log);
      const unsigned short port = wait_for_port(server, log, 10s);
      EXPECT_NE(port, 0) << read_text(log);
      if (port == 0) return result;
      EXPECT_TRUE(wait_until_ready(port, 10s)) << read_text(log);

      std::atomic<bool> stop{false};
      std::atomic<std::size_t> predictions{0};
      std::vector<std::thread> clients;
      for (int w = 0; w < kWriters; ++w) {
        clients.emplace_back([&, w] {
          WriterLedger& ledger = ledgers[static_cast<std::size_t>(w)];
          try {
            test::HttpClient client("127.0.0.1", port, 5s);
            for (int i = 0; !stop.load(); ++i) {
              // 40 customers per writer, each overwritten with ever larger values.
              const std::string id = "w" + std::to_string(w) + "-" + std::to_string(i % 40);
              const double value = 1000.0 + i;
              ledger.in_flight = std::pair{id, value};
              const auto response =
                  client.request("PUT", "/customers/" + id, customer_body(features, value),
                                 {{"Content-Type", "application/json"}});
              if (response.status != 200) break;
              ledger.acknowledged[id] = value;
              ++ledger.acknowledged_writes;
              ledger.in_flight.reset();
            }
          } catch (const std::exception&) {
            // The server died under this client: the ledger says what was acknowledged.
          }
        });
      }
      clients.emplace_back([&] {
        try {
          test::HttpClient client("127.0.0.1", port, 5s);
          const std::string body = fixture_customer("215350").dump();
          while (!stop.load()) {
            if (client.request("POST", "/predict", body, {{"Content-Type", "application/json"}})
                    .status == 200) {
              ++predictions;
            }
          }
        } catch (const std::exception&) {
        }
      });
      std::this_thread::sleep_for(std::chrono::milliseconds(150 + random() % 900));
      EXPECT_TRUE(server.signal(SIGKILL));
      EXPECT_EQ(server.wait_for_exit(10s), std::optional<int>(128 + SIGKILL));
      stop = true;
      for (auto& client : clients) client.join();
      result.predictions = predictions.load();
    }

    // Integrity first, on the file as the kill left it (with its WAL).
    {
      auto database = store::Database::open(db);
      auto check = database.prepare("PRAGMA integrity_check");
      EXPECT_TRUE(check.step());
      EXPECT_EQ(check.column_text(0), "ok");
    }
    // Started again on the same file: ready, and every acknowledged write is there.
    ChildProcess server(serve_args(db, models_dir()), log);
    const unsigned short port = wait_for_port(server, log, 10s);
    EXPECT_NE(port, 0) << read_text(log);
    if (port == 0) return result;
    EXPECT_TRUE(wait_until_ready(port, 10s)) << read_text(log);
    test::HttpClient client("127.0.0.1", port, 5s);
    for (const auto& ledger : ledgers) {
      result.acknowledged_writes += ledger.acknowledged_writes;
      for (const auto& [id, value] : ledger.acknowledged) {
        ++result.customers_checked;
        const auto response = client.request("GET", "/customers/" + id);
        if (response.status != 200) {
          ++result.lost;
          ADD_FAILURE() << id << " was acknowledged with " << value << " and is gone";
          continue;
        }
        const double stored =
            Json::parse(response.body)["features"]["revenue_this_month"].get<double>();
        // The write in flight at the kill may have been committed after the last acknowledged.
        const bool newer_in_flight =
            ledger.in_flight && ledger.in_flight->first == id && ledger.in_flight->second == stored;
        if (stored != value && !newer_in_flight) {
          ++result.lost;
          ADD_FAILURE() << id << ": acknowledged " << value << ", stored " << stored;
        }
      }
    }
    EXPECT_TRUE(server.signal(SIGTERM));
    EXPECT_EQ(server.wait_for_exit(15s), std::optional<int>(0)) << read_text(log);
    return result;
  }

  TempDir dir_;
};

TEST_F(CrashTest, SigkillLosesNoAcknowledgedWriteAndTheServerComesBack) {
  const int rounds = environment_number("NBO_CRASH_ROUNDS", 3);
  const int first_seed = environment_number("NBO_CRASH_SEED", 1);
  RoundResult total;
  for (int round = 0; round < rounds; ++round) {
    const RoundResult result = run_round(static_cast<std::uint32_t>(first_seed + round));
    total.acknowledged_writes += result.acknowledged_writes;
    total.customers_checked += result.customers_checked;
    total.lost += result.lost;
    total.predictions += result.predictions;
    if (HasFailure()) break;
  }
  // The figures scripts/crash_test.sh collects.
  std::cout << "CRASH rounds " << rounds << " acknowledged_writes " << total.acknowledged_writes
            << " customers_checked " << total.customers_checked << " lost " << total.lost
            << " predictions " << total.predictions << "\n";
  EXPECT_GT(total.acknowledged_writes, 0U);
  EXPECT_EQ(total.lost, 0U);
}

}  // namespace
}  // namespace nbo::api::testing
