// Campaign lists with many stored customers: GET /campaigns/{segment_id} over real HTTP against
// the service built as `nbo serve` builds it, with --customers stored customers (default one
// million: the store export's customers repeated, each copy with its own id and profit).
//
// It measures, in one run:
//   1. storing the customers (CustomerStore::upsert_many, 50 000 per transaction);
//   2. the first campaign request, which must segment every stored customer (stored without a
//      segment, as after a model reload): the peer of every later list, since a service without
//      the customer_segments table would pay this on every request;
//   3. list requests once segments are current: all segments and single segments, top 100 and
//      top 1000, and a deep page (offset half-way), each --requests times: p50, p99, max;
//   4. a PUT /customers/{id} between lists (it writes the segment row itself, so the next list
//      needs no refresh).
// Usage: bench_campaign [--customers N] [--requests R] [--data DIR] [--keep-db]
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common.hpp"
#include "in_process_server.hpp"
#include "nbo/segments/segment_model.hpp"

namespace {

using Clock = std::chrono::steady_clock;
namespace bhttp = boost::beast::http;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

long rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t customer_count = 1'000'000;
  std::size_t requests = 20;
  std::string data_dir = std::string(NBO_TEST_DATA_DIR) + "/market";
  bool keep_db = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--customers" && i + 1 < argc) {
      customer_count = std::stoul(argv[++i]);
    } else if (arg == "--requests" && i + 1 < argc) {
      requests = std::stoul(argv[++i]);
    } else if (arg == "--data" && i + 1 < argc) {
      data_dir = argv[++i];
    } else if (arg == "--keep-db") {
      keep_db = true;
    } else {
      std::cerr << "usage: bench_campaign [--customers N] [--requests R] [--data DIR] "
                   "[--keep-db]\n";
      return 2;
    }
  }
  if (customer_count == 0 || requests == 0) {
    std::cerr << "bench_campaign: --customers and --requests must be at least 1\n";
    return 2;
  }
  const auto base = nbo::bench::load_bench_customers(data_dir);
  std::cout << fmt::format("customers: {} stored, copies of {} ({})\n", customer_count,
                           base.customers.size(), base.source);

  nbo::config::ServeConfig config;
  nbo::bench::InProcessServer local;
  local.start(2, config);
  const boost::asio::ip::tcp::endpoint endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                                local.server->port());
  const std::string host = fmt::format("127.0.0.1:{}", local.server->port());
  const auto get = [&](const std::string& target, double& milliseconds) {
    const auto start = Clock::now();
    auto response = nbo::bench::one_request(endpoint, host, bhttp::verb::get, target, "",
                                            std::chrono::seconds(120));
    milliseconds = seconds_since(start) * 1000.0;
    return response;
  };

  // 1. Store the customers, without segments (as a server without segments would have).
  {
    const auto start = Clock::now();
    constexpr std::size_t kChunk = 50'000;
    std::vector<std::pair<std::string, nbo::features::RawCustomer>> chunk;
    chunk.reserve(kChunk);
    for (std::size_t i = 0; i < customer_count; ++i) {
      nbo::features::RawCustomer customer = base.customers[i % base.customers.size()].customer;
      if (customer.has(nbo::features::FieldId::kProfit)) {
        // Each copy its own profit, so the lists have something to sort.
        const double scale = 0.5 + static_cast<double>((i * 7919) % 1000) / 1000.0;
        customer.set_number(nbo::features::FieldId::kProfit,
                            customer.number(nbo::features::FieldId::kProfit) * scale);
      }
      chunk.emplace_back(fmt::format("c{:07}", i), customer);
      if (chunk.size() == kChunk || i + 1 == customer_count) {
        local.customers->upsert_many(chunk);
        chunk.clear();
      }
    }
    const double seconds = seconds_since(start);
    std::cout << fmt::format("store:   {} customers in {:.1f} s ({:.0f} customers/s)\n",
                             customer_count, seconds,
                             static_cast<double>(customer_count) / seconds);
  }

  // 2. The first list segments everyone, in 2 s slices answered 503 segments_refreshing.
  {
    const auto start = Clock::now();
    int refusals = 0;
    double milliseconds = 0;
    while (true) {
      const auto response = get("/campaigns/all?limit=100", milliseconds);
      if (response.result_int() == 200) break;
      if (response.result_int() != 503) {
        std::cerr << "bench_campaign: refresh got " << response.result_int() << ": "
                  << response.body() << "\n";
        local.stop(keep_db);
        return 1;
      }
      ++refusals;
    }
    const double seconds = seconds_since(start);
    std::cout << fmt::format(
        "refresh: {} customers segmented in {:.1f} s ({:.0f} customers/s, {} answers 503 "
        "segments_refreshing before the first list): the cost of one list without stored "
        "segments\n",
        customer_count, seconds, static_cast<double>(customer_count) / seconds, refusals);
  }

  // 3. Lists once segments are current.
  const auto set = local.models.current();
  std::string largest;
  std::string smallest;
  {
    std::size_t largest_size = 0;
    std::size_t smallest_size = SIZE_MAX;
    for (const auto& segment : set->segments->segments()) {
      if (segment.stats.customers == 0) continue;
      if (segment.stats.customers > largest_size) {
        largest_size = segment.stats.customers;
        largest = segment.id;
      }
      if (segment.stats.customers < smallest_size) {
        smallest_size = segment.stats.customers;
        smallest = segment.id;
      }
    }
  }
  const std::vector<std::string> targets{
      "/campaigns/all?limit=100",
      "/campaigns/all?limit=1000",
      "/campaigns/" + largest + "?limit=100",
      "/campaigns/" + smallest + "?limit=100",
      fmt::format("/campaigns/all?limit=100&offset={}", customer_count / 2),
  };
  std::cout << fmt::format("\n{:<58} {:>9} {:>9} {:>9} {:>12}\n", "list (GET)", "p50 ms", "p99 ms",
                           "max ms", "contactable");
  for (const auto& target : targets) {
    std::vector<double> times;
    std::int64_t total = -1;
    for (std::size_t r = 0; r < requests; ++r) {
      double milliseconds = 0;
      const auto response = get(target, milliseconds);
      if (response.result_int() != 200) {
        std::cerr << "bench_campaign: " << target << " got " << response.result_int() << ": "
                  << response.body() << "\n";
        local.stop(keep_db);
        return 1;
      }
      if (r == 0) total = nlohmann::json::parse(response.body())["contactable"]["total"];
      times.push_back(milliseconds);
    }
    std::cout << fmt::format("{:<58} {:>9.2f} {:>9.2f} {:>9.2f} {:>12}\n", target,
                             percentile(times, 0.5), percentile(times, 0.99),
                             *std::max_element(times.begin(), times.end()), total);
  }

  // 4. A PUT between two lists: the list after it needs no refresh.
  {
    const auto& first = base.customers.front();
    const std::string body = nlohmann::json{{"features", first.features}}.dump();
    const auto start = Clock::now();
    const auto put =
        nbo::bench::one_request(endpoint, host, bhttp::verb::put, "/customers/new-customer", body);
    const double put_ms = seconds_since(start) * 1000.0;
    double list_ms = 0;
    const auto list = get("/campaigns/all?limit=100", list_ms);
    std::cout << fmt::format(
        "\nPUT /customers/new-customer: {} in {:.2f} ms; the next list: {} in {:.2f} ms\n",
        put.result_int(), put_ms, list.result_int(), list_ms);
  }
  std::cout << fmt::format(
      "process RSS: {:.0f} MiB; database: {:.0f} MiB\n", static_cast<double>(rss_kib()) / 1024.0,
      static_cast<double>(std::filesystem::file_size(local.db_path)) / (1024.0 * 1024.0));
  local.stop(keep_db);
  return 0;
}
