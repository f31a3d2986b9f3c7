#include "nbo/segments/segment_model.hpp"

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>

#include "nbo/json/writer.hpp"
#include "nbo/models/json_file.hpp"
#include "nbo/models/json_reader.hpp"

namespace nbo::segments {
namespace {

using models::JsonReader;

constexpr std::array<std::pair<std::string_view, Operator>, 5> kOperators{{
    {">=", Operator::kGreaterEqual},
    {"<", Operator::kLess},
    {"==", Operator::kEqual},
    {"!=", Operator::kNotEqual},
    {"missing", Operator::kMissing},
}};

bool well_formed_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (const char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

// Checks one condition; `path` names it in messages ("segments[2].rule[0]").
void check_condition(const Condition& condition, const std::string& path) {
  const bool compares = condition.op == Operator::kGreaterEqual || condition.op == Operator::kLess;
  if (condition.input == kProbabilityInput) {
    if (!compares) {
      throw std::invalid_argument(
          fmt::format("{}.op: the probability takes \">=\" or \"<\", got \"{}\"", path,
                      operator_name(condition.op)));
    }
    if (!(condition.number >= 0.0 && condition.number <= 1.0)) {
      throw std::invalid_argument(fmt::format(
          "{}.value: a probability bound must be in [0, 1], got {}", path, condition.number));
    }
    return;
  }
  const auto field = features::find_field(condition.input);
  if (!field) {
    throw std::invalid_argument(
        fmt::format("{}.input: unknown input \"{}\" (expected \"probability\" or a customer field)",
                    path, condition.input));
  }
  if (condition.op == Operator::kMissing) return;
  const features::FieldType type = features::store_field(*field).type;
  switch (type) {
    case features::FieldType::kNumber:
    case features::FieldType::kInteger:
      if (!compares) {
        throw std::invalid_argument(fmt::format(
            "{}.op: the number \"{}\" takes \">=\", \"<\" or \"missing\"", path, condition.input));
      }
      if (!std::isfinite(condition.number)) {
        throw std::invalid_argument(fmt::format("{}.value: must be a finite number", path));
      }
      return;
    case features::FieldType::kBoolean:
    case features::FieldType::kCategory:
      if (compares) {
        throw std::invalid_argument(fmt::format("{}.op: \"{}\" takes \"==\", \"!=\" or \"missing\"",
                                                path, condition.input));
      }
      if (type == features::FieldType::kCategory &&
          features::normalize_category(*field, condition.level) !=
              std::optional<std::string_view>(condition.level)) {
        throw std::invalid_argument(fmt::format("{}.value: \"{}\" is not a level of \"{}\"", path,
                                                condition.level, condition.input));
      }
      return;
  }
}

nlohmann::json condition_json(const Condition& condition) {
  nlohmann::json out = {{"input", condition.input},
                        {"op", std::string(operator_name(condition.op))}};
  if (condition.op == Operator::kMissing) return out;
  if (condition.input != kProbabilityInput) {
    const auto type = features::store_field(*features::find_field(condition.input)).type;
    if (type == features::FieldType::kCategory) {
      out["value"] = condition.level;
      return out;
    }
    if (type == features::FieldType::kBoolean) {
      out["value"] = condition.number != 0.0;
      return out;
    }
  }
  out["value"] = condition.number;
  return out;
}

Condition read_condition(const JsonReader& reader) {
  reader.only_keys({"input", "op", "value"});
  Condition condition;
  condition.input = reader["input"].string();
  condition.op = reader["op"].one_of(kOperators);
  if (condition.op == Operator::kMissing) {
    if (reader.contains("value")) reader["value"].fail("\"missing\" takes no value");
    return condition;
  }
  const JsonReader value = reader["value"];
  if (value.json().is_string()) {
    condition.level = value.string();
  } else if (value.json().is_boolean()) {
    condition.number = value.boolean() ? 1.0 : 0.0;
  } else {
    condition.number = value.finite_number();
  }
  // The type must match the input's: a string only for a category, a boolean only for one.
  if (condition.input != kProbabilityInput) {
    if (const auto field = features::find_field(condition.input)) {
      const auto type = features::store_field(*field).type;
      const bool want_string = type == features::FieldType::kCategory;
      const bool want_boolean = type == features::FieldType::kBoolean;
      if (want_string != value.json().is_string()) {
        value.fail(want_string ? "must be one of the field's levels (a string)"
                               : "must not be a string for this field");
      }
      if (want_boolean != value.json().is_boolean()) {
        value.fail(want_boolean ? "must be true or false" : "must not be a boolean");
      }
    }
  } else if (!value.json().is_number()) {
    value.fail("must be a number in [0, 1]");
  }
  return condition;
}

Threshold read_threshold(const JsonReader& reader) {
  reader.only_keys({"value", "rationale"});
  return {reader["value"].finite_number(), reader["rationale"].string()};
}

nlohmann::json threshold_json(const Threshold& threshold) {
  return {{"value", threshold.value}, {"rationale", threshold.rationale}};
}

nlohmann::json stats_json(const SegmentStats& stats) {
  nlohmann::json reasons = nlohmann::json::array();
  for (const auto& reason : stats.top_reasons) {
    reasons.push_back({{"field", reason.field}, {"share", reason.share}});
  }
  nlohmann::json differences = nlohmann::json::array();
  for (const auto& difference : stats.differences) {
    differences.push_back({{"field", difference.field},
                           {"segment_mean", difference.segment_mean},
                           {"others_mean", difference.others_mean},
                           {"standardized", difference.standardized}});
  }
  return {{"customers", stats.customers},
          {"share", stats.share},
          {"mean_profit", stats.mean_profit},
          {"decline_rate", stats.decline_rate},
          {"mean_probability", stats.mean_probability},
          {"value_at_risk_total", stats.value_at_risk_total},
          {"value_at_risk_mean", stats.value_at_risk_mean},
          {"top_reasons", reasons},
          {"differences", differences}};
}

SegmentStats read_stats(const JsonReader& reader) {
  reader.only_keys({"customers", "share", "mean_profit", "decline_rate", "mean_probability",
                    "value_at_risk_total", "value_at_risk_mean", "top_reasons", "differences"});
  SegmentStats stats;
  stats.customers = reader["customers"].integer<std::size_t>();
  stats.share = reader["share"].finite_number();
  stats.mean_profit = reader["mean_profit"].finite_number();
  stats.decline_rate = reader["decline_rate"].finite_number();
  stats.mean_probability = reader["mean_probability"].finite_number();
  stats.value_at_risk_total = reader["value_at_risk_total"].finite_number();
  stats.value_at_risk_mean = reader["value_at_risk_mean"].finite_number();
  const JsonReader reasons = reader["top_reasons"];
  for (std::size_t i = 0, n = reasons.array_size(); i < n; ++i) {
    reasons[i].only_keys({"field", "share"});
    stats.top_reasons.push_back(
        {reasons[i]["field"].string(), reasons[i]["share"].finite_number()});
  }
  const JsonReader differences = reader["differences"];
  for (std::size_t i = 0, n = differences.array_size(); i < n; ++i) {
    const JsonReader d = differences[i];
    d.only_keys({"field", "segment_mean", "others_mean", "standardized"});
    stats.differences.push_back({d["field"].string(), d["segment_mean"].finite_number(),
                                 d["others_mean"].finite_number(),
                                 d["standardized"].finite_number()});
  }
  return stats;
}

}  // namespace

std::string_view operator_name(Operator op) {
  for (const auto& [name, value] : kOperators) {
    if (value == op) return name;
  }
  return "?";
}

namespace {

// The one evaluation of a condition (see the header comment for missing values).
bool holds_resolved(const ResolvedCondition& condition, double probability,
                    const features::RawCustomer& customer) {
  if (!condition.field) {
    return condition.op == Operator::kGreaterEqual ? probability >= condition.number
                                                   : probability < condition.number;
  }
  const features::FieldId field = *condition.field;
  if (!customer.has(field)) return condition.op == Operator::kMissing;
  switch (condition.op) {
    case Operator::kMissing:
      return false;
    case Operator::kGreaterEqual:
      return customer.number(field) >= condition.number;
    case Operator::kLess:
      return customer.number(field) < condition.number;
    case Operator::kEqual:
    case Operator::kNotEqual: {
      const bool equal = condition.category ? customer.category(field) == condition.level
                                            : customer.boolean(field) == (condition.number != 0.0);
      return equal == (condition.op == Operator::kEqual);
    }
  }
  return false;
}

}  // namespace

ResolvedCondition resolve(const Condition& condition) {
  ResolvedCondition resolved;
  resolved.op = condition.op;
  resolved.number = condition.number;
  resolved.level = condition.level;
  if (condition.input == kProbabilityInput) return resolved;
  resolved.field = features::find_field(condition.input);
  if (!resolved.field) {
    // Never holds: no customer has this field, and "missing" is turned into ">=".
    resolved.field = features::FieldId::kProfit;
    resolved.op = Operator::kGreaterEqual;
    resolved.number = std::numeric_limits<double>::infinity();
    return resolved;
  }
  resolved.category = features::store_field(*resolved.field).type == features::FieldType::kCategory;
  return resolved;
}

bool holds(const Condition& condition, double probability, const features::RawCustomer& customer) {
  return holds_resolved(resolve(condition), probability, customer);
}

SegmentModel::SegmentModel(SegmentMetadata metadata, Threshold probability_threshold,
                           Threshold profit_threshold, std::vector<Action> actions,
                           std::vector<Segment> segments)
    : metadata_(std::move(metadata)),
      probability_threshold_(std::move(probability_threshold)),
      profit_threshold_(std::move(profit_threshold)),
      actions_(std::move(actions)),
      segments_(std::move(segments)) {
  if (metadata_.version.empty()) throw std::invalid_argument("metadata.version: must not be empty");
  if (metadata_.churn_model_version.empty()) {
    throw std::invalid_argument("metadata.churn_model_version: must not be empty");
  }
  if (!(probability_threshold_.value >= 0.0 && probability_threshold_.value <= 1.0)) {
    throw std::invalid_argument(fmt::format(
        "thresholds.probability.value: must be in [0, 1], got {}", probability_threshold_.value));
  }
  std::set<std::string_view> action_ids;
  for (std::size_t i = 0; i < actions_.size(); ++i) {
    const Action& action = actions_[i];
    if (!well_formed_id(action.id)) {
      throw std::invalid_argument(
          fmt::format("actions[{}].id: must be 1 to 64 of [a-z0-9_], got \"{}\"", i, action.id));
    }
    if (!action_ids.insert(action.id).second) {
      throw std::invalid_argument(
          fmt::format("actions[{}].id: \"{}\" appears twice", i, action.id));
    }
    if (action.title.empty()) {
      throw std::invalid_argument(fmt::format("actions[{}].title: must not be empty", i));
    }
  }
  if (segments_.empty()) throw std::invalid_argument("segments: must not be empty");
  std::set<std::string_view> segment_ids;
  for (std::size_t s = 0; s < segments_.size(); ++s) {
    const Segment& segment = segments_[s];
    const std::string path = fmt::format("segments[{}]", s);
    if (!well_formed_id(segment.id)) {
      throw std::invalid_argument(
          fmt::format("{}.id: must be 1 to 64 of [a-z0-9_], got \"{}\"", path, segment.id));
    }
    if (segment.id == "all") {
      throw std::invalid_argument(fmt::format("{}.id: \"all\" is reserved", path));
    }
    if (!segment_ids.insert(segment.id).second) {
      throw std::invalid_argument(fmt::format("{}.id: \"{}\" appears twice", path, segment.id));
    }
    if (segment.name.empty()) throw std::invalid_argument(path + ".name: must not be empty");
    for (std::size_t c = 0; c < segment.rule.size(); ++c) {
      check_condition(segment.rule[c], fmt::format("{}.rule[{}]", path, c));
    }
    for (std::size_t a = 0; a < segment.actions.size(); ++a) {
      if (!action_ids.contains(segment.actions[a].action)) {
        throw std::invalid_argument(
            fmt::format("{}.actions[{}].action: \"{}\" is not in the actions catalogue", path, a,
                        segment.actions[a].action));
      }
    }
  }
  if (!segments_.back().rule.empty()) {
    throw std::invalid_argument(
        fmt::format("segments[{}].rule: the last segment must have an empty rule (it takes "
                    "every customer no other rule takes)",
                    segments_.size() - 1));
  }
  for (const Segment& segment : segments_) {
    auto& rule = resolved_rules_.emplace_back();
    for (const Condition& condition : segment.rule) rule.push_back(resolve(condition));
    std::string& summary = summaries_json_.emplace_back();
    json::Writer writer(summary);
    writer.begin_object();
    writer.key("actions");
    writer.begin_array();
    for (const auto& recommended : segment.actions) {
      const Action* action = find_action(recommended.action);
      writer.begin_object();
      writer.member("description", action->description);
      writer.member("id", action->id);
      writer.member("title", action->title);
      writer.end_object();
    }
    writer.end_array();
    writer.member("id", segment.id);
    writer.member("name", segment.name);
    writer.end_object();
  }
}

std::string_view SegmentModel::summary_json(const Segment& segment) const {
  const auto* first = segments_.data();
  if (&segment < first || &segment >= first + segments_.size()) {
    throw std::invalid_argument(
        fmt::format("segment '{}' is not one of this model's segments", segment.id));
  }
  return summaries_json_[static_cast<std::size_t>(&segment - first)];
}

std::size_t SegmentModel::assign_index(double probability,
                                       const features::RawCustomer& customer) const {
  for (std::size_t s = 0; s + 1 < resolved_rules_.size(); ++s) {
    bool all = true;
    for (const ResolvedCondition& condition : resolved_rules_[s]) {
      if (!holds_resolved(condition, probability, customer)) {
        all = false;
        break;
      }
    }
    if (all) return s;
  }
  return resolved_rules_.size() - 1;
}

Assignment SegmentModel::assign(double probability, const features::RawCustomer& customer) const {
  Assignment assignment;
  assignment.segment = &segments_[assign_index(probability, customer)];
  if (customer.has(features::FieldId::kProfit)) {
    assignment.value_at_risk = probability * customer.number(features::FieldId::kProfit);
  }
  return assignment;
}

const Action* SegmentModel::find_action(std::string_view id) const {
  for (const auto& action : actions_) {
    if (action.id == id) return &action;
  }
  return nullptr;
}

const Segment* SegmentModel::find_segment(std::string_view id) const {
  for (const auto& segment : segments_) {
    if (segment.id == id) return &segment;
  }
  return nullptr;
}

nlohmann::json SegmentModel::to_json() const {
  nlohmann::json actions = nlohmann::json::array();
  for (const auto& action : actions_) {
    actions.push_back(
        {{"id", action.id}, {"title", action.title}, {"description", action.description}});
  }
  nlohmann::json segments = nlohmann::json::array();
  for (const auto& segment : segments_) {
    nlohmann::json rule = nlohmann::json::array();
    for (const auto& condition : segment.rule) rule.push_back(condition_json(condition));
    nlohmann::json recommended = nlohmann::json::array();
    for (const auto& action : segment.actions) {
      recommended.push_back({{"action", action.action}, {"evidence", action.evidence}});
    }
    segments.push_back({{"id", segment.id},
                        {"name", segment.name},
                        {"description", segment.description},
                        {"rule", rule},
                        {"actions", recommended},
                        {"stats", stats_json(segment.stats)}});
  }
  return {{"format", std::string(kSegmentModelFormat)},
          {"format_version", kSegmentModelFormatVersion},
          {"metadata",
           {{"version", metadata_.version},
            {"trained_at", metadata_.trained_at},
            {"training_data_fingerprint", metadata_.training_data_fingerprint},
            {"trainer", metadata_.trainer},
            {"churn_model_version", metadata_.churn_model_version}}},
          {"thresholds",
           {{"probability", threshold_json(probability_threshold_)},
            {"profit", threshold_json(profit_threshold_)}}},
          {"actions", actions},
          {"segments", segments}};
}

SegmentModel SegmentModel::from_json(const nlohmann::json& document) {
  const JsonReader root(document);
  root.only_keys({"format", "format_version", "metadata", "thresholds", "actions", "segments"});
  if (root["format"].string() != kSegmentModelFormat) {
    root["format"].fail(fmt::format("must be \"{}\", got {}", kSegmentModelFormat,
                                    JsonReader::quote(root["format"].json())));
  }
  root["format_version"].integer<int>(kSegmentModelFormatVersion, kSegmentModelFormatVersion);

  const JsonReader meta = root["metadata"];
  meta.only_keys(
      {"version", "trained_at", "training_data_fingerprint", "trainer", "churn_model_version"});
  SegmentMetadata metadata{meta["version"].string(), meta["trained_at"].string(),
                           meta["training_data_fingerprint"].string(), meta["trainer"].string(),
                           meta["churn_model_version"].string()};

  const JsonReader thresholds = root["thresholds"];
  thresholds.only_keys({"probability", "profit"});
  Threshold probability = read_threshold(thresholds["probability"]);
  Threshold profit = read_threshold(thresholds["profit"]);

  std::vector<Action> actions;
  const JsonReader actions_reader = root["actions"];
  for (std::size_t i = 0, n = actions_reader.array_size(0, 1000); i < n; ++i) {
    const JsonReader a = actions_reader[i];
    a.only_keys({"id", "title", "description"});
    actions.push_back({a["id"].string(), a["title"].string(), a["description"].string()});
  }

  std::vector<Segment> segments;
  const JsonReader segments_reader = root["segments"];
  for (std::size_t s = 0, n = segments_reader.array_size(1, 1000); s < n; ++s) {
    const JsonReader r = segments_reader[s];
    r.only_keys({"id", "name", "description", "rule", "actions", "stats"});
    Segment segment;
    segment.id = r["id"].string();
    segment.name = r["name"].string();
    segment.description = r["description"].string();
    const JsonReader rule = r["rule"];
    for (std::size_t c = 0, m = rule.array_size(0, 32); c < m; ++c) {
      segment.rule.push_back(read_condition(rule[c]));
    }
    const JsonReader recommended = r["actions"];
    for (std::size_t a = 0, m = recommended.array_size(0, 32); a < m; ++a) {
      recommended[a].only_keys({"action", "evidence"});
      segment.actions.push_back(
          {recommended[a]["action"].string(), recommended[a]["evidence"].string()});
    }
    segment.stats = read_stats(r["stats"]);
    segments.push_back(std::move(segment));
  }
  return SegmentModel(std::move(metadata), std::move(probability), std::move(profit),
                      std::move(actions), std::move(segments));
}

std::shared_ptr<const SegmentModel> load_segment_model(const std::filesystem::path& file) {
  const nlohmann::json document = models::read_json_file(file, "segments file");
  try {
    return std::make_shared<const SegmentModel>(SegmentModel::from_json(document));
  } catch (const std::exception& error) {
    throw models::ModelLoadError(fmt::format("segments file {}: {}", file.string(), error.what()));
  }
}

void save_segment_model(const SegmentModel& model, const std::filesystem::path& file) {
  models::write_json_file(model.to_json(), file, "segments file");
}

}  // namespace nbo::segments
