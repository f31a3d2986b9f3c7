// The request log's writer alone: how many rows per second one SQLite writer thread stores, and
// its CPU per row, on a fresh database file with the migrations applied (the server's schema and
// indexes). Rows look like the server's: one request id per request (server-made ids, or one id
// shared by a batch's customers), customer ids drawn from a pool, the model version and band.
// `--request-ids server` uses the server's own generator (time-ordered); `random` makes 32
// random hex digits, as callers sending their own random ids (UUIDs) would.
//
//   bench_request_log [--rows N] [--batch B] [--customers C] [--request-ids server|random]
//                     [--cache-kib K] [--checkpoint-pages P] [--durability full|normal]
//                     [--max-batch ROWS] [--drop-index NAME]... [--migrations DIR]
//                     [--lookups N]
//
// --cache-kib, --checkpoint-pages and --durability override the writer's connection options
// (RequestLogOptions::open), so the defaults can be compared with other values in one run.
// --max-batch overrides RequestLogOptions::max_batch (rows per transaction at most);
// --drop-index drops one of the schema's indexes after the migrations, to price it;
// --migrations applies another directory's migrations (an earlier schema, for an A/B in one
// binary). --lookups then runs the audit query for one customer
// (SELECT ... FROM request_log WHERE customer_id = ? ORDER BY id) N times, for customers drawn from
// the pool, on the written file, and prints its mean time and rows found.
//
// The producer enqueues as fast as the queue takes rows (it waits while the queue is full), then
// flushes; the figures are the wall time from the first row to the flush and the writer
// thread's CPU time (process CPU minus the producer thread's).
#include <fmt/format.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "nbo/http/request_util.hpp"
#include "nbo/store/database.hpp"
#include "nbo/store/request_log.hpp"

namespace {

struct Options {
  std::size_t rows = 300'000;
  std::size_t batch = 1;
  std::size_t customers = 100'000;
  int cache_kib = 0;                                  // 0: the writer's default
  int checkpoint_pages = -1;                          // -1: the writer's default; 0: SQLite's
  std::optional<nbo::store::Synchronous> durability;  // unset: the writer's default
  bool random_ids = false;
  std::size_t max_batch = 0;                 // 0: the writer's default
  std::vector<std::string> dropped_indexes;  // dropped after the migrations, to price each index
  std::filesystem::path migrations = std::filesystem::path(NBO_SOURCE_DIR) / "migrations";
  std::size_t lookups = 0;
};

double seconds_of(const timeval& t) {
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
}

double cpu_seconds(int who) {
  rusage usage{};
  getrusage(who, &usage);
  return seconds_of(usage.ru_utime) + seconds_of(usage.ru_stime);
}

[[noreturn]] void usage_error(std::string_view message) {
  std::fprintf(stderr, "bench_request_log: %.*s\n", static_cast<int>(message.size()),
               message.data());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) usage_error(fmt::format("{} needs a value", flag));
    const std::string value = argv[++i];
    if (flag == "--rows") {
      options.rows = std::stoul(value);
    } else if (flag == "--batch") {
      options.batch = std::max<std::size_t>(1, std::stoul(value));
    } else if (flag == "--customers") {
      options.customers = std::max<std::size_t>(1, std::stoul(value));
    } else if (flag == "--cache-kib") {
      options.cache_kib = std::stoi(value);
    } else if (flag == "--checkpoint-pages") {
      options.checkpoint_pages = std::stoi(value);
    } else if (flag == "--durability") {
      if (value != "full" && value != "normal") usage_error("--durability is full or normal");
      options.durability =
          value == "full" ? nbo::store::Synchronous::kFull : nbo::store::Synchronous::kNormal;
    } else if (flag == "--max-batch") {
      options.max_batch = std::stoul(value);
    } else if (flag == "--drop-index") {
      options.dropped_indexes.push_back(value);
    } else if (flag == "--migrations") {
      options.migrations = value;
    } else if (flag == "--lookups") {
      options.lookups = std::stoul(value);
    } else if (flag == "--request-ids") {
      if (value != "server" && value != "random") usage_error("--request-ids is server or random");
      options.random_ids = value == "random";
    } else {
      usage_error(fmt::format("unknown flag {}", flag));
    }
  }
  return options;
}

std::string random_id(std::mt19937_64& rng) {
  return fmt::format("{:016x}{:016x}", rng(), rng());
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  const auto dir = std::filesystem::temp_directory_path() /
                   fmt::format("nbo-bench-request-log-{}", static_cast<long>(::getpid()));
  std::filesystem::create_directories(dir);
  const auto db_file = dir / "nbo.db";
  {
    auto db = nbo::store::Database::open(db_file);
    db.apply_migrations(options.migrations);
    for (const auto& index : options.dropped_indexes) {
      db.execute(fmt::format("DROP INDEX \"{}\"", index));
    }
  }
  nbo::store::RequestLogOptions log_options;
  if (options.durability) log_options.open.synchronous = *options.durability;
  if (options.cache_kib > 0) log_options.open.cache_kib = options.cache_kib;
  if (options.checkpoint_pages >= 0) {
    log_options.open.wal_autocheckpoint_pages = options.checkpoint_pages;
  }
  log_options.retention = std::chrono::hours(0);
  if (options.max_batch > 0) log_options.max_batch = options.max_batch;

  std::mt19937_64 rng(42);
  std::vector<std::string> customer_ids;
  customer_ids.reserve(options.customers);
  for (std::size_t i = 0; i < options.customers; ++i) {
    customer_ids.push_back(fmt::format("{}", 100000 + (rng() % 900000)));
  }

  const double cpu_before = cpu_seconds(RUSAGE_SELF);
  const double producer_before = cpu_seconds(RUSAGE_THREAD);
  const auto start = std::chrono::steady_clock::now();
  std::uint64_t written = 0;
  std::size_t waits = 0;
  {
    nbo::store::RequestLogWriter writer(db_file, log_options);
    std::vector<nbo::store::RequestLogEntry> request;
    for (std::size_t row = 0; row < options.rows; row += options.batch) {
      const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
      const std::string id = options.random_ids ? random_id(rng) : nbo::http::generate_request_id();
      const std::size_t count = std::min(options.batch, options.rows - row);
      // One latency per request, as the server logs it.
      const auto latency_us = 40 + static_cast<std::int64_t>(rng() % 200);
      for (std::size_t i = 0; i < count; ++i) {
        nbo::store::RequestLogEntry entry;
        entry.request_id = id;
        entry.received_at_ms = now_ms;
        entry.route = "/predict";
        entry.customer_id = customer_ids[rng() % customer_ids.size()];
        entry.model_version = "churn-knn-20261123";
        entry.probability = static_cast<double>(rng() % 1000) / 1000.0;
        entry.band = entry.probability > 0.5 ? "high" : "low";
        entry.status = 200;
        entry.latency_us = latency_us;
        request.push_back(std::move(entry));
      }
      while (!writer.enqueue(request)) {
        ++waits;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      request.clear();
    }
    writer.flush();
    written = writer.written_total();
    writer.stop();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double writer_cpu =
      (cpu_seconds(RUSAGE_SELF) - cpu_before) - (cpu_seconds(RUSAGE_THREAD) - producer_before);
  const auto file_bytes = std::filesystem::file_size(db_file);
  double lookup_us = 0.0;
  std::uint64_t rows_found = 0;
  if (options.lookups > 0) {
    auto db = nbo::store::Database::open(db_file);
    auto lookup = db.prepare(
        "SELECT id, request_id, probability FROM request_log WHERE customer_id = ? ORDER BY id");
    const auto lookups_start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < options.lookups; ++i) {
      lookup.bind(1, customer_ids[rng() % customer_ids.size()]);
      while (lookup.step()) ++rows_found;
      lookup.reset();
    }
    lookup_us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - lookups_start)
            .count() /
        static_cast<double>(options.lookups);
  }
  std::filesystem::remove_all(dir);

  std::printf(
      "rows %zu batch %zu customers %zu request_ids %s durability %s cache_kib %d "
      "checkpoint_pages %d\n"
      "written %llu in %.2f s: %.0f rows/s; writer CPU %.2f us/row; file %.0f bytes/row; "
      "producer waited %zu times for room\n",
      options.rows, options.batch, options.customers, options.random_ids ? "random" : "server",
      log_options.open.synchronous == nbo::store::Synchronous::kFull ? "full" : "normal",
      log_options.open.cache_kib, log_options.open.wal_autocheckpoint_pages,
      static_cast<unsigned long long>(written), seconds, static_cast<double>(written) / seconds,
      writer_cpu * 1e6 / static_cast<double>(written),
      static_cast<double>(file_bytes) / static_cast<double>(written), waits);
  if (options.lookups > 0) {
    std::printf("customer lookups %zu: %.1f us each, %.1f rows found each\n", options.lookups,
                lookup_us, static_cast<double>(rows_found) / static_cast<double>(options.lookups));
  }
  return written == options.rows ? 0 : 1;
}
