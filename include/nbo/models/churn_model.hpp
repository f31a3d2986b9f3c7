// The activity-decline (churn) model: pipeline + estimator + calibration + decision rule, as
// stored in a versioned JSON model file (layout: docs/model-format.md).
//
// Output layout of predict(): probability in [0, 1] that the customer's buying activity
// declines in the next three months; label = probability >= threshold; the risk band whose
// range holds the probability; the fields imputed under the missing-value policy; the top
// reasons, each a model input field with its signed contribution to the log-odds.
//
// Thread safety: a ChurnModel is immutable after construction; predict() is const and safe to
// call from any number of threads. Share it as std::shared_ptr<const ChurnModel>.
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "nbo/features/customer.hpp"
#include "nbo/features/pipeline.hpp"
#include "nbo/models/estimator.hpp"
#include "nbo/models/json_file.hpp"

namespace nbo::models {

inline constexpr std::string_view kChurnModelFormat = "nbo.churn_model";
inline constexpr int kChurnModelFormatVersion = 1;

struct ModelMetadata {
  std::string name;                                   // e.g. "churn"
  std::string version;                                // free-form, e.g. "2026.11.23-lr"
  std::string trained_at;                             // ISO-8601 UTC
  std::string training_data_fingerprint;              // e.g. "sha256:..."
  std::string trainer;                                // what produced the file, with its version
  nlohmann::json metrics = nlohmann::json::object();  // quality figures, free-form object
  nlohmann::json extra = nlohmann::json::object();    // anything else the trainer recorded
};

// Maps the estimator margin to a probability: p = sigmoid(slope * margin + offset).
// Identity calibration is slope 1, offset 0 (the "none" type in the file).
struct Calibration {
  std::string type = "none";  // "none" or "platt"
  double slope = 1.0;
  double offset = 0.0;
};

struct RiskBand {
  std::string name;
  double upper;  // probabilities < upper fall in this band; the last band has upper == 1
                 // and also takes probability 1
};

struct Decision {
  double threshold = 0.5;       // label = probability >= threshold
  std::vector<RiskBand> bands;  // ascending upper bounds, last one 1.0
  std::string rationale;        // why this threshold and these bands
};

struct Reason {
  features::FieldId field;
  double contribution;  // signed contribution to the calibrated log-odds
};

struct Prediction {
  double probability = 0.0;
  bool label = false;
  const RiskBand* risk_band = nullptr;  // points into the model; valid while it lives
  std::vector<features::FieldId> imputed;
  std::vector<Reason> reasons;  // sorted by |contribution| descending
};

class ChurnModel {
 public:
  // Validates the parts against each other (estimator columns == pipeline columns, threshold
  // in (0, 1), bands ascending ending at 1). Throws std::invalid_argument.
  ChurnModel(ModelMetadata metadata, features::Pipeline pipeline,
             std::unique_ptr<const Estimator> estimator, Calibration calibration,
             Decision decision);

  // Scores one raw customer. Throws features::ValidationError when the customer lacks a field
  // the model requires or has a level the model rejects. `max_reasons` = 0 skips explanations.
  Prediction predict(const features::RawCustomer& customer, std::size_t max_reasons = 3) const;

  // predict(customer, 0) of many customers, their margins from one Estimator::margins() call
  // (bit for bit predict()'s). results[i] is customers[i]'s prediction, or the ValidationError
  // predict() would throw for it. `customers` must not hold null pointers.
  using BatchResult = std::variant<Prediction, features::ValidationError>;
  std::vector<BatchResult> predict_many(
      std::span<const features::RawCustomer* const> customers) const;

  const ModelMetadata& metadata() const noexcept { return metadata_; }
  const features::Pipeline& pipeline() const noexcept { return pipeline_; }
  const Estimator& estimator() const noexcept { return *estimator_; }
  const Calibration& calibration() const noexcept { return calibration_; }
  const Decision& decision() const noexcept { return decision_; }
  // The model as the API's answers name it, {"name":...,"version":...}, and the decision threshold
  // as a JSON number: rendered once at construction because every answer repeats them.
  std::string_view summary_json() const noexcept { return summary_json_; }
  std::string_view threshold_json() const noexcept { return threshold_json_; }

  // The whole model file as JSON (stable key order, so equal models serialize byte-identically).
  nlohmann::json to_json() const;
  // Parses a model file's JSON. Throws std::invalid_argument with a JSON path.
  static ChurnModel from_json(const nlohmann::json& model);

 private:
  // Probability, label and risk band of a margin, as predict() sets them.
  void decide(double margin, Prediction& prediction) const;

  ModelMetadata metadata_;
  features::Pipeline pipeline_;
  std::unique_ptr<const Estimator> estimator_;
  Calibration calibration_;
  Decision decision_;
  std::string summary_json_;
  std::string threshold_json_;
};

// Reads, parses and validates a model file. Throws ModelLoadError.
std::shared_ptr<const ChurnModel> load_churn_model(const std::filesystem::path& file);
// Writes a model file (pretty-printed JSON, trailing newline) atomically (temp file + rename).
void save_churn_model(const ChurnModel& model, const std::filesystem::path& file);

}  // namespace nbo::models
