// Single-thread cost of scoring one customer, without HTTP:
//   BM_Predict/reasons:3   ChurnModel::predict(customer, 3)   (what POST /predict asks for)
//   BM_Predict/reasons:0   ChurnModel::predict(customer, 0)   (no explanations)
//   BM_RawPath             features JSON -> customer_from_json -> predict(3) -> the response
//                          JSON object, built like api::Service's score() does
//   BM_RawPathText         the same, from the request body text to the response body text
//                          (json::parse before, dump() after), as the handler does it
// Customers are the real store export (NBO_TEST_DATA_DIR/market) when present, taken
// round-robin; otherwise a small synthetic set (the program says so on stderr).
// Items processed = customers scored, so Google Benchmark prints customers/s.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common.hpp"
#include "nbo/features/customer.hpp"
#include "nbo/models/churn_model.hpp"

namespace {

using nlohmann::json;
using nbo::bench::BenchCustomers;

struct Fixture {
  std::shared_ptr<const nbo::models::ChurnModel> model;
  BenchCustomers data;
  std::vector<std::string> bodies;  // {"customer_id": ..., "features": {...}} as sent by a client
};

Fixture& fixture() {
  static Fixture instance = [] {
    Fixture f;
    f.model = nbo::models::load_churn_model(std::string(NBO_SOURCE_DIR) + "/models/churn.json");
    f.data = nbo::bench::load_bench_customers(std::string(NBO_TEST_DATA_DIR) + "/market");
    for (const auto& c : f.data.customers) {
      f.bodies.push_back(json{{"customer_id", c.id}, {"features", c.features}}.dump());
    }
    return f;
  }();
  return instance;
}

// The response object of one scored customer, as src/api/service.cpp score() builds it.
json score_like_api(const nbo::models::ChurnModel& model, const nbo::features::RawCustomer& customer,
                    const std::string& customer_id, std::size_t max_reasons) {
  const nbo::models::Prediction prediction = model.predict(customer, max_reasons);
  json reasons = json::array();
  const json raw =
      prediction.reasons.empty() ? json::object() : nbo::features::customer_to_json(customer);
  for (const auto& reason : prediction.reasons) {
    const auto& field = nbo::features::store_field(reason.field);
    const auto raw_value = raw.find(std::string(field.api_name));
    json value = raw_value == raw.end() ? json(nullptr) : *raw_value;
    reasons.push_back({{"feature", field.api_name},
                       {"value", std::move(value)},
                       {"contribution", reason.contribution},
                       {"direction", reason.contribution >= 0 ? "raises_risk" : "lowers_risk"}});
  }
  json imputed = json::array();
  for (const auto field : prediction.imputed) {
    imputed.push_back(nbo::features::store_field(field).api_name);
  }
  json result{{"probability", prediction.probability},
              {"label", prediction.label},
              {"threshold", model.decision().threshold},
              {"risk_band", prediction.risk_band->name},
              {"model",
               {{"name", model.metadata().name}, {"version", model.metadata().version}}},
              {"reasons", std::move(reasons)}};
  if (!customer_id.empty()) result["customer_id"] = customer_id;
  if (!imputed.empty()) result["imputed"] = std::move(imputed);
  return result;
}

void BM_Predict(benchmark::State& state) {
  const Fixture& f = fixture();
  const auto max_reasons = static_cast<std::size_t>(state.range(0));
  const auto& customers = f.data.customers;
  std::size_t i = 0;
  for (auto _ : state) {
    auto prediction = f.model->predict(customers[i].customer, max_reasons);
    benchmark::DoNotOptimize(prediction);
    if (++i == customers.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(f.data.synthetic ? "synthetic customers" : "real customers");
}
BENCHMARK(BM_Predict)->ArgName("reasons")->Arg(3)->Arg(0);

void BM_RawPath(benchmark::State& state) {
  const Fixture& f = fixture();
  const auto& customers = f.data.customers;
  std::size_t i = 0;
  for (auto _ : state) {
    const auto& c = customers[i];
    const nbo::features::RawCustomer customer = nbo::features::customer_from_json(c.features);
    json result = score_like_api(*f.model, customer, c.id, 3);
    benchmark::DoNotOptimize(result);
    if (++i == customers.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(f.data.synthetic ? "synthetic customers" : "real customers");
}
BENCHMARK(BM_RawPath);

void BM_RawPathText(benchmark::State& state) {
  const Fixture& f = fixture();
  const auto& customers = f.data.customers;
  std::size_t i = 0;
  std::size_t bytes = 0;
  for (auto _ : state) {
    const std::string& body = f.bodies[i];
    const json request = json::parse(body);
    const nbo::features::RawCustomer customer =
        nbo::features::customer_from_json(request.at("features"));
    const json result =
        score_like_api(*f.model, customer, request.at("customer_id").get<std::string>(), 3);
    std::string text = result.dump(-1, ' ', false, json::error_handler_t::replace);
    bytes += body.size() + text.size();
    benchmark::DoNotOptimize(text);
    if (++i == customers.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  state.SetLabel(f.data.synthetic ? "synthetic customers" : "real customers");
}
BENCHMARK(BM_RawPathText);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  try {
    const Fixture& f = fixture();
    std::cerr << "model: " << f.model->metadata().name << ' ' << f.model->metadata().version
              << " (" << f.model->estimator().type() << ")\n";
    // Sanity: every customer scores (an exception would abort the timed loops).
    for (const auto& c : f.data.customers) (void)f.model->predict(c.customer, 3);
  } catch (const std::exception& error) {
    std::cerr << "bench_scoring: setup failed: " << error.what() << '\n';
    return 1;
  }
  benchmark::AddCustomContext("threads", "1 (single-thread benchmarks)");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
