// The feature pipeline: raw customer -> model row. Shared by the trainer and the server, so the
// same raw customer always yields the same row (and therefore the same probability).
//
// A pipeline is a list of FeatureSpec, one per model input field. Each spec expands into one
// column (numbers, booleans) or one column per level (one-hot categories); column order is the
// spec order, levels in their listed order.
//
// Thread safety: a Pipeline is immutable after construction; transform() is const and safe to
// call from many threads at once.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "nbo/features/customer.hpp"

namespace nbo::models {
class JsonReader;  // nbo/models/json_reader.hpp
}  // namespace nbo::models

namespace nbo::features {

enum class Encoding {
  kNumeric,  // (transform(x) - center) / scale; numbers, integers and booleans (0/1)
  kOneHot,   // one 0/1 column per level
};

enum class Transform {
  kIdentity,
  kLog1p,  // log(1 + x); for fields whose range starts at 0
};

enum class MissingPolicy {
  kReject,  // an absent field is a `missing_field` validation error
  kImpute,  // an absent field takes `impute_number` / `impute_level`, and is reported as imputed
};

enum class UnseenPolicy {
  kReject,  // a valid category level the model did not see in training is `unknown_category`
  kZeros,   // ... encodes as all-zero one-hot columns
};

struct FeatureSpec {
  FieldId field = FieldId::kServiceType;
  Encoding encoding = Encoding::kNumeric;
  Transform transform = Transform::kIdentity;  // kNumeric only
  double center = 0.0;                         // kNumeric: subtracted after transform
  double scale = 1.0;                          // kNumeric: divisor after centering, > 0
  std::vector<std::string> levels;             // kOneHot: canonical levels, column order
  UnseenPolicy unseen = UnseenPolicy::kReject;  // kOneHot
  MissingPolicy missing = MissingPolicy::kReject;
  double impute_number = 0.0;  // kNumeric + kImpute: raw value used for an absent field
  std::string impute_level;    // kOneHot + kImpute: level used for an absent field
};

class Pipeline {
 public:
  // Validates the specs (known model-input fields, each once; encoding matching the field's
  // type; finite center, scale > 0; levels known, unique and non-empty). Throws
  // std::invalid_argument naming the spec and the problem.
  explicit Pipeline(std::vector<FeatureSpec> specs);

  const std::vector<FeatureSpec>& specs() const noexcept { return specs_; }
  std::size_t column_count() const noexcept { return column_names_.size(); }
  // "tenure_days", "popular_category=Кухонная посуда", ...
  const std::vector<std::string>& column_names() const noexcept { return column_names_; }
  // Index into specs() of the spec that produced each column.
  const std::vector<std::size_t>& column_spec() const noexcept { return column_spec_; }

  // Writes the model row for `customer` into `row` (size column_count()). Fields absent under
  // kImpute are appended to `imputed` when it is not null. Throws ValidationError for an absent
  // field under kReject or an unseen level under kReject. Does not allocate when `imputed` is
  // null or nothing is imputed.
  void transform(const RawCustomer& customer, std::span<double> row,
                 std::vector<FieldId>* imputed = nullptr) const;

  // Serialization; the layout is documented in docs/model-format.md. from_json throws
  // std::invalid_argument with a JSON path: models::JsonError from the reader
  // ("pipeline.features[3].scale: must be a number, got \"2\""), or the constructor's message
  // ("pipeline.features[3] (tenure_days): scale must be > 0"). read reads at the reader's path,
  // from_json reads `pipeline` as the model file's "pipeline".
  nlohmann::json to_json() const;
  static Pipeline read(const models::JsonReader& pipeline);
  static Pipeline from_json(const nlohmann::json& pipeline);

 private:
  std::vector<FeatureSpec> specs_;
  std::vector<std::string> column_names_;
  std::vector<std::size_t> column_spec_;
};

}  // namespace nbo::features
