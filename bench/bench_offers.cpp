// bench_offers: the next-best-offer figures.
//
//   bench_offers latency   POST /next-best-offer over HTTP against the real server started in
//                          this process (wired as `nbo serve` wires it: SQLite file with the
//                          migrations, OfferStore, the models of models/, api::Service,
//                          http::Server on 127.0.0.1:0), one keep-alive connection, one request at
//                          a time. A synthetic catalog of C courses and a user with E events
//                          (views, trials, carts, a few purchases and lessons over 300 days) are
//                          imported first. Each request is recorded in the offers log (the contact
//                          policy is relaxed so that every request gets its offers) unless
//                          --replay. Prints p50/p90/p99/max per (C, E) of the grid, then one RESULT
//                          line.
//   bench_offers evaluate  the trainer's time-split evaluation on the shared school export
//                          (../shared/data/school): HitRate@1/@3, NDCG@3, MAP@3 of the baselines
//                          and the model, and the buy-again ROC-AUC; then the same on the OULAD
//                          adapter (../shared/data/oulad) when it is there.
//
// In-process: client and server share the machine's cores; figures include both.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "nbo/api/service.hpp"
#include "nbo/http/server.hpp"
#include "nbo/metrics/registry.hpp"
#include "nbo/models/registry.hpp"
#include "nbo/store/api_key_store.hpp"
#include "nbo/store/customer_store.hpp"
#include "nbo/store/database.hpp"
#include "nbo/store/offer_store.hpp"
#include "nbo/store/request_log.hpp"
#include "nbo/train/offers_trainer.hpp"
#include "nbo/train/oulad_export.hpp"
#include "nbo/train/school_export.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using nbo::offers::Seconds;

const Seconds kNow = *nbo::offers::parse_time("2026-08-31T12:00:00Z");

// A catalog of `size` courses: the school's ids C1001.. (known to the model's market figures up
// to C1089), eight directions, tracks of three levels.
nbo::offers::Catalog synthetic_catalog(std::size_t size) {
  std::vector<nbo::offers::Course> courses;
  for (std::size_t i = 0; i < size; ++i) {
    const auto level = static_cast<int>(i % 3) + 1;
    courses.push_back({.course_id = fmt::format("C{}", 1001 + i),
                       .title = fmt::format("Course {} ({})", i / 3, level),
                       .direction = std::string(nbo::offers::kDirections[(i / 3) % 8]),
                       .level = level,
                       .price_rub = 20000.0 + 10000.0 * level + static_cast<double>(i % 7) * 1000,
                       .duration_months = 2 + level * 2,
                       .active = i % 17 != 5});
  }
  return nbo::offers::Catalog(std::move(courses));
}

std::vector<nbo::offers::Event> synthetic_events(std::size_t count, std::size_t courses,
                                                 std::uint32_t seed) {
  std::mt19937 random(seed);
  std::vector<nbo::offers::Event> events;
  const Seconds start = kNow - 300 * nbo::offers::kSecondsPerDay;
  std::uniform_int_distribution<std::size_t> course(0, courses - 1);
  for (std::size_t i = 0; i < count; ++i) {
    const Seconds time =
        start + static_cast<Seconds>(i) * (300 * 86400 / static_cast<Seconds>(count));
    const auto c = static_cast<std::int32_t>(course(random));
    using nbo::offers::EventKind;
    const std::size_t r = i % 20;
    EventKind kind = r < 6    ? EventKind::kVisit
                     : r < 14 ? EventKind::kView
                     : r < 17 ? EventKind::kTrial
                     : r < 19 ? EventKind::kCart
                              : EventKind::kStudy;
    if (i % 97 == 0) kind = EventKind::kPurchase;
    events.push_back({.time = time,
                      .kind = kind,
                      .course = kind == EventKind::kVisit ? -1 : c,
                      .amount_rub = kind == EventKind::kPurchase ? 30000.0 : 0.0});
  }
  return events;
}

struct Server {
  std::filesystem::path dir;
  std::optional<nbo::store::Database> database;
  std::optional<nbo::store::CustomerStore> customers;
  std::optional<nbo::store::OfferStore> offers;
  std::optional<nbo::store::RequestLogWriter> request_log;
  std::optional<nbo::store::ApiKeyStore> api_keys;
  nbo::models::ModelRegistry models;
  nbo::metrics::Registry metrics;
  std::optional<nbo::api::Service> service;
  std::optional<nbo::http::Server> http;

  explicit Server(const nbo::api::ServiceLimits& limits) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "nbo-bench-offers-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir = pattern;
    const auto db = dir / "nbo.db";
    database.emplace(nbo::store::Database::open(db));
    database->apply_migrations(std::filesystem::path(NBO_SOURCE_DIR) / "migrations");
    customers.emplace(db);
    offers.emplace(db);
    request_log.emplace(db);
    api_keys.emplace(db);
    models.load_directory(std::filesystem::path(NBO_SOURCE_DIR) / "models");
    service.emplace(nbo::api::ServiceDependencies{models, *customers, *offers, *request_log,
                                                  *api_keys, metrics, [] { return true; }},
                    limits);
    nbo::http::ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.threads = 2;
    http.emplace(
        options, [this](const nbo::http::Request& request) { return service->handle(request); },
        &*service,
        [this](const nbo::http::Request& request) { return service->dispatch(request); });
    http->start();
  }
  ~Server() {
    http->stop();
    request_log->stop();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

struct Percentiles {
  double p50 = 0, p90 = 0, p99 = 0, max = 0;
};

Percentiles percentiles(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  const auto at = [&](double q) {
    return ms[std::min(ms.size() - 1,
                       static_cast<std::size_t>(q * static_cast<double>(ms.size())))];
  };
  return {at(0.50), at(0.90), at(0.99), ms.back()};
}

Percentiles measure(std::size_t catalog_size, std::size_t event_count, std::size_t requests,
                    bool replay) {
  nbo::api::ServiceLimits limits;
  // Every request gets its offers: no cool-down, no cap (the log is still written).
  limits.offer_policy.crm = {
      .cooldown_days = 0, .max_offers = 1000000000, .window_days = 0, .needs_email_consent = false};
  limits.offer_policy.email = limits.offer_policy.crm;
  Server server(limits);
  const auto catalog = synthetic_catalog(catalog_size);
  const std::vector<nbo::offers::User> users = {{.user_id = "bench-user",
                                                 .registered_at = kNow - 400 * 86400,
                                                 .age_group = "25-34",
                                                 .region = "Москва",
                                                 .allow_email = true}};
  const std::vector<std::vector<nbo::offers::Event>> events = {
      synthetic_events(event_count, catalog_size, 7)};
  server.offers->import(catalog, users, events);

  asio::io_context io;
  tcp::resolver resolver(io);
  beast::tcp_stream stream(io);
  stream.connect(resolver.resolve("127.0.0.1", std::to_string(server.http->port())));
  const std::string body =
      replay
          ? nlohmann::json{{"user_id", "bench-user"}, {"k", 3}, {"as_of", "2026-08-31T12:00:00Z"}}
                .dump()
          : nlohmann::json{{"user_id", "bench-user"}, {"k", 3}}.dump();
  std::vector<double> latencies;
  const std::size_t warmup = 200;
  beast::flat_buffer buffer;
  for (std::size_t i = 0; i < warmup + requests; ++i) {
    bhttp::request<bhttp::string_body> request(bhttp::verb::post, "/next-best-offer", 11);
    request.set(bhttp::field::host, "127.0.0.1");
    request.set(bhttp::field::content_type, "application/json");
    request.keep_alive(true);
    request.body() = body;
    request.prepare_payload();
    const auto started = Clock::now();
    bhttp::write(stream, request);
    bhttp::response<bhttp::string_body> response;
    bhttp::read(stream, buffer, response);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
    if (response.result_int() != 200) {
      throw std::runtime_error("bench request failed: " + response.body());
    }
    if (i >= warmup) latencies.push_back(ms);
  }
  beast::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  return percentiles(latencies);
}

int latency(int argc, char** argv) {
  bool replay = false;
  std::size_t requests = 2000;
  std::vector<std::size_t> catalogs = {100, 300, 1000};
  std::vector<std::size_t> event_counts = {100, 300, 1000, 3000};
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--replay") replay = true;
    if (arg == "--requests" && i + 1 < argc) requests = std::stoul(argv[++i]);
    if (arg == "--catalog" && i + 1 < argc) catalogs = {std::stoul(argv[++i])};
    if (arg == "--events" && i + 1 < argc) event_counts = {std::stoul(argv[++i])};
  }
  spdlog::set_level(spdlog::level::warn);
  std::cout << fmt::format(
      "POST /next-best-offer over HTTP, one keep-alive connection, {} requests after 200 warm-up, "
      "{}; latency in ms\n",
      requests, replay ? "replays (as_of, nothing written)" : "each recorded in the offers log");
  std::cout << "| catalog | events | p50 | p90 | p99 | max |\n|---|---|---|---|---|---|\n";
  nlohmann::json result = nlohmann::json::array();
  for (const std::size_t courses : catalogs) {
    for (const std::size_t events : event_counts) {
      const auto p = measure(courses, events, requests, replay);
      std::cout << fmt::format("| {} | {} | {:.3f} | {:.3f} | {:.3f} | {:.3f} |\n", courses, events,
                               p.p50, p.p90, p.p99, p.max);
      result.push_back({{"catalog", courses},
                        {"events", events},
                        {"p50_ms", p.p50},
                        {"p90_ms", p.p90},
                        {"p99_ms", p.p99},
                        {"max_ms", p.max}});
    }
  }
  std::cout << "RESULT " << result.dump() << "\n";
  return 0;
}

void print_table(const nbo::train::OffersEvaluation& evaluation) {
  std::cout << "| ranker | HitRate@1 | HitRate@3 | NDCG@3 | MAP@3 |\n|---|---|---|---|---|\n";
  for (const auto& ranker : evaluation.rankers) {
    std::cout << fmt::format("| {} | {:.4f} | {:.4f} | {:.4f} | {:.4f} |\n", ranker.name,
                             ranker.hit_rate_1, ranker.hit_rate_3, ranker.ndcg_3, ranker.map_3);
  }
  std::cout << fmt::format(
      "model NDCG@3 / best baseline ({}) = {:.3f} (95% paired bootstrap {:.3f} .. {:.3f}); "
      "users ranked {}\n"
      "buy-again ROC-AUC {:.4f} (recency baseline {:.4f}) over {} users, positive rate {:.3f}\n",
      evaluation.best_baseline, evaluation.ndcg_lift, evaluation.ndcg_lift_low,
      evaluation.ndcg_lift_high, evaluation.rankers.empty() ? 0 : evaluation.rankers.front().users,
      evaluation.propensity_auc, evaluation.recency_auc, evaluation.propensity_users,
      evaluation.propensity_positive_rate);
}

int evaluate() {
  const std::filesystem::path data(NBO_TEST_DATA_DIR);
  nbo::train::OffersTrainingOptions options;
  options.candidate_params.trees = 300;
  options.candidate_params.max_depth = 5;
  options.candidate_params.colsample_bynode = 0.8;
  options.propensity_params.trees = 200;
  options.propensity_params.max_depth = 3;
  options.model_version = "bench";
  options.trained_at = "2026-01-01T00:00:00Z";
  if (std::filesystem::exists(data / "school" / "events.csv")) {
    const auto started = Clock::now();
    const auto school = nbo::train::load_school_export(data / "school");
    const auto result = nbo::train::train_offers_model(school, options);
    std::cout << fmt::format("## School export ({}), evaluation cutoff {}, {:.1f} s\n\n",
                             (data / "school").string(), result.evaluation.cutoff,
                             std::chrono::duration<double>(Clock::now() - started).count());
    print_table(result.evaluation);
  } else {
    std::cout << "school export not found under " << data << ": skipped\n";
  }
  if (std::filesystem::exists(data / "oulad" / "studentRegistration.csv")) {
    const auto started = Clock::now();
    const auto oulad = nbo::train::load_oulad_export(data / "oulad");
    std::cout << fmt::format("\n## OULAD ({})\n\n{}", (data / "oulad").string(),
                             oulad.report.summary(5));
    const auto result = nbo::train::evaluate_oulad(oulad);
    std::cout << fmt::format(
        "\nTime split at {} ({:.1f} s):\n"
        "buy-again (registers again, any module, retakes included, within {} days) ROC-AUC: "
        "model {:.4f}, baseline "
        "(recency and count of past registrations) {:.4f}, over {} students (positive rate "
        "{:.3f})\n"
        "next new module HitRate@1: model {:.4f}, baseline (most common next module after the "
        "student's last) {:.4f}, over {} students\n",
        result.cutoff, std::chrono::duration<double>(Clock::now() - started).count(),
        result.horizon_days, result.propensity_auc, result.baseline_auc, result.users,
        result.positive_rate, result.model_hit_rate_1, result.baseline_hit_rate_1,
        result.next_course_users);
  } else {
    std::cout << "OULAD not found under " << data << ": skipped\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string mode = argc > 1 ? argv[1] : "latency";
    if (mode == "latency") return latency(argc, argv);
    if (mode == "evaluate") return evaluate();
    std::cerr << "usage: bench_offers latency [--replay] [--requests N] [--catalog C] [--events E]"
                 " | bench_offers evaluate\n";
    return 2;
  } catch (const std::exception& error) {
    std::cerr << "bench_offers: " << error.what() << "\n";
    return 1;
  }
}
