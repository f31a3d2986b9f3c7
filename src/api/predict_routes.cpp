// The churn area's route: POST /predict (the shared machinery is scoring_route.cpp). With
// segments loaded, each answer also carries the customer's segment and value at risk.
#include "nbo/api/predict_io.hpp"
#include "nbo/models/registry.hpp"
#include "service_context.hpp"

namespace nbo::api {

void add_predict_routes(RouteTable& table, const ServiceContext& context) {
  add_scoring_route(table, context,
                    {.path = "/predict",
                     .summary = "score one customer or a batch",
                     .metric_name = "nbo_predictions_total",
                     .metric_help = "Customers scored, by outcome",
                     .explain = true,
                     .needs_segments = false,
                     .write_item =
                         [](json::Writer& writer, const models::ModelSet& set,
                            const models::Prediction& prediction, const PredictItem& item) {
                           write_prediction(writer, *set.churn, prediction, *item.customer,
                                            item.customer_id, set.segments.get());
                         },
                     .write_model =
                         [](json::Writer& writer, const models::ModelSet& set) {
                           write_model_summary(writer, *set.churn);
                         }});
}

}  // namespace nbo::api
