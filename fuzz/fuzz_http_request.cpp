// Fuzz target: raw bytes of one connection -> the whole request path of the service.
//
// http::read_request() parses them as a connection does (Beast's parser with the server's
// limits, the same Request, the server's own 400/413/431 answers); each complete request is
// then given to api::Service's dispatch rule and handler, as the server would, pipelined
// requests included until one closes the connection. The service is the real one, built once:
// the committed models/, a migrated SQLite file and the request log in a scratch directory (so
// PUT /customers, /users/... and the offers log write there). POST /admin/reload reads a models
// directory holding one broken file: it must answer 422 and keep the loaded set, and it stays
// cheap. Findings: an exception out of handle() (it promises none), a 500 internal_error (an
// exception nobody planned for), a status outside 200..599, or a JSON answer that is not JSON.
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "nbo/api/service.hpp"
#include "nbo/http/message.hpp"
#include "nbo/http/server.hpp"
#include "nbo/metrics/registry.hpp"
#include "nbo/models/registry.hpp"
#include "nbo/store/api_key_store.hpp"
#include "nbo/store/customer_store.hpp"
#include "nbo/store/database.hpp"
#include "nbo/store/offer_store.hpp"
#include "nbo/store/request_log.hpp"

namespace {

// Everything `nbo serve` builds around the Service (src/cli/serve_command.cpp), minus the
// sockets; the scratch directory goes last, at exit.
struct InProcessService {
  nbo::fuzz::ScratchDir dir;
  std::filesystem::path db_path = dir / "nbo.db";
  nbo::store::Database database = open_and_migrate(db_path);
  std::mutex probe_mutex;
  nbo::store::CustomerStore customers{db_path};
  nbo::store::OfferStore offer_store{db_path};
  nbo::store::RequestLogWriter request_log{db_path, nbo::store::RequestLogOptions{}};
  // No key is made here, so routes are open (as on the loopback); an input that makes one
  // through POST /admin/keys closes them for the inputs after it, which then test the 401s.
  nbo::store::ApiKeyStore api_keys{db_path};
  nbo::models::ModelRegistry models;
  nbo::metrics::Registry metrics;
  std::unique_ptr<nbo::api::Service> service;
  nbo::http::ServerOptions server_options;

  InProcessService() {
    models.load_directory(std::filesystem::path(NBO_SOURCE_DIR) / "models");
    const auto reload_dir = dir / "reload";
    std::filesystem::create_directories(reload_dir);
    nbo::fuzz::write_file(reload_dir / "churn.json", "{\"format\": \"not a model\"}");
    service = std::make_unique<nbo::api::Service>(
        nbo::api::ServiceDependencies{models, customers, offer_store, request_log, api_keys,
                                      metrics,
                                      [this] {
                                        std::lock_guard lock(probe_mutex);
                                        return database.writable();
                                      },
                                      reload_dir},
        nbo::api::ServiceLimits{});
  }
  ~InProcessService() {
    service.reset();
    request_log.stop();
  }
  InProcessService(const InProcessService&) = delete;
  InProcessService& operator=(const InProcessService&) = delete;

  static nbo::store::Database open_and_migrate(const std::filesystem::path& file) {
    auto database = nbo::store::Database::open(file);
    database.apply_migrations(std::filesystem::path(NBO_SOURCE_DIR) / "migrations");
    return database;
  }
};

InProcessService* g_service = nullptr;

void check_answer(const nbo::http::Response& response) {
  nbo::fuzz::fuzz_check(response.status >= 200 && response.status <= 599, "a status in 200..599");
  nbo::fuzz::fuzz_check(response.status != 500, "no internal_error (an unplanned exception)");
  if (response.content_type == "application/json") {
    nbo::fuzz::fuzz_check(nlohmann::json::accept(response.body), "a JSON answer is JSON");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  // One line per request and per refusal would drown the fuzzer's output and slow it down.
  spdlog::set_level(spdlog::level::off);
  static InProcessService service;
  g_service = &service;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto& service = *g_service->service;
  while (!bytes.empty()) {
    auto read = nbo::http::read_request(bytes, g_service->server_options);
    bytes.remove_prefix(read.consumed);
    if (read.outcome == nbo::http::ReadResult::Outcome::kIncomplete) break;
    if (read.outcome == nbo::http::ReadResult::Outcome::kAnswered) {
      check_answer(read.answer);
      if (!read.keep_alive) break;
      continue;
    }
    (void)service.dispatch(read.request);
    const auto response = service.handle(read.request);
    service.on_request_finished(read.request, response, 0.001);
    check_answer(response);
    if (!read.keep_alive || read.consumed == 0) break;
  }
  return 0;
}
