#include "nbo/models/churn_model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "column_buffer.hpp"
#include "nbo/json/writer.hpp"
#include "nbo/models/json_reader.hpp"

namespace nbo::models {
namespace {

double sigmoid(double z) {
  if (z >= 0) return 1.0 / (1.0 + std::exp(-z));
  const double e = std::exp(z);
  return e / (1.0 + e);
}

void validate(const features::Pipeline& pipeline, const Estimator* estimator,
              const Calibration& calibration, const Decision& decision) {
  if (estimator == nullptr) throw std::invalid_argument("estimator: is required");
  if (estimator->column_count() != pipeline.column_count()) {
    throw std::invalid_argument(fmt::format("estimator: expects {} columns, the pipeline makes {}",
                                            estimator->column_count(), pipeline.column_count()));
  }
  if (calibration.type != "none" && calibration.type != "platt") {
    throw std::invalid_argument(fmt::format(
        "calibration.type: unsupported \"{}\" (supported: \"none\", \"platt\")", calibration.type));
  }
  if (!std::isfinite(calibration.slope) || !std::isfinite(calibration.offset)) {
    throw std::invalid_argument("calibration: slope and offset must be finite");
  }
  if (calibration.type == "none" && (calibration.slope != 1.0 || calibration.offset != 0.0)) {
    throw std::invalid_argument("calibration: type \"none\" needs slope 1 and offset 0");
  }
  if (calibration.type == "platt" && !(calibration.slope > 0)) {
    throw std::invalid_argument("calibration.slope: must be > 0 (a calibration keeps the order)");
  }
  if (!(decision.threshold > 0 && decision.threshold < 1)) {
    throw std::invalid_argument(
        fmt::format("decision.threshold: must be in (0, 1), got {}", decision.threshold));
  }
  if (decision.bands.empty()) throw std::invalid_argument("decision.risk_bands: must not be empty");
  double previous = 0.0;
  for (std::size_t i = 0; i < decision.bands.size(); ++i) {
    const auto& band = decision.bands[i];
    if (band.name.empty()) {
      throw std::invalid_argument(
          fmt::format("decision.risk_bands[{}].name: must not be empty", i));
    }
    if (!(band.upper > previous && band.upper <= 1.0)) {
      throw std::invalid_argument(fmt::format(
          "decision.risk_bands[{}].upper: must be above the previous band's and <= 1, got {}", i,
          band.upper));
    }
    previous = band.upper;
  }
  if (decision.bands.back().upper != 1.0) {
    throw std::invalid_argument("decision.risk_bands: the last band's upper must be 1");
  }
}

}  // namespace

ChurnModel::ChurnModel(ModelMetadata metadata, features::Pipeline pipeline,
                       std::unique_ptr<const Estimator> estimator, Calibration calibration,
                       Decision decision)
    : metadata_(std::move(metadata)),
      pipeline_(std::move(pipeline)),
      estimator_(std::move(estimator)),
      calibration_(std::move(calibration)),
      decision_(std::move(decision)) {
  if (metadata_.name.empty()) throw std::invalid_argument("metadata.name: must not be empty");
  if (metadata_.version.empty()) throw std::invalid_argument("metadata.version: must not be empty");
  validate(pipeline_, estimator_.get(), calibration_, decision_);
  json::Writer summary(summary_json_);
  summary.begin_object();
  summary.member("name", metadata_.name);
  summary.member("version", metadata_.version);
  summary.end_object();
  json::append_number(threshold_json_, decision_.threshold);
}

Prediction ChurnModel::predict(const features::RawCustomer& customer,
                               std::size_t max_reasons) const {
  const std::size_t columns = pipeline_.column_count();
  detail::ColumnBuffer row_buffer(columns);
  const std::span<double> row = row_buffer.span();

  Prediction prediction;
  pipeline_.transform(customer, row, &prediction.imputed);
  if (max_reasons == 0) {
    decide(estimator_->margin(row), prediction);
    return prediction;
  }
  // One contribution per input field (a category's one-hot columns are one field, occluded as a
  // whole by estimators that occlude), with the margin in the same pass; on the calibrated
  // log-odds scale.
  const auto& specs = pipeline_.specs();
  std::array<double, features::kFieldCount> per_spec{};
  const double margin =
      estimator_
          ->explain_groups(row, pipeline_.column_spec(), std::span(per_spec.data(), specs.size()))
          .margin;
  decide(margin, prediction);
  prediction.reasons.reserve(specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    prediction.reasons.push_back({specs[i].field, per_spec[i] * calibration_.slope});
  }
  const std::size_t keep = std::min(max_reasons, prediction.reasons.size());
  std::partial_sort(prediction.reasons.begin(),
                    prediction.reasons.begin() + static_cast<std::ptrdiff_t>(keep),
                    prediction.reasons.end(), [](const Reason& a, const Reason& b) {
                      const double abs_a = std::abs(a.contribution);
                      const double abs_b = std::abs(b.contribution);
                      if (abs_a != abs_b) return abs_a > abs_b;
                      return a.field < b.field;
                    });
  prediction.reasons.resize(keep);
  return prediction;
}

void ChurnModel::decide(double margin, Prediction& prediction) const {
  prediction.probability = sigmoid(calibration_.slope * margin + calibration_.offset);
  prediction.label = prediction.probability >= decision_.threshold;
  prediction.risk_band = &decision_.bands.back();
  for (const auto& band : decision_.bands) {
    if (prediction.probability < band.upper) {
      prediction.risk_band = &band;
      break;
    }
  }
}

std::vector<ChurnModel::BatchResult> ChurnModel::predict_many(
    std::span<const features::RawCustomer* const> customers) const {
  const std::size_t columns = pipeline_.column_count();
  std::vector<BatchResult> results;
  results.reserve(customers.size());
  // The rows of the customers that pass validation, in order, and which result each is.
  std::vector<double> rows;
  std::vector<std::size_t> scored;
  for (std::size_t i = 0; i < customers.size(); ++i) {
    Prediction prediction;
    rows.resize((scored.size() + 1) * columns);
    try {
      pipeline_.transform(*customers[i],
                          std::span<double>(rows.data() + scored.size() * columns, columns),
                          &prediction.imputed);
    } catch (const features::ValidationError& error) {
      results.emplace_back(error);
      continue;
    }
    scored.push_back(i);
    results.emplace_back(std::move(prediction));
  }
  rows.resize(scored.size() * columns);
  std::vector<double> margins(scored.size());
  estimator_->margins(rows, margins);
  for (std::size_t r = 0; r < scored.size(); ++r) {
    decide(margins[r], std::get<Prediction>(results[scored[r]]));
  }
  return results;
}

nlohmann::json ChurnModel::to_json() const {
  nlohmann::json bands = nlohmann::json::array();
  for (const auto& band : decision_.bands) {
    bands.push_back({{"name", band.name}, {"upper", band.upper}});
  }
  nlohmann::json calibration{{"type", calibration_.type}};
  if (calibration_.type != "none") {
    calibration["slope"] = calibration_.slope;
    calibration["offset"] = calibration_.offset;
  }
  return {
      {"format", kChurnModelFormat},
      {"format_version", kChurnModelFormatVersion},
      {"metadata",
       {{"name", metadata_.name},
        {"version", metadata_.version},
        {"trained_at", metadata_.trained_at},
        {"training_data_fingerprint", metadata_.training_data_fingerprint},
        {"trainer", metadata_.trainer},
        {"metrics", metadata_.metrics},
        {"extra", metadata_.extra}}},
      {"pipeline", pipeline_.to_json()},
      {"estimator", estimator_->to_json()},
      {"calibration", std::move(calibration)},
      {"decision",
       {{"threshold", decision_.threshold},
        {"risk_bands", std::move(bands)},
        {"rationale", decision_.rationale}}},
  };
}

ChurnModel ChurnModel::from_json(const nlohmann::json& model) {
  const JsonReader root(model);
  if (!model.is_object()) root.fail("the model file must hold a JSON object");
  // Keys are a closed set, so a misspelt optional key ("calibraton") cannot go unnoticed.
  root.only_keys(
      {"format", "format_version", "metadata", "pipeline", "estimator", "calibration", "decision"});
  const JsonReader format = root["format"];
  if (format.string() != kChurnModelFormat) {
    format.fail(fmt::format("is \"{}\", expected \"{}\"", format.string(), kChurnModelFormat));
  }
  const JsonReader version = root["format_version"];
  if (!version.json().is_number_integer() ||
      version.json().get<std::int64_t>() != kChurnModelFormatVersion) {
    version.fail(fmt::format("is {}, this server reads version {}", version.json().dump(),
                             kChurnModelFormatVersion));
  }

  const JsonReader meta = root["metadata"];
  meta.only_keys({"name", "version", "trained_at", "training_data_fingerprint", "trainer",
                  "metrics", "extra"});
  ModelMetadata metadata;
  metadata.name = meta["name"].string();
  metadata.version = meta["version"].string();
  metadata.trained_at = meta["trained_at"].string();
  metadata.training_data_fingerprint = meta["training_data_fingerprint"].string();
  if (const auto trainer = meta.find("trainer")) metadata.trainer = trainer->string();
  metadata.metrics = nlohmann::json::object();
  if (const auto metrics = meta.find("metrics")) metadata.metrics = metrics->json();
  metadata.extra = nlohmann::json::object();
  if (const auto extra = meta.find("extra")) metadata.extra = extra->json();

  auto pipeline = features::Pipeline::read(root["pipeline"]);
  auto estimator = read_estimator(root["estimator"], pipeline.column_names());

  Calibration calibration;
  if (const auto found = root.find("calibration")) {
    const JsonReader& calibration_json = *found;
    calibration_json.expect_object();
    calibration.type = calibration_json["type"].string();
    if (calibration.type == "none") {
      calibration_json.only_keys({"type"});
    } else {
      calibration_json.only_keys({"type", "slope", "offset"});
      calibration.slope = calibration_json["slope"].number();
      calibration.offset = calibration_json["offset"].number();
    }
  }

  const JsonReader decision_json = root["decision"];
  decision_json.only_keys({"threshold", "risk_bands", "rationale"});
  Decision decision;
  decision.threshold = decision_json["threshold"].number();
  if (const auto rationale = decision_json.find("rationale")) {
    decision.rationale = rationale->string();
  }
  const JsonReader bands = decision_json["risk_bands"];
  const std::size_t band_count = bands.array_size();
  for (std::size_t i = 0; i < band_count; ++i) {
    const JsonReader band = bands[i];
    band.only_keys({"name", "upper"});
    decision.bands.push_back({band["name"].string(), band["upper"].number()});
  }

  return ChurnModel(std::move(metadata), std::move(pipeline), std::move(estimator),
                    std::move(calibration), std::move(decision));
}

std::shared_ptr<const ChurnModel> load_churn_model(const std::filesystem::path& file) {
  const nlohmann::json document = read_json_file(file, "model file");
  try {
    return std::make_shared<const ChurnModel>(ChurnModel::from_json(document));
  } catch (const std::exception& error) {
    throw ModelLoadError(fmt::format("model file {}: {}", file.string(), error.what()));
  }
}

void save_churn_model(const ChurnModel& model, const std::filesystem::path& file) {
  write_json_file(model.to_json(), file, "model file");
}

}  // namespace nbo::models
