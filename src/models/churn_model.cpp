#include "nbo/models/churn_model.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

#include "column_buffer.hpp"

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
      throw std::invalid_argument(fmt::format("decision.risk_bands[{}].name: must not be empty", i));
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

const nlohmann::json& required(const nlohmann::json& object, std::string_view key,
                               std::string_view path) {
  const auto it = object.find(key);
  if (it == object.end()) throw std::invalid_argument(fmt::format("{}{}: is required", path, key));
  return *it;
}

std::string required_string(const nlohmann::json& object, std::string_view key,
                            std::string_view path) {
  const auto& value = required(object, key, path);
  if (!value.is_string()) {
    throw std::invalid_argument(fmt::format("{}{}: must be a string", path, key));
  }
  return value.get<std::string>();
}

double required_number(const nlohmann::json& object, std::string_view key,
                       std::string_view path) {
  const auto& value = required(object, key, path);
  if (!value.is_number()) {
    throw std::invalid_argument(fmt::format("{}{}: must be a number", path, key));
  }
  return value.get<double>();
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
}

Prediction ChurnModel::predict(const features::RawCustomer& customer,
                               std::size_t max_reasons) const {
  const std::size_t columns = pipeline_.column_count();
  detail::ColumnBuffer row_buffer(columns);
  const std::span<double> row = row_buffer.span();

  Prediction prediction;
  pipeline_.transform(customer, row, &prediction.imputed);
  // Reasons need the contributions, and explain() gives the margin with them in one pass.
  detail::ColumnBuffer contribution_buffer(columns);
  const std::span<double> contributions = contribution_buffer.span();
  const double margin = max_reasons == 0 ? estimator_->margin(row)
                                         : estimator_->explain(row, contributions).margin;
  decide(margin, prediction);
  if (max_reasons == 0) return prediction;
  // Column contributions summed per input field (one-hot columns belong to one field), on the
  // calibrated log-odds scale.
  const auto& specs = pipeline_.specs();
  std::array<double, features::kFieldCount> per_spec{};
  for (std::size_t column = 0; column < columns; ++column) {
    per_spec[pipeline_.column_spec()[column]] += contributions[column] * calibration_.slope;
  }
  prediction.reasons.reserve(specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    prediction.reasons.push_back({specs[i].field, per_spec[i]});
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
  if (!model.is_object()) throw std::invalid_argument("the model file must hold a JSON object");
  const std::string format = required_string(model, "format", "");
  if (format != kChurnModelFormat) {
    throw std::invalid_argument(
        fmt::format("format: is \"{}\", expected \"{}\"", format, kChurnModelFormat));
  }
  const auto& version = required(model, "format_version", "");
  if (!version.is_number_integer() || version.get<std::int64_t>() != kChurnModelFormatVersion) {
    throw std::invalid_argument(fmt::format("format_version: is {}, this server reads version {}",
                                            version.dump(), kChurnModelFormatVersion));
  }

  const auto& meta = required(model, "metadata", "");
  if (!meta.is_object()) throw std::invalid_argument("metadata: must be an object");
  ModelMetadata metadata;
  metadata.name = required_string(meta, "name", "metadata.");
  metadata.version = required_string(meta, "version", "metadata.");
  metadata.trained_at = required_string(meta, "trained_at", "metadata.");
  metadata.training_data_fingerprint =
      required_string(meta, "training_data_fingerprint", "metadata.");
  metadata.trainer = meta.value("trainer", std::string{});
  metadata.metrics = meta.value("metrics", nlohmann::json::object());
  metadata.extra = meta.value("extra", nlohmann::json::object());

  auto pipeline = features::Pipeline::from_json(required(model, "pipeline", ""));
  auto estimator = estimator_from_json(required(model, "estimator", ""), pipeline.column_names());

  Calibration calibration;
  if (const auto it = model.find("calibration"); it != model.end()) {
    if (!it->is_object()) throw std::invalid_argument("calibration: must be an object");
    calibration.type = required_string(*it, "type", "calibration.");
    if (calibration.type != "none") {
      calibration.slope = required_number(*it, "slope", "calibration.");
      calibration.offset = required_number(*it, "offset", "calibration.");
    }
  }

  const auto& decision_json = required(model, "decision", "");
  if (!decision_json.is_object()) throw std::invalid_argument("decision: must be an object");
  Decision decision;
  decision.threshold = required_number(decision_json, "threshold", "decision.");
  decision.rationale = decision_json.value("rationale", std::string{});
  const auto& bands = required(decision_json, "risk_bands", "decision.");
  if (!bands.is_array()) throw std::invalid_argument("decision.risk_bands: must be an array");
  for (std::size_t i = 0; i < bands.size(); ++i) {
    const std::string path = fmt::format("decision.risk_bands[{}].", i);
    if (!bands[i].is_object()) {
      throw std::invalid_argument(fmt::format("decision.risk_bands[{}]: must be an object", i));
    }
    decision.bands.push_back(
        {required_string(bands[i], "name", path), required_number(bands[i], "upper", path)});
  }

  return ChurnModel(std::move(metadata), std::move(pipeline), std::move(estimator),
                    std::move(calibration), std::move(decision));
}

std::shared_ptr<const ChurnModel> load_churn_model(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw ModelLoadError(fmt::format("model file {}: cannot be opened ({})", file.string(),
                                     std::error_code(errno, std::generic_category()).message()));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(buffer.str());
  } catch (const nlohmann::json::exception& error) {
    throw ModelLoadError(
        fmt::format("model file {}: not valid JSON: {}", file.string(), error.what()));
  }
  try {
    return std::make_shared<const ChurnModel>(ChurnModel::from_json(document));
  } catch (const std::exception& error) {
    throw ModelLoadError(fmt::format("model file {}: {}", file.string(), error.what()));
  }
}

void save_churn_model(const ChurnModel& model, const std::filesystem::path& file) {
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path());
  const auto temporary = std::filesystem::path(file.string() + ".tmp");
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) {
      throw std::runtime_error(fmt::format("cannot write model file {}", temporary.string()));
    }
    out << model.to_json().dump(2) << '\n';
    if (!out.flush()) {
      throw std::runtime_error(fmt::format("cannot write model file {}", temporary.string()));
    }
  }
  std::filesystem::rename(temporary, file);
}

}  // namespace nbo::models
