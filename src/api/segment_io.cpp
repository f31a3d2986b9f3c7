#include "nbo/api/segment_io.hpp"

#include <cmath>

namespace nbo::api {

void write_segment(json::Writer& writer, const segments::SegmentModel& model,
                   const segments::Segment& segment) {
  writer.raw(model.summary_json(segment));
}

void write_segment_model_summary(json::Writer& writer, const models::ChurnModel& churn,
                                 const segments::SegmentModel& segments) {
  writer.begin_object();
  writer.member("name", churn.metadata().name);
  writer.member("segments_version", segments.metadata().version);
  writer.member("version", churn.metadata().version);
  writer.end_object();
}

void write_segment_answer(json::Writer& writer, const models::ChurnModel& churn,
                          const segments::SegmentModel& segments, double probability,
                          const features::RawCustomer& customer, std::string_view customer_id) {
  const segments::Assignment assignment = segments.assign(probability, customer);
  writer.begin_object();
  if (!customer_id.empty()) writer.member("customer_id", customer_id);
  writer.key("model");
  write_segment_model_summary(writer, churn, segments);
  writer.member("probability", probability);
  writer.key("profit");
  if (customer.has(features::FieldId::kProfit)) {
    writer.number(customer.number(features::FieldId::kProfit));
  } else {
    writer.null();
  }
  writer.key("segment");
  write_segment(writer, segments, *assignment.segment);
  writer.key("value_at_risk");
  if (assignment.value_at_risk) {
    writer.number(*assignment.value_at_risk);
  } else {
    writer.null();
  }
  writer.end_object();
}

std::string segments_key(const models::ChurnModel& churn, const segments::SegmentModel& segments) {
  return churn.metadata().version + "+" + segments.metadata().version;
}

std::optional<store::CustomerSegment> customer_segment(const models::ChurnModel& churn,
                                                       const segments::SegmentModel& segments,
                                                       double probability,
                                                       const features::RawCustomer& customer) {
  if (!std::isfinite(probability)) return std::nullopt;
  const segments::Assignment assignment = segments.assign(probability, customer);
  store::CustomerSegment row;
  row.scored_by = segments_key(churn, segments);
  row.segment_id = assignment.segment->id;
  row.probability = probability;
  if (customer.has(features::FieldId::kProfit)) {
    row.profit = customer.number(features::FieldId::kProfit);
  }
  row.value_at_risk = assignment.value_at_risk;
  if (customer.has(features::FieldId::kAllowMessages)) {
    row.allow_messages = customer.boolean(features::FieldId::kAllowMessages);
  }
  return row;
}

}  // namespace nbo::api
