#include "nbo/train/candidate_families.hpp"

#include <fmt/format.h>

#include "nbo/models/estimator.hpp"
#include "nbo/train/logistic_fit.hpp"

namespace nbo::train {
namespace {

std::unique_ptr<const models::Estimator> linear_estimator(const std::vector<std::string>& columns,
                                                          const LogisticFit& fit) {
  return std::make_unique<models::LogisticRegression>(
      columns, std::vector<double>(fit.weights.data(), fit.weights.data() + fit.weights.size()),
      fit.intercept);
}

std::vector<HyperparameterPoint> c_grid(std::initializer_list<double> values) {
  std::vector<HyperparameterPoint> grid;
  for (const double c : values) grid.push_back({fmt::format("C={}", c), {{"C", c}}});
  return grid;
}

}  // namespace

std::vector<ModelFamily> churn_model_families(std::uint64_t /*seed*/) {
  std::vector<ModelFamily> families;
  families.push_back(
      {"logistic_l1", "exact: weight x standardized value, per column, summed per field",
       c_grid({0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0}),
       [](const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
          const std::vector<std::string>& columns, const nlohmann::json& values) {
         const auto fit = fit_logistic_l1(x, y, {.c = values.at("C").get<double>(), .tolerance = 1e-8});
         return linear_estimator(columns, fit);
       }});
  families.push_back(
      {"logistic_l2", "exact: weight x standardized value, per column, summed per field",
       c_grid({0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0}),
       [](const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
          const std::vector<std::string>& columns, const nlohmann::json& values) {
         const auto fit = fit_logistic_l2(x, y, {.c = values.at("C").get<double>()});
         return linear_estimator(columns, fit);
       }});
  return families;
}

}  // namespace nbo::train
