// An ensemble of calibrated estimators, averaged on the log-odds scale:
//   margin(row) = sum_i weight_i * (slope_i * member_i.margin(row) + offset_i)
// Each member's (slope, offset) is its own Platt calibration, so every member speaks calibrated
// log-odds before they are pooled; weights are non-negative and sum to 1. The model's own
// calibration (churn_model.hpp) may recalibrate the pooled margin.
//
// Explanations: contributions are the same weighted, slope-scaled sum of the members'
// contributions, so they are exact when every member's are (logistic regression, tree
// ensembles) and inherit the members' approximation otherwise (k-NN, SVC: occlusion).
//
// Layout in the model file: {"type": "ensemble", "members": [{"name", "weight", "calibration":
// {"slope", "offset"}, "estimator": {...}}, ...]}; members may not be ensembles themselves.
//
// Thread safety: immutable after construction; all methods const and safe to call concurrently.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "nbo/models/estimator.hpp"

namespace nbo::models {

struct EnsembleMember {
  std::string name;  // the candidate family, e.g. "gradient_boosting"
  double weight = 0.0;
  double slope = 1.0;
  double offset = 0.0;
  std::unique_ptr<const Estimator> estimator;
};

class Ensemble final : public Estimator {
 public:
  // Throws std::invalid_argument when there are no members, a member has no estimator, an
  // estimator's column count differs, a weight is negative or the weights do not sum to 1
  // (within 1e-9), or a value is not finite.
  Ensemble(std::vector<std::string> column_names, std::vector<EnsembleMember> members);

  std::string_view type() const override { return "ensemble"; }
  std::size_t column_count() const override { return column_names_.size(); }
  double margin(std::span<const double> row) const override;
  double contributions(std::span<const double> row, std::span<double> out) const override {
    return explain(row, out).baseline;
  }
  // Each member explained once (its explain()), its margin pooled as margin() pools it.
  Explanation explain(std::span<const double> row, std::span<double> out) const override;
  nlohmann::json to_json() const override;

  const std::vector<EnsembleMember>& members() const noexcept { return members_; }

  // Reads the "estimator" object of the layout above at the reader's path; throws JsonError
  // naming the path of the problem ("estimator.members[1].estimator.k: ..."). from_json reads
  // `estimator` as the model file's "estimator".
  static std::unique_ptr<const Ensemble> read(const JsonReader& estimator,
                                              const std::vector<std::string>& columns);
  static std::unique_ptr<const Ensemble> from_json(const nlohmann::json& estimator,
                                                   const std::vector<std::string>& columns);

 protected:
  // Each member's margins() over a block of rows, pooled per row in member order as margin()
  // pools them.
  void batch_margins(std::span<const double> rows, std::span<double> out) const override;

 private:
  std::vector<std::string> column_names_;
  std::vector<EnsembleMember> members_;
};

}  // namespace nbo::models
