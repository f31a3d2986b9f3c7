// The service as `nbo serve` builds it (src/cli/serve_command.cpp), inside a bench process:
// a migrated SQLite file, the stores, the model registry loaded from models/, metrics, the
// Service and an http::Server on 127.0.0.1 (port 0), plus a one-shot HTTP client. Header only,
// included by the bench programs that load the server over real HTTP.
#pragma once

#include <stdlib.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <filesystem>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>

#include "nbo/api/service.hpp"
#include "nbo/config/serve_config.hpp"
#include "nbo/http/server.hpp"
#include "nbo/metrics/registry.hpp"
#include "nbo/models/registry.hpp"
#include "nbo/store/api_key_store.hpp"
#include "nbo/store/customer_store.hpp"
#include "nbo/store/database.hpp"
#include "nbo/store/offer_store.hpp"
#include "nbo/store/request_log.hpp"

namespace nbo::bench {

struct InProcessServer {
  std::filesystem::path dir;  // the temporary directory made for the database, if any
  std::filesystem::path db_path;
  std::optional<store::Database> database;
  std::mutex probe_mutex;
  std::optional<store::CustomerStore> customers;
  std::optional<store::OfferStore> offer_store;
  std::optional<store::RequestLogWriter> request_log;
  std::optional<store::ApiKeyStore> api_keys;
  models::ModelRegistry models;
  metrics::Registry metrics;
  std::optional<api::Service> service;
  std::optional<http::Server> server;

  // Starts on 127.0.0.1:0 with `server_threads` I/O threads (0: the hardware's). `existing_db`
  // (already migrated or not) is used instead of a fresh file in a temporary directory.
  void start(unsigned server_threads, const config::ServeConfig& config,
             const std::filesystem::path& existing_db = {}) {
    if (existing_db.empty()) {
      std::string pattern = (std::filesystem::temp_directory_path() / "nbo-bench-XXXXXX").string();
      if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
      dir = pattern;
      db_path = dir / "nbo.db";
    } else {
      db_path = existing_db;
    }
    database.emplace(store::Database::open(db_path));
    database->apply_migrations(std::string(NBO_SOURCE_DIR) + "/migrations");
    customers.emplace(db_path);
    offer_store.emplace(db_path);
    api_keys.emplace(db_path);
    request_log.emplace(db_path,
                        store::RequestLogOptions{.capacity_bytes = config.request_log_bytes,
                                                 .overflow = config.request_log_overflow,
                                                 .retention = config.request_log_retention});
    service.emplace(
        api::ServiceDependencies{models, *customers, *offer_store, *request_log, *api_keys, metrics,
                                 [this] {
                                   std::lock_guard lock(probe_mutex);
                                   return database->writable();
                                 }},
        config.limits);
    http::ServerOptions server_options = config.server;
    server_options.host = "127.0.0.1";
    server_options.port = 0;
    server_options.threads = server_threads;
    server.emplace(
        server_options, [this](const http::Request& request) { return service->handle(request); },
        &*service, [this](const http::Request& request) { return service->dispatch(request); });
    metrics.gauge_callback("nbo_http_in_flight_requests", "HTTP requests being handled right now",
                           [this] { return static_cast<double>(server->in_flight()); });
    server->start();
    models.load_directory(std::string(NBO_SOURCE_DIR) + "/models");
  }

  // Stops everything; removes the temporary directory unless `keep`.
  void stop(bool keep) {
    if (server) server->stop();
    if (request_log) request_log->stop();
    metrics.remove_callback("nbo_http_in_flight_requests");
    server.reset();
    service.reset();
    request_log.reset();
    offer_store.reset();
    customers.reset();
    database.reset();
    if (!keep && !dir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  }
};

// One synchronous request on a fresh connection; waits at most `timeout` for each step.
inline boost::beast::http::response<boost::beast::http::string_body> one_request(
    const boost::asio::ip::tcp::endpoint& endpoint, const std::string& host_header,
    boost::beast::http::verb verb, const std::string& target, const std::string& body,
    std::chrono::seconds timeout = std::chrono::seconds(30),
    const std::string& request_id = "bench-check") {
  namespace beast = boost::beast;
  namespace bhttp = boost::beast::http;
  boost::asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(timeout);
  stream.connect(endpoint);
  bhttp::request<bhttp::string_body> request{verb, target, 11};
  request.set(bhttp::field::host, host_header);
  request.set("X-Request-Id", request_id);
  if (!body.empty()) {
    request.set(bhttp::field::content_type, "application/json");
    request.body() = body;
  }
  request.prepare_payload();
  bhttp::write(stream, request);
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  bhttp::read(stream, buffer, parser);
  beast::error_code ignored;
  stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
  return parser.release();
}

}  // namespace nbo::bench
