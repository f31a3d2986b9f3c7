// The store's segments: who is at risk, what they are worth, and what to do about it, as stored
// in the segments file (models/segments.json, written by `nbo train segments`; layout in
// docs/segments.md).
//
// A segment is assigned by a decision list: the segments are tried in file order and the first
// whose rule holds takes the customer. A rule is a conjunction of conditions, each on one input:
//   "probability"        the churn model's calibrated probability of an activity decline
//   a store field        by its API name ("profit", "promo_share", "popular_category", ...)
// Operators: ">=" and "<" on numbers, "==" and "!=" on a category's level or a boolean, and
// "missing" (the customer has no value for the field). Every other operator is false for a
// customer that lacks the field, so a customer without profit falls through every rule that
// compares profit and reaches the rule written for it ("profit missing"): its segment is decided
// without a made-up profit, and its value at risk is null. The last segment's rule must be empty
// (it takes everyone left), so every customer gets a segment.
//
// Value at risk = probability x profit (the profit the store stands to lose per month), null
// without profit.
//
// Actions are data the marketing team edits: `actions` is a catalogue by id (title,
// description), and each segment lists the ids it recommends with the evidence for each. The
// loader checks that every id a segment names is in the catalogue.
//
// Thread safety: a SegmentModel is immutable after construction; every method is const and safe
// to call from any number of threads. Share it as std::shared_ptr<const SegmentModel>.
// Failure: the constructor and from_json() throw std::invalid_argument naming the JSON path;
// load_segment_model() throws models::ModelLoadError naming the file too.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "nbo/features/customer.hpp"

namespace nbo::segments {

inline constexpr std::string_view kSegmentModelFormat = "nbo.segments";
inline constexpr int kSegmentModelFormatVersion = 1;
// The name a condition uses for the churn model's probability.
inline constexpr std::string_view kProbabilityInput = "probability";

enum class Operator { kGreaterEqual, kLess, kEqual, kNotEqual, kMissing };
std::string_view operator_name(Operator op);

struct Condition {
  std::string input;  // "probability" or a store field's API name
  Operator op = Operator::kGreaterEqual;
  // ">=" / "<": the bound; "=="/"!=" on a boolean: 1 for true, 0 for false.
  double number = 0.0;
  std::string level;  // "=="/"!=" on a category: the level (canonical spelling)
};

// A threshold learned by the trainer, with why it was chosen.
struct Threshold {
  double value = 0.0;
  std::string rationale;
};

struct Action {
  std::string id;  // e.g. "personal_promotions"
  std::string title;
  std::string description;
};

struct RecommendedAction {
  std::string action;    // an id of the catalogue
  std::string evidence;  // why, in figures ("promo share 0.72 vs 0.25 among the others")
};

// How a field of the segment's customers differs from everyone else's.
struct FieldDifference {
  std::string field;  // API name
  double segment_mean = 0.0;
  double others_mean = 0.0;
  double standardized = 0.0;  // (segment_mean - others_mean) / standard deviation of all
};

// How often a model input appears among the customer's top three reasons.
struct ReasonShare {
  std::string field;
  double share = 0.0;  // fraction of the segment's customers
};

// Figures from the training export (out-of-fold probabilities), for reports and callers.
struct SegmentStats {
  std::size_t customers = 0;
  double share = 0.0;             // of all customers
  double mean_profit = 0.0;       // over those with profit
  double decline_rate = 0.0;      // observed «Снизилась» rate
  double mean_probability = 0.0;  // out-of-fold
  double value_at_risk_total = 0.0;
  double value_at_risk_mean = 0.0;
  std::vector<ReasonShare> top_reasons;      // most frequent first
  std::vector<FieldDifference> differences;  // largest |standardized| first
};

struct Segment {
  std::string id;  // [a-z0-9_]+, stable across retraining of the same rules
  std::string name;
  std::string description;
  std::vector<Condition> rule;  // all must hold; empty = everyone
  std::vector<RecommendedAction> actions;
  SegmentStats stats;
};

struct SegmentMetadata {
  std::string version;
  std::string trained_at;
  std::string training_data_fingerprint;
  std::string trainer;
  std::string churn_model_version;  // the churn model whose probabilities the rules compare
};

// A condition with its input looked up: the form the decision list is evaluated in.
struct ResolvedCondition {
  std::optional<features::FieldId> field;  // nullopt: the probability
  bool category = false;                   // the field is a category (compare `level`)
  Operator op = Operator::kGreaterEqual;
  double number = 0.0;
  std::string level;
};
// Looks the condition's input up. An unknown input resolves to a condition that never holds
// (the SegmentModel constructor rejects such conditions).
ResolvedCondition resolve(const Condition& condition);

// Where one customer lands.
struct Assignment {
  const Segment* segment = nullptr;     // points into the model; valid while it lives
  std::optional<double> value_at_risk;  // probability x profit; nullopt without profit
};

class SegmentModel {
 public:
  // Checks the parts against each other: ids unique and well-formed, conditions on known inputs
  // with values of the input's type, action ids in the catalogue, the last rule empty.
  SegmentModel(SegmentMetadata metadata, Threshold probability_threshold,
               Threshold profit_threshold, std::vector<Action> actions,
               std::vector<Segment> segments);

  // The first segment whose rule holds for (probability, customer). Never fails.
  Assignment assign(double probability, const features::RawCustomer& customer) const;
  std::size_t assign_index(double probability, const features::RawCustomer& customer) const;

  const Action* find_action(std::string_view id) const;
  const Segment* find_segment(std::string_view id) const;
  // `segment` (one of segments()) as the API's answers show it, rendered once at construction
  // because every answer repeats it: {"actions":[{"description","id","title"}...],"id","name"},
  // keys in byte order. Throws std::invalid_argument for a segment of another model.
  std::string_view summary_json(const Segment& segment) const;

  const SegmentMetadata& metadata() const noexcept { return metadata_; }
  const Threshold& probability_threshold() const noexcept { return probability_threshold_; }
  const Threshold& profit_threshold() const noexcept { return profit_threshold_; }
  const std::vector<Action>& actions() const noexcept { return actions_; }
  const std::vector<Segment>& segments() const noexcept { return segments_; }

  // The whole file as JSON (sorted keys: equal models serialize byte-identically).
  nlohmann::json to_json() const;
  // Parses a segments file's JSON. Throws std::invalid_argument ("<JSON path>: <problem>").
  static SegmentModel from_json(const nlohmann::json& document);

 private:
  SegmentMetadata metadata_;
  Threshold probability_threshold_;
  Threshold profit_threshold_;
  std::vector<Action> actions_;
  std::vector<Segment> segments_;
  // segments_[s].rule with each input resolved once, at construction: assign() runs for every
  // answered customer and compares field ids instead of looking field names up.
  std::vector<std::vector<ResolvedCondition>> resolved_rules_;
  std::vector<std::string> summaries_json_;  // summary_json() of segments_[s]
};

// One condition against one customer (see the header comment for missing values).
bool holds(const Condition& condition, double probability, const features::RawCustomer& customer);

// Reads, parses and validates a segments file. Throws models::ModelLoadError.
std::shared_ptr<const SegmentModel> load_segment_model(const std::filesystem::path& file);
// Writes the file (pretty-printed JSON, trailing newline) atomically (temp file + rename).
void save_segment_model(const SegmentModel& model, const std::filesystem::path& file);

}  // namespace nbo::segments
