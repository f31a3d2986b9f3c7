// POST /predict at the edge: the typed reader of its request bodies and the direct writer of its
// answers. The handler (src/api/predict_routes.cpp) and bench/bench_scoring.cpp share them, so
// the bench measures exactly what the server does.
//
// Request shapes: one customer {"customer_id"?, "features"?} (at least one of the two), or a
// batch {"customers": [ ...such objects... ]}. Errors name the JSON path of the offending field
// ("features.promo_share", "customers[3].features.tenure_days"). Within one object the first
// problem in the text's order is reported.
//
// Thread safety: pure functions over their arguments.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nbo/api/errors.hpp"
#include "nbo/features/customer.hpp"
#include "nbo/json/document.hpp"
#include "nbo/json/writer.hpp"
#include "nbo/models/churn_model.hpp"
#include "nbo/segments/segment_model.hpp"

namespace nbo::api {

struct PredictItem {
  std::string customer_id;                        // "" when not given
  std::optional<features::RawCustomer> customer;  // from the request, or later from the store
  bool from_store = false;                        // customer was read from the store
  std::optional<ApiError> error;                  // set: this item is answered with its error
};

struct PredictRequest {
  bool batch = false;
  std::vector<PredictItem> items;  // one item unless batch
};

// Reads a parsed /predict body. Throws ApiError for what fails the whole request: a body that
// is not an object, a single customer with an invalid field, a malformed `customers` array,
// more than `max_batch` items (413 batch_too_large). An invalid batch item does not throw: it
// gets its own error, and its customer_id when that is a string (to echo it back).
PredictRequest read_predict_request(json::Value body, std::size_t max_batch);

// {"name", "version"} of the model.
void write_model_summary(json::Writer& writer, const models::ChurnModel& model);

// One prediction, as POST /predict answers it: {"customer_id"?, "imputed"?, "label", "model",
// "probability", "reasons": [{"contribution", "direction", "feature", "value"}], "risk_band",
// "threshold"}. A reason's value is the customer's raw value of that field (null when imputed).
// With `segments` (loaded segments), also "segment" (see segment_io.hpp) and "value_at_risk"
// (probability x profit, null when the customer has no profit).
void write_prediction(json::Writer& writer, const models::ChurnModel& model,
                      const models::Prediction& prediction, const features::RawCustomer& customer,
                      std::string_view customer_id,
                      const segments::SegmentModel* segments = nullptr);

// What the request log keeps as an item's input: {"customer_id"?, "features": the customer's
// fields (normalized), "features_source": "store" when read from the store}.
void write_logged_input(json::Writer& writer, const PredictItem& item);

}  // namespace nbo::api
