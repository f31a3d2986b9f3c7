// fit_svc: the native margin reproduces libsvm's own decision values (sign fixed towards label
// 1 whichever label libsvm met first), the fit separates an easy problem, it is deterministic,
// and it rejects bad input.
#include "nbo/train/svc_fit.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <libsvm/svm.h>
#include <nlohmann/json.hpp>

#include "synthetic_data.hpp"

namespace nbo::train {
namespace {

using test::Dataset;
using test::uniform;

// `n` rows of `d` >= 2 columns uniform in [-2, 2); label 1 inside the circle x0^2 + x1^2 < 1.5
// (not linearly separable), flipped with probability `noise`.
Dataset circle(int n, int d, double noise, std::uint64_t seed) {
  std::mt19937_64 generator(seed);
  Dataset data{Eigen::MatrixXd(n, d), Eigen::VectorXd(n)};
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < d; ++j) data.x(i, j) = 4.0 * uniform(generator) - 2.0;
    const bool inside = data.x(i, 0) * data.x(i, 0) + data.x(i, 1) * data.x(i, 1) < 1.5;
    const bool flip = uniform(generator) < noise;
    data.y(i) = inside != flip ? 1.0 : 0.0;
  }
  return data;
}

// Moves the first row with label `label` to the front (swapping), so libsvm meets it first.
void put_first(Dataset& data, double label) {
  for (Eigen::Index i = 0; i < data.y.size(); ++i) {
    if (data.y(i) == label) {
      data.x.row(0).swap(data.x.row(i));
      std::swap(data.y(0), data.y(i));
      return;
    }
  }
}

std::vector<std::string> column_names(Eigen::Index d) {
  std::vector<std::string> names;
  for (Eigen::Index j = 0; j < d; ++j) names.push_back("f" + std::to_string(j));
  return names;
}

std::vector<svm_node> to_nodes(const Eigen::RowVectorXd& row) {
  std::vector<svm_node> nodes;
  for (Eigen::Index j = 0; j < row.size(); ++j) nodes.push_back({static_cast<int>(j + 1), row(j)});
  nodes.push_back({-1, 0.0});
  return nodes;
}

// libsvm's decision values on `test` for a model trained directly with libsvm on `train` with
// the parameters fit_svc documents.
std::vector<double> libsvm_decision_values(const Dataset& train, const Eigen::MatrixXd& test,
                                           const SvcParams& params) {
  std::vector<std::vector<svm_node>> rows;
  std::vector<svm_node*> pointers;
  std::vector<double> labels(train.y.data(), train.y.data() + train.y.size());
  for (Eigen::Index i = 0; i < train.x.rows(); ++i) rows.push_back(to_nodes(train.x.row(i)));
  for (auto& row : rows) pointers.push_back(row.data());
  svm_problem problem{static_cast<int>(rows.size()), labels.data(), pointers.data()};
  svm_parameter parameter{};
  parameter.svm_type = C_SVC;
  parameter.kernel_type = RBF;
  parameter.gamma = params.gamma;
  parameter.C = params.c;
  parameter.cache_size = 100;
  parameter.eps = 1e-3;
  parameter.shrinking = 1;
  parameter.probability = 0;
  svm_model* model = svm_train(&problem, &parameter);
  std::vector<double> values;
  for (Eigen::Index i = 0; i < test.rows(); ++i) {
    const auto nodes = to_nodes(test.row(i));
    double value = 0.0;
    svm_predict_values(model, nodes.data(), &value);
    values.push_back(value);
  }
  svm_free_and_destroy_model(&model);
  return values;
}

std::vector<double> margins(const models::Estimator& model, const Eigen::MatrixXd& x) {
  std::vector<double> out;
  for (Eigen::Index i = 0; i < x.rows(); ++i) {
    const Eigen::RowVectorXd row = x.row(i);
    out.push_back(model.margin(std::span<const double>(row.data(), row.size())));
  }
  return out;
}

TEST(SvcFitTest, MarginEqualsLibsvmDecisionValueTowardsLabelOne) {
  const SvcParams params{.c = 2.0, .gamma = 0.3};
  const Dataset held_out = circle(200, 4, 0.0, 11);
  // libsvm's decision value is positive towards the label it met first: with 0 first the native
  // margin is its negation, with 1 first it is the same.
  for (const double first : {0.0, 1.0}) {
    Dataset train = circle(300, 4, 0.05, 5);
    put_first(train, first);
    ASSERT_EQ(train.y(0), first);
    const auto model = fit_svc(train.x, train.y, column_names(4), params);
    ASSERT_GT(model->support_vector_count(), 0u);
    EXPECT_EQ(model->gamma(), 0.3);
    const auto native = margins(*model, held_out.x);
    const auto reference = libsvm_decision_values(train, held_out.x, params);
    const double sign = first == 1.0 ? 1.0 : -1.0;
    int disagreements = 0;
    for (std::size_t i = 0; i < native.size(); ++i) {
      EXPECT_NEAR(native[i], sign * reference[i], 1e-9) << "first label " << first << ", row " << i;
      disagreements += (native[i] > 0) != (held_out.y(static_cast<Eigen::Index>(i)) == 1.0);
    }
    EXPECT_LT(disagreements, 20) << "first label " << first;
  }
}

TEST(SvcFitTest, SeparatesAnEasyProblem) {
  const Dataset train = circle(400, 3, 0.0, 21);
  const Dataset test = circle(400, 3, 0.0, 22);
  const auto model = fit_svc(train.x, train.y, column_names(3), {.c = 10.0, .gamma = 0.5});
  int train_errors = 0;
  int test_errors = 0;
  const auto train_margins = margins(*model, train.x);
  const auto test_margins = margins(*model, test.x);
  for (Eigen::Index i = 0; i < 400; ++i) {
    train_errors += (train_margins[i] > 0) != (train.y(i) == 1.0);
    test_errors += (test_margins[i] > 0) != (test.y(i) == 1.0);
  }
  EXPECT_LE(train_errors, 8);  // 2%
  EXPECT_LE(test_errors, 20);  // 5%
  // Well inside the circle is positive, far outside negative.
  EXPECT_GT(model->margin(std::vector<double>{0.0, 0.0, 0.0}), 0.5);
  EXPECT_LT(model->margin(std::vector<double>{1.9, 1.9, 0.0}), -0.5);
}

TEST(SvcFitTest, ContributionsAndBaselineSumToTheMargin) {
  const Dataset train = circle(200, 5, 0.05, 31);
  const auto model = fit_svc(train.x, train.y, column_names(5), {});
  // Column means are the training means.
  const auto written = model->to_json();
  for (Eigen::Index j = 0; j < 5; ++j) {
    EXPECT_NEAR(written["column_means"][static_cast<std::size_t>(j)].get<double>(),
                train.x.col(j).mean(), 1e-12);
  }
  std::vector<double> out(5);
  for (Eigen::Index i = 0; i < 10; ++i) {
    const Eigen::RowVectorXd row = train.x.row(i);
    const std::span<const double> view(row.data(), row.size());
    const double baseline = model->contributions(view, out);
    double sum = baseline;
    for (const double value : out) sum += value;
    EXPECT_NEAR(sum, model->margin(view), 1e-12);
  }
}

TEST(SvcFitTest, IsDeterministic) {
  const Dataset train = circle(250, 4, 0.1, 41);
  const auto first = fit_svc(train.x, train.y, column_names(4), {});
  const auto second = fit_svc(train.x, train.y, column_names(4), {});
  EXPECT_EQ(first->to_json(), second->to_json());
}

TEST(SvcFitTest, RejectsBadInput) {
  const Dataset train = circle(50, 2, 0.0, 51);
  const auto names = column_names(2);
  EXPECT_THROW(fit_svc(train.x, train.y.head(49), names, {}), std::invalid_argument);
  EXPECT_THROW(fit_svc(train.x, train.y, column_names(3), {}), std::invalid_argument);
  EXPECT_THROW(fit_svc(train.x, train.y, names, {.c = 0.0}), std::invalid_argument);
  EXPECT_THROW(fit_svc(train.x, train.y, names, {.gamma = -1.0}), std::invalid_argument);
  EXPECT_THROW(fit_svc(train.x, Eigen::VectorXd::Ones(50), names, {}), std::invalid_argument);
  Eigen::VectorXd bad_labels = train.y;
  bad_labels(3) = 2.0;
  EXPECT_THROW(fit_svc(train.x, bad_labels, names, {}), std::invalid_argument);
  Eigen::MatrixXd bad_x = train.x;
  bad_x(4, 1) = NAN;
  EXPECT_THROW(fit_svc(bad_x, train.y, names, {}), std::invalid_argument);
}

}  // namespace
}  // namespace nbo::train
