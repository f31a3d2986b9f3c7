// The next-best-offer model: a per-(user, course) purchase probability and a per-user buy-again
// propensity, with the market figures their features need, as stored in a versioned JSON model
// file (models/offers.json; layout in docs/model-format.md, "The offers model file").
//
//   candidate probability p(u, c) = 1 / (1 + exp(-(margin_c(row) + candidate.margin_offset)))
//     margin_offset = log(negative_sampling_rate) undoes the training's sampling of negative rows
//     so that p is the purchase probability within the horizon, not the sampled one;
//   expected value ev(u, c) = p(u, c) * price_rub(c);
//   buy-again probability q(u) = 1 / (1 + exp(-margin_q(row))).
// The formulas are written into the file (`ranking`) as text for its readers.
//
// Thread safety: immutable after construction; every method is const and safe to call from any
// number of threads. Share it as std::shared_ptr<const OfferModel>.
// Failure: from_json / load_offer_model throw (models::ModelLoadError for a file, with the file
// name and the JSON path of the problem); scoring never throws on well-sized input.
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "nbo/models/churn_model.hpp"
#include "nbo/models/estimator.hpp"
#include "nbo/offers/features.hpp"

namespace nbo::offers {

inline constexpr std::string_view kOfferModelFormat = "nbo.offers_model";
inline constexpr int kOfferModelFormatVersion = 1;

// Market figures of one course at the model's as-of time (the end of its training data).
struct CourseMarket {
  double purchases_30d = 0;
  double purchases_90d = 0;
  double owners = 0;
  double touchers = 0;
};

struct OfferModelParts {
  models::ModelMetadata metadata;
  int horizon_days = 28;     // the window the probabilities refer to
  std::string market_as_of{};  // ISO-8601 UTC: when the market figures were taken
  std::unique_ptr<const models::Estimator> candidate;         // over candidate_feature_names()
  double candidate_margin_offset = 0;                         // added to the candidate margin
  std::unique_ptr<const models::Estimator> propensity;        // over propensity_feature_names()
  std::vector<std::pair<std::string, CourseMarket>> courses{};  // by course id, ascending
  // (a, b, users owning both), a != b, both in `courses`; sorted.
  std::vector<std::tuple<std::string, std::string, double>> co_purchase{};
  // (t, c, users who viewed, tried or carted t and own c), t != c, both in `courses`; sorted.
  std::vector<std::tuple<std::string, std::string, double>> touch_purchase{};
  // Course ids, most purchased first: the cold-start order among eligible courses.
  std::vector<std::string> popular{};
};

class OfferModel {
 public:
  // Validates: both estimators present and sized to the feature lists, horizon 1..365, every
  // co-purchase and popular course in `courses`. Throws std::invalid_argument.
  explicit OfferModel(OfferModelParts parts);

  static OfferModel from_json(const nlohmann::json& document);  // throws models::JsonError
  nlohmann::json to_json() const;                               // sorted keys

  const models::ModelMetadata& metadata() const noexcept { return parts_.metadata; }
  int horizon_days() const noexcept { return parts_.horizon_days; }
  const std::vector<std::string>& popular() const noexcept { return parts_.popular; }
  const models::Estimator& candidate() const noexcept { return *parts_.candidate; }
  const models::Estimator& propensity() const noexcept { return *parts_.propensity; }

  // The market figures mapped onto `catalog` (courses unknown to the model get zeros).
  MarketContext market_for(const Catalog& catalog) const;

  // Probabilities from rows (row-major, one row per candidate) into `out`.
  void candidate_probabilities(std::span<const double> rows, std::span<double> out) const;
  double buy_again_probability(std::span<const double> row) const;
  double candidate_margin_offset() const noexcept { return parts_.candidate_margin_offset; }

 private:
  OfferModelParts parts_;
  std::unordered_map<std::string, std::size_t> course_index_;
};

// Reads and validates a model file. Throws models::ModelLoadError naming the file.
std::shared_ptr<const OfferModel> load_offer_model(const std::filesystem::path& file);
// Writes the file (2-space indent, sorted keys, trailing newline) atomically, through
// models::write_json_file. Throws std::runtime_error or std::filesystem::filesystem_error.
void save_offer_model(const OfferModel& model, const std::filesystem::path& file);

}  // namespace nbo::offers
