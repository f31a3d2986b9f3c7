// Single-thread cost of scoring one customer, without HTTP:
//   BM_Predict/reasons:3   ChurnModel::predict(customer, 3)   (what POST /predict asks for)
//   BM_Predict/reasons:0   ChurnModel::predict(customer, 0)   (no explanations)
//                          target_us: the default model's target for the line (5 and 2 us);
//                          the label names the vector kernels in use (NBO_SIMD=baseline|avx2|
//                          avx512 lowers them, for a side-by-side run)
//   BM_RawPathText         request body text -> json::Document -> api::read_predict_request
//                          -> predict(3) -> api::write_prediction -> response text: exactly
//                          what POST /predict does with one customer (the same functions);
//                          segments:0 without segments, segments:1 with models/segments.json
//                          (the answer's segment and value at risk), side by side
//   BM_WriteAnswer         api::write_prediction alone, from predictions made beforehand
//                          (3 reasons), segments:0 / segments:1 as above
//   BM_RawPathTextDom      the same through an nlohmann DOM (json::parse, customer_from_json,
//                          a json object of the answer, dump()), as the handler did before the
//                          direct reader and writer: the peer of BM_RawPathText
//   BM_KnnContributions    NearestNeighbors::contributions() of one row: 1296 synthetic
//                          reference rows x 21 columns, k = 20, uniform / distance weighting
//   BM_KnnOcclusion        the same explanation by the reference definition,
//                          occlusion_contributions() (22 full margins)
//   BM_SvcContributions    SupportVectorClassifier::contributions(): 500 synthetic support
//                          vectors x 21 columns, gamma 0.03; numeric values rounded to a tenth
//                          (few distinct values per column) or continuous (all distinct, the
//                          slow case: one exp per support vector and column)
//   BM_SvcOcclusion        the same by occlusion_contributions()
//   BM_Margins             margins of 1024 synthetic model rows (21 columns) per family:
//                          batch:0 calls margin() per row, batch:1 one Estimator::margins() call
//                          (the blocked pass); the two lines of a family are side by side and
//                          `time/row` is the CPU time per row. Families: 0 logistic regression,
//                          1 tree ensemble (300 synthetic trees of depth 6), 2 k-NN (the BM_Knn*
//                          model, distance-weighted), 3 RBF SVC (the BM_Svc* model, rounded),
//                          4 ensemble of those four
// The model is models/churn.json, or the file given as --model=PATH (e.g. one made with
// `nbo train churn --candidate gradient_boosting`), so families can be compared.
// Customers are the real store export (NBO_TEST_DATA_DIR/market) when present, taken
// round-robin; otherwise a small synthetic set (the program says so on stderr).
// Items processed = customers scored, so Google Benchmark prints customers/s.
// The estimator benches use synthetic model rows shaped like the pipeline's (standardized numeric
// columns and 0/1 one-hot groups), seeded, so they run without the export or a trained model.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "common.hpp"
#include "nbo/api/predict_io.hpp"
#include "nbo/auth/api_keys.hpp"
#include "nbo/features/customer.hpp"
#include "nbo/json/document.hpp"
#include "nbo/json/writer.hpp"
#include "nbo/models/churn_model.hpp"
#include "nbo/models/ensemble.hpp"
#include "nbo/models/estimator.hpp"
#include "nbo/models/neighbors.hpp"
#include "nbo/models/simd.hpp"
#include "nbo/models/support_vector.hpp"
#include "nbo/models/tree_ensemble.hpp"
#include "nbo/segments/segment_model.hpp"

namespace {

using nbo::bench::BenchCustomers;
using nlohmann::json;

struct Fixture {
  std::shared_ptr<const nbo::models::ChurnModel> model;
  std::shared_ptr<const nbo::segments::SegmentModel> segments;
  BenchCustomers data;
  std::vector<std::string> bodies;  // {"customer_id": ..., "features": {...}} as sent by a client
};

// Set from --model=PATH by main() before the first fixture() call.
std::string& model_path() {
  static std::string path = std::string(NBO_SOURCE_DIR) + "/models/churn.json";
  return path;
}

Fixture& fixture() {
  static Fixture instance = [] {
    Fixture f;
    f.model = nbo::models::load_churn_model(model_path());
    f.segments =
        nbo::segments::load_segment_model(std::string(NBO_SOURCE_DIR) + "/models/segments.json");
    f.data = nbo::bench::load_bench_customers(std::string(NBO_TEST_DATA_DIR) + "/market");
    for (const auto& c : f.data.customers) {
      f.bodies.push_back(json{{"customer_id", c.id}, {"features", c.features}}.dump());
    }
    return f;
  }();
  return instance;
}

// The response object of one scored customer, as src/api/service.cpp score() builds it.
// The answer as an nlohmann object, the way the handler built it before the direct writer: kept
// only as the peer of BM_RawPathText.
json score_like_api(const nbo::models::ChurnModel& model,
                    const nbo::features::RawCustomer& customer, const std::string& customer_id,
                    std::size_t max_reasons) {
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
              {"model", {{"name", model.metadata().name}, {"version", model.metadata().version}}},
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
  // The default model's targets (issue "the churn model, second version"): 5 us per customer with
  // 3 reasons, 2 us without. The time column is the figure to hold against it.
  state.counters["target_us"] = max_reasons > 0 ? 5.0 : 2.0;
  state.SetLabel(fmt::format("{} customers, {} kernels", f.data.synthetic ? "synthetic" : "real",
                             nbo::models::simd_level_name(nbo::models::simd_level())));
}
BENCHMARK(BM_Predict)->ArgName("reasons")->Arg(3)->Arg(0);

// The served model's explanation of one customer, side by side: by column (explain(), whose sums
// per field were the reasons before a category field was occluded as a whole) and by field
// (explain_groups(), what predict() runs now).
void BM_ExplainByColumnOrField(benchmark::State& state) {
  const Fixture& f = fixture();
  const auto& pipeline = f.model->pipeline();
  const auto& estimator = f.model->estimator();
  std::vector<std::vector<double>> rows;
  for (const auto& customer : f.data.customers) {
    std::vector<double> row(pipeline.column_count());
    pipeline.transform(customer.customer, row, nullptr);
    rows.push_back(std::move(row));
  }
  std::vector<double> by_column(pipeline.column_count());
  std::vector<double> by_field(pipeline.specs().size());
  const bool fields = state.range(0) == 1;
  std::size_t i = 0;
  for (auto _ : state) {
    const auto explanation =
        fields ? estimator.explain_groups(rows[i], pipeline.column_spec(), by_field)
               : estimator.explain(rows[i], by_column);
    benchmark::DoNotOptimize(explanation);
    if (++i == rows.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(std::string(estimator.type()));
}
BENCHMARK(BM_ExplainByColumnOrField)->ArgName("by_field")->Arg(0)->Arg(1);

// What every request pays for its API key once keys exist: the bearer token out of the header,
// its SHA-256, the lookup by id and the constant-time comparison (a set of 10 active keys).
void BM_AuthenticateKey(benchmark::State& state) {
  std::vector<nbo::auth::ApiKey> keys;
  std::string token;
  for (int i = 0; i < 10; ++i) {
    auto made = nbo::auth::generate_key("bench", nbo::auth::Role::kScorer);
    keys.push_back(made.key);
    token = made.token;
  }
  const nbo::auth::KeySet set(keys);
  const std::string header = "Bearer " + token;
  for (auto _ : state) {
    const auto caller = set.authenticate(nbo::auth::bearer_token(header));
    benchmark::DoNotOptimize(caller);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AuthenticateKey);

void BM_RawPathText(benchmark::State& state) {
  const Fixture& f = fixture();
  const auto& customers = f.data.customers;
  std::size_t i = 0;
  std::size_t bytes = 0;
  for (auto _ : state) {
    const std::string& body = f.bodies[i];
    const auto document = nbo::json::Document::parse(body, 32);
    const auto request = nbo::api::read_predict_request(document.root(), 1);
    const auto& item = request.items[0];
    const auto prediction = f.model->predict(*item.customer, 3);
    std::string text;
    nbo::json::Writer writer(text);
    nbo::api::write_prediction(writer, *f.model, prediction, *item.customer, item.customer_id,
                               state.range(0) != 0 ? f.segments.get() : nullptr);
    bytes += body.size() + text.size();
    benchmark::DoNotOptimize(text);
    if (++i == customers.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  state.SetLabel(f.data.synthetic ? "synthetic customers" : "real customers");
}
BENCHMARK(BM_RawPathText)->ArgName("segments")->Arg(0)->Arg(1);

// Writing one answer of POST /predict (api::write_prediction) from a prediction made beforehand
// (3 reasons), without and with the segment: the JSON writer's share of the path.
void BM_WriteAnswer(benchmark::State& state) {
  const Fixture& f = fixture();
  const auto& customers = f.data.customers;
  static const std::vector<nbo::models::Prediction> predictions = [&] {
    std::vector<nbo::models::Prediction> made;
    for (const auto& customer : customers) made.push_back(f.model->predict(customer.customer, 3));
    return made;
  }();
  std::size_t i = 0;
  std::size_t bytes = 0;
  std::string text;
  for (auto _ : state) {
    text.clear();
    nbo::json::Writer writer(text);
    nbo::api::write_prediction(writer, *f.model, predictions[i], customers[i].customer,
                               customers[i].id, state.range(0) != 0 ? f.segments.get() : nullptr);
    bytes += text.size();
    benchmark::DoNotOptimize(text);
    if (++i == customers.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(BM_WriteAnswer)->ArgName("segments")->Arg(0)->Arg(1);

// /predict bodies of `batch` customers each: the single-customer bodies themselves for 1, else
// {"customers": [...]} of consecutive ones (the remainder left out).
std::vector<std::string> request_bodies(const std::vector<std::string>& singles,
                                        std::size_t batch) {
  if (batch == 1) return singles;
  std::vector<std::string> bodies;
  for (std::size_t start = 0; start + batch <= singles.size(); start += batch) {
    std::string body = "{\"customers\":[";
    for (std::size_t k = 0; k < batch; ++k) {
      if (k > 0) body += ',';
      body += singles[start + k];
    }
    body += "]}";
    bodies.push_back(std::move(body));
  }
  return bodies;
}

// Reading a /predict body into the token tape: Document::parse() (simdjson, nlohmann where they
// could differ) against parse_reference() (nlohmann alone), for one customer and for a batch.
void BM_ParseBody(benchmark::State& state) {
  const Fixture& f = fixture();
  const bool reference = state.range(0) != 0;
  const auto batch = static_cast<std::size_t>(state.range(1));
  const std::vector<std::string> bodies = request_bodies(f.bodies, batch);
  std::size_t i = 0;
  std::size_t bytes = 0;
  for (auto _ : state) {
    const std::string& body = bodies[i];
    const auto document = reference ? nbo::json::Document::parse_reference(body, 32)
                                    : nbo::json::Document::parse(body, 32);
    benchmark::DoNotOptimize(document.token_count());
    bytes += body.size();
    if (++i == bodies.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch));
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  state.SetLabel(reference ? "nlohmann alone" : "simdjson, nlohmann where they could differ");
}
BENCHMARK(BM_ParseBody)->ArgNames({"reference", "batch"})->ArgsProduct({{0, 1}, {1, 100}});

// Reading a parsed /predict body into typed customers (read_predict_request), for one customer
// and for a batch: what the handler does between the token tape and the model.
void BM_ReadRequest(benchmark::State& state) {
  const Fixture& f = fixture();
  const auto batch = static_cast<std::size_t>(state.range(0));
  std::vector<nbo::json::Document> documents;
  for (const std::string& body : request_bodies(f.bodies, batch)) {
    documents.push_back(nbo::json::Document::parse(body, 32));
  }
  std::size_t i = 0;
  for (auto _ : state) {
    const auto request = nbo::api::read_predict_request(documents[i].root(), 10'000);
    benchmark::DoNotOptimize(request.items.data());
    if (++i == documents.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch));
}
BENCHMARK(BM_ReadRequest)->ArgName("batch")->Arg(1)->Arg(100);

void BM_RawPathTextDom(benchmark::State& state) {
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
BENCHMARK(BM_RawPathTextDom);

// Model rows of 21 columns: 14 standardized numeric ones (rounded to a tenth, as integer-valued
// raw fields give few distinct values, unless `continuous`) and a 4-level and a 3-level one-hot
// group.
constexpr std::size_t kNumericColumns = 14;
constexpr std::size_t kModelColumns = kNumericColumns + 4 + 3;

struct SyntheticRows {
  std::vector<std::string> columns;
  std::vector<double> values;  // row-major
  std::vector<double> means;
  std::size_t count = 0;
};

SyntheticRows synthetic_model_rows(std::size_t count, std::uint64_t seed, bool continuous = false) {
  std::mt19937_64 random(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  SyntheticRows rows;
  rows.count = count;
  for (std::size_t j = 0; j < kModelColumns; ++j) rows.columns.push_back(fmt::format("c{}", j));
  rows.values.reserve(count * kModelColumns);
  for (std::size_t i = 0; i < count; ++i) {
    for (std::size_t j = 0; j < kNumericColumns; ++j) {
      const double value = normal(random);
      rows.values.push_back(continuous ? value : std::round(value * 10.0) / 10.0);
    }
    const std::size_t first_level = random() % 4;
    const std::size_t second_level = random() % 3;
    for (std::size_t level = 0; level < 4; ++level)
      rows.values.push_back(level == first_level ? 1.0 : 0.0);
    for (std::size_t level = 0; level < 3; ++level)
      rows.values.push_back(level == second_level ? 1.0 : 0.0);
  }
  rows.means.assign(kModelColumns, 0.0);
  for (std::size_t i = 0; i < count; ++i) {
    for (std::size_t j = 0; j < kModelColumns; ++j) {
      rows.means[j] += rows.values[i * kModelColumns + j];
    }
  }
  for (double& mean : rows.means) mean /= static_cast<double>(count);
  return rows;
}

// Rows to explain, taken round-robin by the estimator benches.
const SyntheticRows& query_rows() {
  static const SyntheticRows rows = synthetic_model_rows(64, 7);
  return rows;
}

const nbo::models::NearestNeighbors& knn(nbo::models::NearestNeighbors::Weighting weighting) {
  static const auto build = [](nbo::models::NearestNeighbors::Weighting w) {
    SyntheticRows rows = synthetic_model_rows(1296, 11);
    std::mt19937_64 random(13);
    std::vector<std::uint8_t> labels(rows.count);
    for (auto& label : labels) label = random() % 10 < 3 ? 1 : 0;
    return nbo::models::NearestNeighbors(rows.columns, std::move(rows.values), std::move(labels),
                                         20, w);
  };
  static const auto uniform = build(nbo::models::NearestNeighbors::Weighting::kUniform);
  static const auto distance = build(nbo::models::NearestNeighbors::Weighting::kDistance);
  return weighting == nbo::models::NearestNeighbors::Weighting::kUniform ? uniform : distance;
}

const nbo::models::SupportVectorClassifier& svc(bool continuous) {
  static const auto build = [](bool continuous_values) {
    SyntheticRows rows = synthetic_model_rows(500, 17, continuous_values);
    std::mt19937_64 random(19);
    std::uniform_real_distribution<double> coefficient(-1.0, 1.0);
    std::vector<double> coefficients(rows.count);
    for (auto& value : coefficients) value = coefficient(random);
    return nbo::models::SupportVectorClassifier(rows.columns, std::move(rows.values),
                                                std::move(coefficients), -0.4, 0.03, rows.means);
  };
  static const auto rounded = build(false);
  static const auto continuous_model = build(true);
  return continuous ? continuous_model : rounded;
}

// Times `explain(row, out)` per row over the query rows.
template <typename Explain>
void explain_rows(benchmark::State& state, Explain explain) {
  const SyntheticRows& queries = query_rows();
  std::vector<double> out(kModelColumns);
  std::size_t i = 0;
  for (auto _ : state) {
    const std::span<const double> row(queries.values.data() + i * kModelColumns, kModelColumns);
    benchmark::DoNotOptimize(explain(row, std::span<double>(out)));
    benchmark::ClobberMemory();
    if (++i == queries.count) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

nbo::models::NearestNeighbors::Weighting bench_weighting(const benchmark::State& state) {
  return state.range(0) == 0 ? nbo::models::NearestNeighbors::Weighting::kUniform
                             : nbo::models::NearestNeighbors::Weighting::kDistance;
}

void BM_KnnContributions(benchmark::State& state) {
  const auto& model = knn(bench_weighting(state));
  explain_rows(state, [&model](std::span<const double> row, std::span<double> out) {
    return model.contributions(row, out);
  });
}
BENCHMARK(BM_KnnContributions)->ArgName("distance_weighted")->Arg(0)->Arg(1);

void BM_KnnOcclusion(benchmark::State& state) {
  const auto& model = knn(bench_weighting(state));
  const SyntheticRows reference = synthetic_model_rows(1296, 11);
  explain_rows(state, [&](std::span<const double> row, std::span<double> out) {
    return nbo::models::occlusion_contributions(model, row, reference.means, out);
  });
}
BENCHMARK(BM_KnnOcclusion)->ArgName("distance_weighted")->Arg(0)->Arg(1);

void BM_SvcContributions(benchmark::State& state) {
  const auto& model = svc(state.range(0) != 0);
  explain_rows(state, [&model](std::span<const double> row, std::span<double> out) {
    return model.contributions(row, out);
  });
}
BENCHMARK(BM_SvcContributions)->ArgName("continuous")->Arg(0)->Arg(1);

void BM_SvcOcclusion(benchmark::State& state) {
  const bool continuous = state.range(0) != 0;
  const auto& model = svc(continuous);
  const std::vector<double> means = synthetic_model_rows(500, 17, continuous).means;
  explain_rows(state, [&](std::span<const double> row, std::span<double> out) {
    return nbo::models::occlusion_contributions(model, row, means, out);
  });
}
BENCHMARK(BM_SvcOcclusion)->ArgName("continuous")->Arg(0)->Arg(1);

// Weights in [-1, 1) drawn from the raw generator output, so every standard library agrees.
double signed_unit(std::mt19937_64& random) {
  return static_cast<double>(random() >> 11) * 0x1.0p-52 - 1.0;
}

std::unique_ptr<const nbo::models::Estimator> bench_linear() {
  std::mt19937_64 random(29);
  std::vector<double> weights(kModelColumns);
  for (double& weight : weights) weight = signed_unit(random);
  return std::make_unique<nbo::models::LogisticRegression>(synthetic_model_rows(1, 1).columns,
                                                           std::move(weights), -0.2);
}

// A full binary tree of the given depth over random columns, thresholds near the numeric
// columns' values (one-hot columns split at 0.5).
nbo::models::Tree bench_tree(std::mt19937_64& random, int depth) {
  nbo::models::Tree tree;
  const std::size_t internal = (std::size_t{1} << depth) - 1;
  tree.nodes.resize(2 * internal + 1);
  for (std::size_t i = 0; i < tree.nodes.size(); ++i) {
    auto& node = tree.nodes[i];
    node.cover = 1.0;
    if (i >= internal) {
      node.value = 0.1 * signed_unit(random);
      continue;
    }
    node.left = static_cast<std::int32_t>(2 * i + 1);
    node.right = static_cast<std::int32_t>(2 * i + 2);
    node.feature = static_cast<std::int32_t>(random() % kModelColumns);
    node.threshold = node.feature < static_cast<std::int32_t>(kNumericColumns)
                         ? static_cast<float>(signed_unit(random))
                         : 0.5f;
  }
  return tree;
}

std::unique_ptr<const nbo::models::Estimator> bench_trees() {
  std::mt19937_64 random(31);
  std::vector<nbo::models::Tree> trees;
  for (int t = 0; t < 300; ++t) trees.push_back(bench_tree(random, 6));
  return std::make_unique<nbo::models::TreeEnsemble>(synthetic_model_rows(1, 1).columns,
                                                     std::move(trees), -0.4, "gradient_boosting");
}

// The estimator a BM_Margins family number stands for.
const nbo::models::Estimator& margin_family(std::int64_t family) {
  static const auto linear = bench_linear();
  static const auto trees = bench_trees();
  static const auto ensemble = [] {
    std::vector<nbo::models::EnsembleMember> members;
    members.push_back({"linear", 0.25, 1.0, 0.0, bench_linear()});
    members.push_back({"trees", 0.25, 1.0, 0.0, bench_trees()});
    members.push_back({"knn", 0.25, 1.0, 0.0,
                       std::make_unique<nbo::models::NearestNeighbors>(
                           knn(nbo::models::NearestNeighbors::Weighting::kDistance))});
    members.push_back({"svc", 0.25, 1.0, 0.0,
                       std::make_unique<nbo::models::SupportVectorClassifier>(svc(false))});
    return std::make_unique<nbo::models::Ensemble>(synthetic_model_rows(1, 1).columns,
                                                   std::move(members));
  }();
  switch (family) {
    case 0:
      return *linear;
    case 1:
      return *trees;
    case 2:
      return knn(nbo::models::NearestNeighbors::Weighting::kDistance);
    case 3:
      return svc(false);
    default:
      return *ensemble;
  }
}

void BM_Margins(benchmark::State& state) {
  const nbo::models::Estimator& model = margin_family(state.range(0));
  const bool batch = state.range(1) != 0;
  static const SyntheticRows rows = synthetic_model_rows(1024, 37);
  std::vector<double> out(rows.count);
  for (auto _ : state) {
    if (batch) {
      model.margins(rows.values, out);
    } else {
      for (std::size_t i = 0; i < rows.count; ++i) {
        out[i] = model.margin(
            std::span<const double>(rows.values.data() + i * kModelColumns, kModelColumns));
      }
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  const auto scored = static_cast<double>(state.iterations() * rows.count);
  state.SetItemsProcessed(static_cast<std::int64_t>(scored));
  // Seconds per row, printed with an SI prefix ("12.3u" = 12.3 µs).
  state.counters["time/row"] =
      benchmark::Counter(scored, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.SetLabel(std::string(model.type()) + (batch ? " margins()" : " margin() per row"));
}
// Per family, the per-row line and then the batch line.
BENCHMARK(BM_Margins)->ArgNames({"family", "batch"})->Apply([](benchmark::internal::Benchmark* b) {
  for (int family = 0; family < 5; ++family) {
    for (int batch = 0; batch < 2; ++batch) b->Args({family, batch});
  }
});

// Largest |contributions() - occlusion_contributions()| over the query rows, baseline included.
double largest_difference_from_occlusion(const nbo::models::Estimator& model,
                                         const std::vector<double>& means) {
  const SyntheticRows& queries = query_rows();
  std::vector<double> fast(kModelColumns);
  std::vector<double> reference(kModelColumns);
  double largest = 0.0;
  for (std::size_t i = 0; i < queries.count; ++i) {
    const std::span<const double> row(queries.values.data() + i * kModelColumns, kModelColumns);
    const double fast_baseline = model.contributions(row, fast);
    const double reference_baseline =
        nbo::models::occlusion_contributions(model, row, means, reference);
    largest = std::max(largest, std::abs(fast_baseline - reference_baseline));
    for (std::size_t j = 0; j < kModelColumns; ++j) {
      largest = std::max(largest, std::abs(fast[j] - reference[j]));
    }
  }
  return largest;
}

}  // namespace

int main(int argc, char** argv) {
  // Take --model=PATH out of argv before Google Benchmark sees it.
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string argument = argv[i];
    if (argument.rfind("--model=", 0) == 0) {
      model_path() = argument.substr(8);
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  try {
    const Fixture& f = fixture();
    std::cerr << "model file: " << model_path() << "\nmodel: " << f.model->metadata().name << ' '
              << f.model->metadata().version << " (" << f.model->estimator().type() << ")\n";
    // Sanity: every customer scores (an exception would abort the timed loops).
    for (const auto& c : f.data.customers) (void)f.model->predict(c.customer, 3);
  } catch (const std::exception& error) {
    std::cerr << "bench_scoring: setup failed: " << error.what() << '\n';
    return 1;
  }
  const std::vector<double> knn_means = synthetic_model_rows(1296, 11).means;
  std::cerr << "contributions() vs occlusion_contributions(), largest difference: k-NN uniform "
            << largest_difference_from_occlusion(
                   knn(nbo::models::NearestNeighbors::Weighting::kUniform), knn_means)
            << ", distance "
            << largest_difference_from_occlusion(
                   knn(nbo::models::NearestNeighbors::Weighting::kDistance), knn_means)
            << "; SVC rounded "
            << largest_difference_from_occlusion(svc(false), synthetic_model_rows(500, 17).means)
            << ", continuous "
            << largest_difference_from_occlusion(svc(true),
                                                 synthetic_model_rows(500, 17, true).means)
            << '\n';
  benchmark::AddCustomContext("threads", "1 (single-thread benchmarks)");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
