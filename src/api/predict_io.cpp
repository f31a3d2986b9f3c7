#include "nbo/api/predict_io.hpp"

#include <fmt/format.h>

#include <array>
#include <optional>

#include "nbo/api/segment_io.hpp"
#include "service_context.hpp"

namespace nbo::api {
namespace {

// The path of a field inside the item at `prefix` ("" or "customers[3].").
std::string field_path(std::string_view prefix, std::string_view field) {
  std::string path;
  path.reserve(prefix.size() + field.size());
  path += prefix;
  path += field;
  return path;
}

// Reads one {"customer_id", "features"} object into `item`. Throws ApiError naming
// `prefix`-prefixed fields. `top_level` allows the "customers" key (checked by the caller).
void read_item(json::Value object, std::string_view prefix, bool top_level, PredictItem& item) {
  if (!object.is_object()) {
    throw ApiError(
        errors::kInvalidType,
        prefix.empty() ? std::string() : std::string(prefix.substr(0, prefix.size() - 1)),
        "each customer must be a JSON object");
  }
  bool has_features = false;
  object.for_each_member([&](std::string_view key, json::Value value) {
    if (key == "customer_id") {
      if (!value.is_string()) {
        throw ApiError(errors::kInvalidType, field_path(prefix, "customer_id"),
                       "'customer_id' must be a string");
      }
      // The field's path is built only for the error: a batch reads thousands of valid ids.
      const std::string_view id = value.string();
      item.customer_id = is_valid_customer_id(id)
                             ? std::string(id)
                             : validated_customer_id(id, field_path(prefix, "customer_id"));
    } else if (key == "features") {
      try {
        item.customer = features::customer_from_json(value);
        has_features = true;
      } catch (const features::ValidationError& error) {
        throw features_error(error, field_path(prefix, "features"));
      }
    } else if (!(top_level && key == "customers")) {
      throw ApiError(errors::kUnknownField, field_path(prefix, key),
                     fmt::format("unknown field '{}'; a customer has 'customer_id' and "
                                 "'features'",
                                 key));
    }
  });
  if (!has_features && item.customer_id.empty()) {
    throw ApiError(errors::kMissingField, field_path(prefix, "features"),
                   "give 'features', or the 'customer_id' of a stored customer");
  }
}

PredictRequest read_batch(json::Value body, json::Value batch, std::size_t max_batch) {
  if (body.find("features").found() || body.find("customer_id").found()) {
    throw ApiError(errors::kInvalidValue, "customers",
                   "send either one customer or a 'customers' batch, not both");
  }
  body.for_each_member([](std::string_view key, json::Value) {
    if (key != "customers") {
      throw ApiError(errors::kUnknownField, std::string(key),
                     fmt::format("unknown field '{}'; a batch is {{\"customers\": [...]}}", key));
    }
  });
  if (!batch.is_array()) {
    throw ApiError(errors::kInvalidType, "customers", "'customers' must be an array");
  }
  if (batch.size() == 0) throw ApiError(errors::kInvalidValue, "customers", "'customers' is empty");
  if (batch.size() > max_batch) {
    throw ApiError(
        errors::kBatchTooLarge, "customers",
        fmt::format("a batch holds at most {} customers, got {}", max_batch, batch.size()));
  }
  PredictRequest request;
  request.batch = true;
  request.items.resize(batch.size());
  // "customers[i]." for each item's error paths, written over the same buffer for each item.
  std::array<char, 48> prefix_buffer{};
  batch.for_each_element([&](std::size_t i, json::Value element) {
    PredictItem& item = request.items[i];
    const auto written =
        fmt::format_to_n(prefix_buffer.data(), prefix_buffer.size(), "customers[{}].", i);
    const std::string_view prefix(prefix_buffer.data(), written.out - prefix_buffer.data());
    try {
      read_item(element, prefix, false, item);
    } catch (const ApiError& error) {
      item = PredictItem{};
      item.error = error;
      // Echo the item's customer_id in its error (PredictBatchResponse), when it is a string.
      if (element.is_object()) {
        const auto id = element.find("customer_id");
        if (id.is_string() && id.string().size() <= kMaxCustomerIdLength) {
          item.customer_id = std::string(id.string());
        }
      }
    }
  });
  return request;
}

}  // namespace

PredictRequest read_predict_request(json::Value body, std::size_t max_batch) {
  if (!body.is_object()) {
    throw ApiError(errors::kInvalidType, "", "the body must be a JSON object");
  }
  if (const auto batch = body.find("customers"); batch.found()) {
    return read_batch(body, batch, max_batch);
  }
  PredictRequest request;
  request.items.resize(1);
  read_item(body, "", true, request.items[0]);
  return request;
}

void write_model_summary(json::Writer& writer, const models::ChurnModel& model) {
  writer.raw(model.summary_json());
}

void write_prediction(json::Writer& writer, const models::ChurnModel& model,
                      const models::Prediction& prediction, const features::RawCustomer& customer,
                      std::string_view customer_id, const segments::SegmentModel* segments) {
  // Members in byte order of their names, as the API has always written them.
  writer.begin_object();
  if (!customer_id.empty()) writer.member("customer_id", customer_id);
  if (!prediction.imputed.empty()) {
    writer.key("imputed");
    writer.begin_array();
    for (const auto field : prediction.imputed)
      writer.string(features::store_field(field).api_name);
    writer.end_array();
  }
  writer.member("label", prediction.label);
  writer.key("model");
  write_model_summary(writer, model);
  writer.member("probability", prediction.probability);
  writer.key("reasons");
  writer.begin_array();
  for (const auto& reason : prediction.reasons) {
    const auto& field = features::store_field(reason.field);
    writer.begin_object();
    writer.member("contribution", reason.contribution);
    writer.member("direction", reason.contribution >= 0 ? "raises_risk" : "lowers_risk");
    writer.member("feature", field.api_name);
    writer.key("value");
    // An imputed field has no raw value: the reason then says null.
    if (customer.has(field.id)) {
      features::write_field_value(writer, customer, field);
    } else {
      writer.null();
    }
    writer.end_object();
  }
  writer.end_array();
  writer.member("risk_band", std::string_view(prediction.risk_band->name));
  std::optional<segments::Assignment> assignment;
  if (segments != nullptr) {
    assignment = segments->assign(prediction.probability, customer);
    writer.key("segment");
    write_segment(writer, *segments, *assignment->segment);
  }
  writer.key("threshold");
  writer.raw(model.threshold_json());
  if (assignment) {
    writer.key("value_at_risk");
    if (assignment->value_at_risk) {
      writer.number(*assignment->value_at_risk);
    } else {
      writer.null();
    }
  }
  writer.end_object();
}

void write_logged_input(json::Writer& writer, const PredictItem& item) {
  writer.begin_object();
  if (!item.customer_id.empty()) writer.member("customer_id", item.customer_id);
  if (item.customer) {
    writer.key("features");
    features::write_customer(writer, *item.customer);
  }
  if (item.from_store) writer.member("features_source", "store");
  writer.end_object();
}

}  // namespace nbo::api
