#include "nbo/features/pipeline.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

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
    const std::string& level = present ? customer.category(spec.field) : spec.impute_level;
    bool matched = false;
    for (const auto& known : spec.levels) {
      const bool hit = known == level;
      matched = matched || hit;
      row[column++] = hit ? 1.0 : 0.0;
    }
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

const nlohmann::json& member(const nlohmann::json& object, std::string_view key,
                             const std::string& path) {
  const auto it = object.find(key);
  if (it == object.end()) {
    throw std::invalid_argument(fmt::format("{}.{}: is required", path, key));
  }
  return *it;
}

double number_member(const nlohmann::json& object, std::string_view key,
                     const std::string& path) {
  const auto& value = member(object, key, path);
  if (!value.is_number()) {
    throw std::invalid_argument(fmt::format("{}.{}: must be a number", path, key));
  }
  return value.get<double>();
}

std::string string_member(const nlohmann::json& object, std::string_view key,
                          const std::string& path) {
  const auto& value = member(object, key, path);
  if (!value.is_string()) {
    throw std::invalid_argument(fmt::format("{}.{}: must be a string", path, key));
  }
  return value.get<std::string>();
}

template <typename Enum, std::size_t N>
Enum enum_member(const nlohmann::json& object, std::string_view key, const std::string& path,
                 const std::array<std::pair<std::string_view, Enum>, N>& names) {
  const std::string text = string_member(object, key, path);
  for (const auto& [name, value] : names) {
    if (name == text) return value;
  }
  std::string allowed;
  for (const auto& [name, value] : names) allowed += fmt::format("{}\"{}\"", allowed.empty() ? "" : ", ", name);
  throw std::invalid_argument(
      fmt::format("{}.{}: unknown value \"{}\" (expected {})", path, key, text, allowed));
}

}  // namespace

Pipeline Pipeline::from_json(const nlohmann::json& pipeline) {
  if (!pipeline.is_object()) throw std::invalid_argument("pipeline: must be an object");
  const auto& features = member(pipeline, "features", "pipeline");
  if (!features.is_array()) throw std::invalid_argument("pipeline.features: must be an array");
  std::vector<FeatureSpec> specs;
  for (std::size_t i = 0; i < features.size(); ++i) {
    const std::string path = fmt::format("pipeline.features[{}]", i);
    const auto& item = features[i];
    if (!item.is_object()) throw std::invalid_argument(path + ": must be an object");
    FeatureSpec spec;
    const std::string name = string_member(item, "name", path);
    const auto field = find_field(name);
    if (!field) throw std::invalid_argument(fmt::format("{}.name: unknown field '{}'", path, name));
    spec.field = *field;
    spec.encoding = enum_member(item, "encoding", path,
                                std::array<std::pair<std::string_view, Encoding>, 2>{
                                    {{"numeric", Encoding::kNumeric}, {"one_hot", Encoding::kOneHot}}});
    const auto& missing = member(item, "missing", path);
    if (!missing.is_object()) throw std::invalid_argument(path + ".missing: must be an object");
    spec.missing = enum_member(missing, "policy", path + ".missing",
                               std::array<std::pair<std::string_view, MissingPolicy>, 2>{
                                   {{"reject", MissingPolicy::kReject},
                                    {"impute", MissingPolicy::kImpute}}});
    if (spec.encoding == Encoding::kNumeric) {
      spec.transform = enum_member(item, "transform", path,
                                   std::array<std::pair<std::string_view, Transform>, 2>{
                                       {{"identity", Transform::kIdentity},
                                        {"log1p", Transform::kLog1p}}});
      spec.center = number_member(item, "center", path);
      spec.scale = number_member(item, "scale", path);
      if (spec.missing == MissingPolicy::kImpute) {
        spec.impute_number = number_member(missing, "value", path + ".missing");
      }
    } else {
      const auto& levels = member(item, "levels", path);
      if (!levels.is_array()) throw std::invalid_argument(path + ".levels: must be an array");
      for (const auto& level : levels) {
        if (!level.is_string()) throw std::invalid_argument(path + ".levels: must hold strings");
        spec.levels.push_back(level.get<std::string>());
      }
      spec.unseen = enum_member(item, "unseen", path,
                                std::array<std::pair<std::string_view, UnseenPolicy>, 2>{
                                    {{"reject", UnseenPolicy::kReject},
                                     {"zeros", UnseenPolicy::kZeros}}});
      if (spec.missing == MissingPolicy::kImpute) {
        spec.impute_level = string_member(missing, "value", path + ".missing");
      }
    }
    specs.push_back(std::move(spec));
  }
  return Pipeline(std::move(specs));
}

}  // namespace nbo::features
