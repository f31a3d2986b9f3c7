// The segments' answers at the edge: how a customer's segment, value at risk and actions are
// written in POST /segment, POST /predict and the campaign lists (src/api/segment_routes.cpp).
//
// Thread safety: pure functions over their arguments.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "nbo/features/customer.hpp"
#include "nbo/json/writer.hpp"
#include "nbo/models/churn_model.hpp"
#include "nbo/segments/segment_model.hpp"
#include "nbo/store/customer_store.hpp"

namespace nbo::api {

// {"actions": [{"description", "id", "title"}], "id", "name"} of one segment.
void write_segment(json::Writer& writer, const segments::SegmentModel& model,
                   const segments::Segment& segment);

// {"name", "segments_version", "version"}: the churn model and the segments that answered.
void write_segment_model_summary(json::Writer& writer, const models::ChurnModel& churn,
                                 const segments::SegmentModel& segments);

// One customer as POST /segment answers it: {"customer_id"?, "model", "probability", "profit"
// (null when unknown), "segment", "value_at_risk" (null without profit)}.
void write_segment_answer(json::Writer& writer, const models::ChurnModel& churn,
                          const segments::SegmentModel& segments, double probability,
                          const features::RawCustomer& customer, std::string_view customer_id);

// The key of the model set that computes segments ("<churn version>+<segments version>"), as
// stored in customer_segments.scored_by.
std::string segments_key(const models::ChurnModel& churn, const segments::SegmentModel& segments);

// The customer_segments row of one customer; nullopt when the probability is not a finite number
// (an input far outside what the model was trained on), which no list can rank.
std::optional<store::CustomerSegment> customer_segment(const models::ChurnModel& churn,
                                                       const segments::SegmentModel& segments,
                                                       double probability,
                                                       const features::RawCustomer& customer);

}  // namespace nbo::api
