#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <iostream>
#include <mutex>
#include <thread>

#include "nbo/api/service.hpp"
#include "nbo/cli/commands.hpp"
#include "nbo/config/serve_config.hpp"
#include "nbo/http/logging.hpp"
#include "nbo/http/server.hpp"
#include "nbo/metrics/registry.hpp"
#include "nbo/models/registry.hpp"
#include "nbo/store/api_key_store.hpp"
#include "nbo/store/customer_store.hpp"
#include "nbo/store/database.hpp"
#include "nbo/store/offer_store.hpp"
#include "nbo/store/request_log.hpp"

extern char** environ;

namespace nbo::cli {
namespace {

std::vector<std::string> environment_strings() {
  std::vector<std::string> out;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    out.emplace_back(*entry);
  }
  return out;
}

// Blocks SIGINT, SIGTERM and SIGHUP in this thread and every thread it starts later, so that only
// the main thread's sigwait() receives them: they are taken as ordinary events of that thread,
// never run in a signal handler, so it may do anything (log, load files, take locks).
sigset_t block_handled_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  if (const int rc = pthread_sigmask(SIG_BLOCK, &signals, nullptr); rc != 0) {
    throw std::runtime_error(std::string("cannot block signals: ") + std::strerror(rc));
  }
  return signals;
}

}  // namespace

int run_serve(const std::vector<std::string>& args) {
  const auto parsed = config::parse_serve_config(args, environment_strings());
  if (!parsed.config) {
    (parsed.exit_code == 0 ? std::cout : std::cerr) << parsed.message << '\n';
    return parsed.exit_code;
  }
  const config::ServeConfig& config = *parsed.config;
  if (!config.log_every_line) http::use_buffered_stdout_log();
  http::configure_logging(config.json_logs, config.log_level);
  const sigset_t signals = block_handled_signals();

  try {
    spdlog::info("opening database {}", config.db_path.string());
    auto database = store::Database::open(config.db_path);
    database.apply_migrations(config.migrations_dir);
    std::mutex probe_mutex;
    auto database_writable = [&database, &probe_mutex] {
      std::lock_guard lock(probe_mutex);
      return database.writable();
    };
    // Writes that are acknowledged are on disk first (--durability full, the default).
    store::CustomerStore customers(
        config.db_path, store::OpenOptions{.synchronous = config.durability,
                                           .cache_kib = store::CustomerStore::kDefaultCacheKib});
    store::OfferStore offer_store(config.db_path,
                                  store::OpenOptions{.synchronous = config.durability});
    store::RequestLogWriter request_log(
        config.db_path, store::RequestLogOptions{.capacity_bytes = config.request_log_bytes,
                                                 .overflow = config.request_log_overflow,
                                                 .retention = config.request_log_retention});

    models::ModelRegistry models;
    metrics::Registry metrics;
    store::ApiKeyStore api_keys(config.db_path);
    // Secure by default: a server others can reach does not start open to all.
    const auth::KeySet keys_at_start = api_keys.active_keys();
    const std::size_t active_keys = keys_at_start.size();
    if (active_keys == 0 && !config.limits.anonymous_without_keys) {
      spdlog::critical(
          "cannot start: --host {} is reachable from other machines and {} holds no active API "
          "key, so every route would be open to anyone. Make a key first (nbo keys add --db {} "
          "--name NAME --role admin), or pass --allow-anonymous to serve without keys.",
          config.server.host, config.db_path.string(), config.db_path.string());
      request_log.stop();
      return 1;
    }
    if (active_keys == 0 && !keys_at_start.none_ever_made()) {
      spdlog::warn(
          "every API key of {} is revoked: every route but /health and /ready answers 401 until "
          "a key is made (nbo keys add)",
          config.db_path.string());
    } else if (active_keys == 0) {
      spdlog::warn(
          "no API key is active: every route is open to whoever reaches {}:{} (nbo keys add makes "
          "one; keys are then required)",
          config.server.host, config.server.port);
    } else {
      spdlog::info("{} API key(s) active: requests need 'Authorization: Bearer KEY'", active_keys);
    }
    api::Service service({models, customers, offer_store, request_log, api_keys, metrics,
                          database_writable, config.models_dir},
                         config.limits);
    http::Server server(
        config.server, [&service](const http::Request& request) { return service.handle(request); },
        &service, [&service](const http::Request& request) { return service.dispatch(request); });
    metrics.gauge_callback("nbo_http_in_flight_requests", "HTTP requests being handled right now",
                           [&server] { return static_cast<double>(server.in_flight()); });
    metrics.counter_callback(
        "nbo_http_connections_evicted_total",
        "Connections closed at --max-connections to make room for a new one: the oldest that "
        "had never been answered (idle since it connected, or still sending its first request)",
        [&server] { return static_cast<double>(server.connections_evicted()); });
    metrics.counter_callback(
        "nbo_http_connections_refused_total",
        "New connections closed at --max-connections because every open one had been answered",
        [&server] { return static_cast<double>(server.connections_refused()); });
    server.start();
    spdlog::info("listening on http://{}:{}", config.server.host, server.port());
    http::flush_log();  // the port, for whoever started us, without waiting for the tick below

    // Models load after the listener is up, so /health answers and /ready says 503 meanwhile.
    try {
      models.load_directory(config.models_dir);
    } catch (const std::exception& error) {
      spdlog::critical("cannot start: {}", error.what());
      server.stop();
      request_log.stop();
      return 1;
    }
    const auto model = models.current()->churn;
    spdlog::info("model {} version {} loaded from {}; ready", model->metadata().name,
                 model->metadata().version, config.models_dir.string());
    if (const auto offers = models.current()->offers) {
      spdlog::info("offers model version {} loaded", offers->metadata().version);
    } else {
      spdlog::warn("no offers.json in {}: POST /next-best-offer answers 503",
                   config.models_dir.string());
    }

    // The main thread (idle otherwise) waits for signals and, every second without one,
    // re-reads the API keys, so that `nbo keys add|revoke` beside the running server takes effect
    // within a second. SIGHUP reloads the models directory through the same code path as
    // POST /admin/reload (a failed reload is logged and counted, and the loaded models are kept)
    // and the keys. SIGINT and SIGTERM end the loop.
    std::size_t keys_seen = active_keys;
    const auto refresh_keys = [&service, &keys_seen] {
      try {
        const std::size_t count = service.refresh_keys();
        if (count != keys_seen) {
          spdlog::info("API keys active: {} (were {})", count, keys_seen);
          http::flush_log();  // a change of who may call is worth seeing at once
        }
        keys_seen = count;
      } catch (const std::exception& error) {
        spdlog::warn("cannot re-read the API keys; the ones loaded are kept: {}", error.what());
      }
    };
    constexpr timespec kKeyRefreshPeriod{.tv_sec = 1, .tv_nsec = 0};
    int signal_number = 0;
    for (;;) {
      signal_number = sigtimedwait(&signals, nullptr, &kKeyRefreshPeriod);
      http::flush_log();  // buffered log lines reach stdout within a second
      if (signal_number < 0) {
        if (errno != EAGAIN && errno != EINTR) {
          throw std::runtime_error(std::string("sigtimedwait: ") + std::strerror(errno));
        }
        refresh_keys();
        continue;
      }
      if (signal_number != SIGHUP) break;
      try {
        service.reload_models("SIGHUP");
      } catch (const std::exception&) {
        // Logged with the file and the problem by the reload itself; serving goes on.
      }
      refresh_keys();
    }
    spdlog::info("received {}; shutting down (deadline {} ms)", strsignal(signal_number),
                 config.server.shutdown_deadline.count());
    const bool drained = server.stop();
    request_log.stop();
    spdlog::info(
        "shutdown complete: in-flight requests {}, request log rows written {}, "
        "dropped {}, refused (answered 503) {}, write errors {}",
        drained ? "finished" : "cut at the deadline", request_log.written_total(),
        request_log.dropped_total(), request_log.rejected_total(),
        request_log.write_errors_total());
    spdlog::default_logger()->flush();
    return 0;
  } catch (const std::exception& error) {
    spdlog::critical("cannot start: {}", error.what());
    return 1;
  }
}

std::string main_help() {
  return "Usage: nbo <command> [options]\n\n"
         "Commands:\n"
         "  serve   serve the models over HTTP/JSON (nbo serve --help)\n"
         "  train   train a model from a raw export (nbo train churn|segments|offers --help)\n"
         "  score   score a CSV of customers or a raw export offline (nbo score --help)\n"
         "  import  load an export into the service database (nbo import customers|offers --help)\n"
         "  db      back up or check the service database, also while it is served (nbo db "
         "backup|check --help)\n"
         "  keys    make, list and revoke the API keys of the service database (nbo keys add "
         "--help)\n"
         "\n"
         "Options:\n"
         "  --help      this help\n"
         "  --version   print the version\n";
}

}  // namespace nbo::cli
