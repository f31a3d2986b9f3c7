#include "nbo/features/pipeline.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "nbo/models/json_reader.hpp"

namespace nbo::features {
namespace {

std::string_view encoding_name(Encoding encoding) {
  return encoding == Encoding::kOneHot ? "one_hot" : "numeric";
}
std::string_view transform_name(Transform transform) {
  return transform == Transform::kLog1p ? "log1p" : "identity";
}

double apply_transform(Transform transform, double value) {
  return transform == Transform::kLog1p ? std::log1p(value) : value;
}

[[noreturn]] void fail(std::size_t index, const FeatureSpec& spec, std::string_view problem) {
  throw std::invalid_argument(fmt::format("pipeline.features[{}] ({}): {}", index,
                                          store_field(spec.field).api_name, problem));
}

void validate(const std::vector<FeatureSpec>& specs) {
  if (specs.empty()) throw std::invalid_argument("pipeline.features: must not be empty");
  std::array<bool, kFieldCount> seen{};
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const FeatureSpec& spec = specs[i];
    const StoreField& field = store_field(spec.field);
    if (!field.model_input) fail(i, spec, "is not a model input field");
    if (seen[index_of(spec.field)]) fail(i, spec, "appears twice");
    seen[index_of(spec.field)] = true;
    const bool categorical = field.type == FieldType::kCategory;
    if (categorical != (spec.encoding == Encoding::kOneHot)) {
      fail(i, spec,
           categorical ? "a categorical field needs one_hot encoding"
                       : "only categorical fields can be one_hot encoded");
    }
    if (spec.encoding == Encoding::kNumeric) {
      if (!std::isfinite(spec.center)) fail(i, spec, "center must be finite");
      if (!(std::isfinite(spec.scale) && spec.scale > 0)) fail(i, spec, "scale must be > 0");
      if (spec.transform == Transform::kLog1p && field.min_value < 0) {
        fail(i, spec, "log1p needs a field whose values are >= 0");
      }
      if (spec.missing == MissingPolicy::kImpute) {
        RawCustomer probe;  // the imputed value must itself be a valid value of the field
        try {
          probe.set_number(spec.field, spec.impute_number);
        } catch (const ValidationError& error) {
          fail(i, spec, fmt::format("impute value: {}", error.what()));
        }
      }
    } else {
      if (spec.levels.empty()) fail(i, spec, "levels must not be empty");
      for (std::size_t a = 0; a < spec.levels.size(); ++a) {
        const auto canonical = normalize_category(spec.field, spec.levels[a]);
        if (!canonical || *canonical != spec.levels[a]) {
          fail(i, spec, fmt::format("level \"{}\" is not a canonical level", spec.levels[a]));
        }
        for (std::size_t b = 0; b < a; ++b) {
          if (spec.levels[a] == spec.levels[b]) {
            fail(i, spec, fmt::format("level \"{}\" appears twice", spec.levels[a]));
          }
        }
      }
      if (spec.missing == MissingPolicy::kImpute &&
          std::find(spec.levels.begin(), spec.levels.end(), spec.impute_level) ==
              spec.levels.end()) {
        fail(i, spec, fmt::format("impute level \"{}\" is not one of the levels",
                                  spec.impute_level));
      }
    }
  }
}

}  // namespace

Pipeline::Pipeline(std::vector<FeatureSpec> specs) : specs_(std::move(specs)) {
  validate(specs_);
  for (std::size_t i = 0; i < specs_.size(); ++i) {
    const FeatureSpec& spec = specs_[i];
    const std::string name(store_field(spec.field).api_name);
    if (spec.encoding == Encoding::kNumeric) {
      column_names_.push_back(name);
      column_spec_.push_back(i);
    } else {
      for (const auto& level : spec.levels) {
        column_names_.push_back(name + "=" + level);
        column_spec_.push_back(i);
      }
    }
  }
}

void Pipeline::transform(const RawCustomer& customer, std::span<double> row,
                         std::vector<FieldId>* imputed) const {
  if (row.size() != column_count()) {
    throw std::invalid_argument(fmt::format("model row has {} columns, pipeline makes {}",
                                            row.size(), column_count()));
  }
  std::size_t column = 0;
  for (const FeatureSpec& spec : specs_) {
    const bool present = customer.has(spec.field);
    if (!present) {
      if (spec.missing == MissingPolicy::kReject) {
        const auto name = store_field(spec.field).api_name;
        throw ValidationError("missing_field", std::string(name),
                              fmt::format("field '{}' is required by the model", name));
      }
      if (imputed != nullptr) imputed->push_back(spec.field);
    }
    if (spec.encoding == Encoding::kNumeric) {
      const double raw = present ? customer.number(spec.field) : spec.impute_number;
      row[column++] = (apply_transform(spec.transform, raw) - spec.center) / spec.scale;
      continue;
    }
    const std::string_view level =
        present ? customer.category(spec.field) : std::string_view(spec.impute_level);
    // Levels are distinct: the search stops at the first match.
    const auto found = std::find(spec.levels.begin(), spec.levels.end(), level);
    const bool matched = found != spec.levels.end();
    const auto hit = static_cast<std::size_t>(found - spec.levels.begin());
    for (std::size_t i = 0; i < spec.levels.size(); ++i) row[column++] = i == hit ? 1.0 : 0.0;
    if (!matched && spec.unseen == UnseenPolicy::kReject) {
      const auto name = store_field(spec.field).api_name;
      throw ValidationError(
          "unknown_category", std::string(name),
          fmt::format("field '{}' value \"{}\" was not seen when the model was trained", name,
                      level));
    }
  }
}

nlohmann::json Pipeline::to_json() const {
  nlohmann::json features = nlohmann::json::array();
  for (const FeatureSpec& spec : specs_) {
    nlohmann::json item;
    item["name"] = store_field(spec.field).api_name;
    item["encoding"] = encoding_name(spec.encoding);
    if (spec.encoding == Encoding::kNumeric) {
      item["transform"] = transform_name(spec.transform);
      item["center"] = spec.center;
      item["scale"] = spec.scale;
    } else {
      item["levels"] = spec.levels;
      item["unseen"] = spec.unseen == UnseenPolicy::kZeros ? "zeros" : "reject";
    }
    nlohmann::json missing;
    missing["policy"] = spec.missing == MissingPolicy::kImpute ? "impute" : "reject";
    if (spec.missing == MissingPolicy::kImpute) {
      if (spec.encoding == Encoding::kNumeric) {
        missing["value"] = spec.impute_number;
      } else {
        missing["value"] = spec.impute_level;
      }
    }
    item["missing"] = std::move(missing);
    features.push_back(std::move(item));
  }
  return nlohmann::json{{"features", std::move(features)}};
}

namespace {

using models::JsonReader;

constexpr std::array<std::pair<std::string_view, Encoding>, 2> kEncodings{
    {{"numeric", Encoding::kNumeric}, {"one_hot", Encoding::kOneHot}}};
constexpr std::array<std::pair<std::string_view, MissingPolicy>, 2> kMissingPolicies{
    {{"reject", MissingPolicy::kReject}, {"impute", MissingPolicy::kImpute}}};
constexpr std::array<std::pair<std::string_view, Transform>, 2> kTransforms{
    {{"identity", Transform::kIdentity}, {"log1p", Transform::kLog1p}}};
constexpr std::array<std::pair<std::string_view, UnseenPolicy>, 2> kUnseenPolicies{
    {{"reject", UnseenPolicy::kReject}, {"zeros", UnseenPolicy::kZeros}}};

}  // namespace

Pipeline Pipeline::read(const models::JsonReader& pipeline) {
  pipeline.only_keys({"features"});
  const JsonReader features = pipeline["features"];
  const std::size_t count = features.array_size();
  std::vector<FeatureSpec> specs;
  for (std::size_t i = 0; i < count; ++i) {
    const JsonReader item = features[i];
    item.expect_object();
    FeatureSpec spec;
    const JsonReader name = item["name"];
    const auto field = find_field(name.string());
    if (!field) name.fail(fmt::format("unknown field '{}'", name.string()));
    spec.field = *field;
    spec.encoding = item["encoding"].one_of(kEncodings);
    const JsonReader missing = item["missing"];
    missing.expect_object();
    spec.missing = missing["policy"].one_of(kMissingPolicies);
    if (spec.missing == MissingPolicy::kImpute) {
      missing.only_keys({"policy", "value"});
    } else {
      missing.only_keys({"policy"});
    }
    if (spec.encoding == Encoding::kNumeric) {
      item.only_keys({"name", "encoding", "transform", "center", "scale", "missing"});
      spec.transform = item["transform"].one_of(kTransforms);
      spec.center = item["center"].number();
      spec.scale = item["scale"].number();
      if (spec.missing == MissingPolicy::kImpute) spec.impute_number = missing["value"].number();
    } else {
      item.only_keys({"name", "encoding", "levels", "unseen", "missing"});
      spec.levels = item["levels"].strings();
      spec.unseen = item["unseen"].one_of(kUnseenPolicies);
      if (spec.missing == MissingPolicy::kImpute) spec.impute_level = missing["value"].string();
    }
    specs.push_back(std::move(spec));
  }
  return Pipeline(std::move(specs));
}

Pipeline Pipeline::from_json(const nlohmann::json& pipeline) {
  return read(JsonReader(pipeline, "pipeline"));
}

}  // namespace nbo::features
