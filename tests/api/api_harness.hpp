#pragma once

// In-process harness for the API integration tests: a fresh SQLite file in a temp dir (migrated),
// the real stores, model registry, metrics registry, api::Service and a real http::Server on
// 127.0.0.1 (port 0) with the Service as handler and observer. Tests talk real HTTP to it.

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "nbo/api/service.hpp"
#include "nbo/http/server.hpp"
#include "nbo/metrics/registry.hpp"
#include "nbo/models/registry.hpp"
#include "nbo/store/api_key_store.hpp"
#include "nbo/store/customer_store.hpp"
#include "nbo/store/database.hpp"
#include "nbo/store/offer_store.hpp"
#include "nbo/store/request_log.hpp"
#include "support/http_client.hpp"
#include "support/temp_dir.hpp"

namespace nbo::api::testing {

using Json = nlohmann::json;
using nbo::test::HttpHeaders;
using nbo::test::HttpResponse;

inline std::filesystem::path fixtures_dir() {
  return std::filesystem::path(NBO_FIXTURES_DIR) / "api";
}
inline std::filesystem::path models_dir() {
  return NBO_MODELS_DIR;
}
inline std::filesystem::path migrations_dir() {
  return NBO_MIGRATIONS_DIR;
}

inline std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + file.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline void write_text(const std::filesystem::path& file, std::string_view text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

// {"customer_id": ..., "features": {...}} of a real customer of the export (tests/fixtures/api).
inline Json fixture_customer(std::string_view id) {
  return Json::parse(read_text(fixtures_dir() / ("customer_" + std::string(id) + ".json")));
}

using ::nbo::test_support::TempDir;

struct HarnessOptions {
  bool load_models = true;
  std::filesystem::path models_directory = models_dir();  // loaded when load_models
  ServiceLimits limits{};
  std::size_t max_body_bytes = 16 * 1024;
  unsigned threads = 2;
  // How long the client waits for one answer (large batches under the sanitizers take seconds).
  std::chrono::seconds client_timeout{5};
  // The customer store's connection (a max_page_count makes a full disk).
  store::OpenOptions customer_store{.cache_kib = store::CustomerStore::kDefaultCacheKib};
  // The request log's writer (a short flush interval so that tests see rows quickly).
  store::RequestLogOptions request_log{.flush_interval = std::chrono::milliseconds(5)};
};

struct RowCounts {
  std::int64_t customers = 0;
  std::int64_t request_log = 0;
  bool operator==(const RowCounts&) const = default;
};

inline std::ostream& operator<<(std::ostream& out, const RowCounts& rows) {
  return out << "{customers=" << rows.customers << ", request_log=" << rows.request_log << "}";
}

class ApiHarness {
 public:
  explicit ApiHarness(HarnessOptions options = {})
      : options_(std::move(options)),
        db_path_(dir_ / "nbo.db"),
        database_(open_and_migrate(db_path_)),
        customers_(db_path_, options_.customer_store),
        offer_store_(db_path_),
        request_log_(db_path_, options_.request_log),
        api_keys_(db_path_) {
    if (options_.load_models) models_.load_directory(options_.models_directory);
    service_ = std::make_unique<Service>(
        ServiceDependencies{models_, customers_, offer_store_, request_log_, api_keys_, metrics_,
                            [this] {
                              std::lock_guard lock(probe_mutex_);
                              return database_.writable();
                            },
                            options_.models_directory},
        options_.limits);
    http::ServerOptions server_options;
    server_options.host = "127.0.0.1";
    server_options.port = 0;
    server_options.threads = options_.threads;
    server_options.max_body_bytes = options_.max_body_bytes;
    server_options.shutdown_deadline = std::chrono::milliseconds(2000);
    server_ = std::make_unique<http::Server>(
        server_options, [this](const http::Request& request) { return service_->handle(request); },
        service_.get(),
        [this](const http::Request& request) { return service_->dispatch(request); });
    server_->start();
    client_ =
        std::make_unique<test::HttpClient>("127.0.0.1", server_->port(), options_.client_timeout);
  }

  ~ApiHarness() {
    client_.reset();
    server_->stop();
    server_.reset();
    request_log_.stop();
  }

  ApiHarness(const ApiHarness&) = delete;
  ApiHarness& operator=(const ApiHarness&) = delete;

  HttpResponse request(std::string_view method, std::string_view target, std::string_view body = {},
                       HttpHeaders headers = {}) {
    return client_->request(method, target, body, headers);
  }

  // A JSON request with Content-Type application/json and, when given, an X-Request-Id.
  HttpResponse send_json(std::string_view method, std::string_view target, std::string_view body,
                         std::string_view request_id = {}) {
    HttpHeaders headers{{"Content-Type", "application/json"}};
    if (!request_id.empty()) headers.emplace_back("X-Request-Id", std::string(request_id));
    return client_->request(method, target, body, headers);
  }
  HttpResponse post_json(std::string_view target, const Json& body,
                         std::string_view request_id = {}) {
    return send_json("POST", target, body.dump(), request_id);
  }
  HttpResponse put_json(std::string_view target, const Json& body,
                        std::string_view request_id = {}) {
    return send_json("PUT", target, body.dump(), request_id);
  }
  HttpResponse get(std::string_view target, std::string_view request_id = {}) {
    HttpHeaders headers;
    if (!request_id.empty()) headers.emplace_back("X-Request-Id", std::string(request_id));
    return client_->request("GET", target, {}, headers);
  }

  // Row counts read through a separate, read-only connection after the request log is flushed.
  RowCounts rows() {
    request_log_.flush();
    store::OpenOptions read_only;
    read_only.read_only = true;
    auto db = store::Database::open(db_path_, read_only);
    RowCounts counts;
    counts.customers = count(db, "customers");
    counts.request_log = count(db, "request_log");
    return counts;
  }

  // A separate read-only connection (flushes the request log first).
  store::Database inspect() {
    request_log_.flush();
    store::OpenOptions read_only;
    read_only.read_only = true;
    return store::Database::open(db_path_, read_only);
  }

  const std::filesystem::path& db_path() const { return db_path_; }
  models::ModelRegistry& models() { return models_; }
  // The churn model of the published set (null before models load).
  std::shared_ptr<const models::ChurnModel> churn_model() const { return models_.current()->churn; }
  // Publishes a set holding `model` as its churn model, as a reload would.
  void publish_churn_model(std::shared_ptr<const models::ChurnModel> model) {
    auto set = std::make_shared<models::ModelSet>(*models_.current());
    set->churn = std::move(model);
    models_.publish(std::move(set));
  }
  const Service& service() const { return *service_; }
  store::CustomerStore& customers() { return customers_; }
  store::OfferStore& offer_store() { return offer_store_; }
  store::ApiKeyStore& api_keys() { return api_keys_; }
  metrics::Registry& metrics() { return metrics_; }
  store::RequestLogWriter& request_log() { return request_log_; }
  test::HttpClient& client() { return *client_; }
  unsigned short port() const { return server_->port(); }

 private:
  static store::Database open_and_migrate(const std::filesystem::path& file) {
    auto db = store::Database::open(file);
    db.apply_migrations(migrations_dir());
    return db;
  }
  static std::int64_t count(store::Database& db, const std::string& table) {
    auto statement = db.prepare("SELECT COUNT(*) FROM " + table);
    if (!statement.step()) return -1;
    return statement.column_int64(0);
  }

  HarnessOptions options_;
  TempDir dir_;
  std::filesystem::path db_path_;
  store::Database database_;
  std::mutex probe_mutex_;
  store::CustomerStore customers_;
  store::OfferStore offer_store_;
  store::RequestLogWriter request_log_;
  store::ApiKeyStore api_keys_;
  models::ModelRegistry models_;
  metrics::Registry metrics_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<test::HttpClient> client_;
};

// Asserts the project's error shape: status, JSON content type, {"error":{"code","message",
// "field"?},"request_id"}, the exact code and field ("" = no field member), and that the body's
// request_id equals the X-Request-Id header (and `request_id` when given).
inline void expect_error(const HttpResponse& response, unsigned status, std::string_view code,
                         std::string_view field, std::string_view request_id = {}) {
  SCOPED_TRACE("response body: " + response.body);
  EXPECT_EQ(response.status, status);
  EXPECT_EQ(response.header("Content-Type"), "application/json");
  Json body;
  try {
    body = Json::parse(response.body);
  } catch (const std::exception& error) {
    ADD_FAILURE() << "error body is not JSON: " << error.what();
    return;
  }
  ASSERT_TRUE(body.is_object());
  ASSERT_TRUE(body.contains("error") && body["error"].is_object());
  const Json& error = body["error"];
  ASSERT_TRUE(error.contains("code") && error["code"].is_string());
  EXPECT_EQ(error["code"].get<std::string>(), code);
  ASSERT_TRUE(error.contains("message") && error["message"].is_string());
  EXPECT_FALSE(error["message"].get<std::string>().empty());
  if (field.empty()) {
    EXPECT_FALSE(error.contains("field"))
        << "unexpected field " << error.value("field", Json()).dump();
  } else {
    ASSERT_TRUE(error.contains("field") && error["field"].is_string());
    EXPECT_EQ(error["field"].get<std::string>(), field);
  }
  ASSERT_TRUE(body.contains("request_id") && body["request_id"].is_string());
  EXPECT_EQ(body["request_id"].get<std::string>(), response.header("X-Request-Id"));
  if (!request_id.empty()) {
    EXPECT_EQ(response.header("X-Request-Id"), request_id);
    EXPECT_EQ(body["request_id"].get<std::string>(), request_id);
  }
}

inline Json json_body(const HttpResponse& response) {
  try {
    return Json::parse(response.body);
  } catch (const std::exception& error) {
    ADD_FAILURE() << "body is not JSON: " << error.what() << "\n" << response.body;
    return Json();
  }
}

}  // namespace nbo::api::testing
