// Fuzz target: a POST /predict body -> the typed customers the handler scores.
//
// Feeds the bytes through what the handler does with a body: json::Document::parse (with the
// service's nesting limit; its simdjson path must give nlohmann's tape or error, checked against
// Document::parse_reference), api::read_predict_request, then the request log's copy of each item
// and the committed churn model's prediction for the first few customers read. Documented
// failures: json::ParseError and api::ApiError for the whole body, features::ValidationError from
// predict(). The logged input must be valid JSON.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "nbo/api/errors.hpp"
#include "nbo/api/predict_io.hpp"
#include "nbo/features/customer.hpp"
#include "nbo/json/document.hpp"
#include "nbo/json/writer.hpp"
#include "nbo/models/churn_model.hpp"

namespace {

// The service's defaults (api::ServiceLimits).
constexpr std::size_t kMaxJsonDepth = 32;
constexpr std::size_t kMaxBatch = 10000;
// Scoring is what the other targets cover; a few customers per input keep this one fast.
constexpr std::size_t kScoredItems = 4;

std::shared_ptr<const nbo::models::ChurnModel> g_model;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  g_model = nbo::models::load_churn_model(std::string(NBO_SOURCE_DIR) + "/models/churn.json");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  std::optional<nbo::json::Document> reference;
  std::string reference_error;
  try {
    reference = nbo::json::Document::parse_reference(body, kMaxJsonDepth);
  } catch (const nbo::json::ParseError& error) {
    reference_error = error.what();
  }
  nbo::api::PredictRequest request;
  try {
    const auto document = nbo::json::Document::parse(body, kMaxJsonDepth);
    nbo::fuzz::fuzz_check(reference.has_value() && document == *reference,
                          "Document::parse gives nlohmann's tape");
    request = nbo::api::read_predict_request(document.root(), kMaxBatch);
  } catch (const nbo::json::ParseError& error) {
    nbo::fuzz::fuzz_check(!reference && reference_error == error.what(),
                          "Document::parse fails where and as nlohmann does");
    return 0;
  } catch (const nbo::api::ApiError&) {
    return 0;
  }
  nbo::fuzz::fuzz_check(request.batch || request.items.size() == 1,
                        "a single-customer body reads as one item");
  std::size_t scored = 0;
  for (const auto& item : request.items) {
    std::string logged;
    nbo::json::Writer writer(logged);
    nbo::api::write_logged_input(writer, item);
    nbo::fuzz::fuzz_check(nlohmann::json::accept(logged), "the logged input is valid JSON");
    if (item.error || !item.customer || scored == kScoredItems) continue;
    ++scored;
    try {
      const auto prediction = g_model->predict(*item.customer, 3);
      nbo::fuzz::fuzz_check(prediction.probability >= 0.0 && prediction.probability <= 1.0,
                            "a probability is in [0, 1]");
    } catch (const nbo::features::ValidationError&) {
    }
  }
  return 0;
}
