#include "nbo/train/candidate_families.hpp"

#include <fmt/format.h>

#include "nbo/models/estimator.hpp"
#include "nbo/train/decision_tree_fit.hpp"
#include "nbo/train/knn_fit.hpp"
#include "nbo/train/logistic_fit.hpp"
#include "nbo/train/svc_fit.hpp"
#include "nbo/train/xgboost_fit.hpp"

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

std::vector<ModelFamily> churn_model_families(std::uint64_t seed) {
  std::vector<ModelFamily> families;
  families.push_back(
      {"logistic_l1", "exact: weight x standardized value, per column, summed per field",
       c_grid({0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0}),
       [](const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
          const std::vector<std::string>& columns, const nlohmann::json& values) {
         const auto fit =
             fit_logistic_l1(x, y, {.c = values.at("C").get<double>(), .tolerance = 1e-8});
         return linear_estimator(columns, fit);
       }});
  families.push_back({"logistic_l2",
                      "exact: weight x standardized value, per column, summed per field",
                      c_grid({0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0}),
                      [](const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                         const std::vector<std::string>& columns, const nlohmann::json& values) {
                        const auto fit = fit_logistic_l2(x, y, {.c = values.at("C").get<double>()});
                        return linear_estimator(columns, fit);
                      }});
  {
    std::vector<HyperparameterPoint> grid;
    // Column weights: none, or by each column's own ROC-AUC (square root or linear); see
    // KnnColumnWeighting.
    for (const int k : {20, 35, 50}) {
      for (const char* weighting : {"uniform", "distance"}) {
        for (const double power : {0.0, 0.5, 1.0}) {
          grid.push_back({power == 0.0 ? fmt::format("k={} {}", k, weighting)
                                       : fmt::format("k={} {} auc-weights^{}", k, weighting, power),
                          {{"k", k}, {"weighting", weighting}, {"column_weight_power", power}}});
        }
      }
    }
    families.push_back(
        {"k_nearest_neighbors",
         "approximate: per column, the change in log-odds when that column is set to its training "
         "mean (occlusion); not additive",
         std::move(grid),
         [](const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
            const std::vector<std::string>& columns, const nlohmann::json& values) {
           KnnParams params;
           params.k = values.at("k").get<int>();
           params.weighting = values.at("weighting") == "distance"
                                  ? models::NearestNeighbors::Weighting::kDistance
                                  : models::NearestNeighbors::Weighting::kUniform;
           const double power = values.at("column_weight_power").get<double>();
           if (power > 0.0) {
             params.column_weighting = KnnColumnWeighting::kUnivariateAuc;
             params.weight_power = power;
           }
           return std::unique_ptr<const models::Estimator>(
               fit_nearest_neighbors(x, y, columns, params));
         }});
  }
  {
    std::vector<HyperparameterPoint> grid;
    // Every customer votes, weighted by a Gaussian kernel of the distance (models/
    // kernel_neighbors.hpp). Column weights by each column's own ROC-AUC, as the k-NN's; gamma:
    // how fast a vote fades with distance.
    for (const double gamma : {0.5, 1.0, 2.0}) {
      for (const double power : {0.5, 1.0}) {
        grid.push_back({fmt::format("gamma={} auc-weights^{}", gamma, power),
                        {{"gamma", gamma}, {"prior", 0.5}, {"column_weight_power", power}}});
      }
    }
    families.push_back(
        {"kernel_neighbors",
         "approximate: per field, the change in log-odds when that field is set to its training "
         "mean (occlusion); not additive",
         std::move(grid),
         [](const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
            const std::vector<std::string>& columns, const nlohmann::json& values) {
           KernelNeighborsParams params;
           params.gamma = values.at("gamma").get<double>();
           params.prior = values.at("prior").get<double>();
           params.weight_power = values.at("column_weight_power").get<double>();
           return std::unique_ptr<const models::Estimator>(
               fit_kernel_neighbors(x, y, columns, params));
         }});
  }
  {
    std::vector<HyperparameterPoint> grid;
    for (const int depth : {3, 4, 5, 6}) {
      for (const int min_leaf : {10, 30}) {
        grid.push_back({fmt::format("depth={} min_leaf={}", depth, min_leaf),
                        {{"max_depth", depth}, {"min_leaf", min_leaf}}});
      }
    }
    families.push_back({"decision_tree", "exact: TreeSHAP (path-dependent, node covers)",
                        std::move(grid),
                        [](const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                           const std::vector<std::string>& columns, const nlohmann::json& values) {
                          return std::unique_ptr<const models::Estimator>(
                              fit_decision_tree(x, y, columns,
                                                {.max_depth = values.at("max_depth").get<int>(),
                                                 .min_leaf = values.at("min_leaf").get<int>()}));
                        }});
  }
  {
    std::vector<HyperparameterPoint> grid;
    for (const double c : {0.3, 1.0, 3.0}) {
      for (const double gamma : {0.01, 0.03, 0.1}) {
        grid.push_back({fmt::format("C={} gamma={}", c, gamma), {{"C", c}, {"gamma", gamma}}});
      }
    }
    families.push_back(
        {"support_vector",
         "approximate: per column, the change in log-odds when that column is set to its training "
         "mean (occlusion); not additive",
         std::move(grid),
         [](const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
            const std::vector<std::string>& columns, const nlohmann::json& values) {
           return std::unique_ptr<const models::Estimator>(fit_svc(
               x, y, columns,
               {.c = values.at("C").get<double>(), .gamma = values.at("gamma").get<double>()}));
         }});
  }
  {
    std::vector<HyperparameterPoint> grid;
    for (const int trees : {100, 300}) {
      for (const int depth : {2, 3}) {
        grid.push_back({fmt::format("trees={} depth={} eta=0.05", trees, depth),
                        {{"trees", trees}, {"max_depth", depth}, {"learning_rate", 0.05}}});
      }
    }
    families.push_back(
        {"gradient_boosting", "exact: TreeSHAP (path-dependent, node covers)", std::move(grid),
         [seed](const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                const std::vector<std::string>& columns, const nlohmann::json& values) {
           XgboostParams params;
           params.mode = "gradient_boosting";
           params.trees = values.at("trees").get<int>();
           params.max_depth = values.at("max_depth").get<int>();
           params.learning_rate = values.at("learning_rate").get<double>();
           params.subsample = 0.8;
           params.seed = seed;
           return std::unique_ptr<const models::Estimator>(fit_xgboost(x, y, columns, params));
         }});
  }
  {
    std::vector<HyperparameterPoint> grid;
    for (const int depth : {6, 10}) {
      grid.push_back({fmt::format("trees=300 depth={} colsample=0.3", depth),
                      {{"trees", 300}, {"max_depth", depth}, {"colsample_bynode", 0.3}}});
    }
    families.push_back(
        {"random_forest", "exact: TreeSHAP (path-dependent, node covers)", std::move(grid),
         [seed](const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                const std::vector<std::string>& columns, const nlohmann::json& values) {
           XgboostParams params;
           params.mode = "random_forest";
           params.trees = values.at("trees").get<int>();
           params.max_depth = values.at("max_depth").get<int>();
           params.subsample = 0.632;
           params.colsample_bynode = values.at("colsample_bynode").get<double>();
           params.min_child_weight = 1.0;
           params.seed = seed;
           return std::unique_ptr<const models::Estimator>(fit_xgboost(x, y, columns, params));
         }});
  }
  return families;
}

}  // namespace nbo::train
