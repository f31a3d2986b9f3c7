#include "nbo/train/svc_fit.hpp"
#include "nbo/train/training_set.hpp"

#include <cmath>
#include <mutex>
#include <stdexcept>

#include <fmt/format.h>
#include <libsvm/svm.h>

namespace nbo::train {
namespace {

void discard_libsvm_output(const char* /*text*/) {}

struct ModelDeleter {
  void operator()(svm_model* model) const { svm_free_and_destroy_model(&model); }
};

void check_inputs(const Eigen::MatrixXd& x, const Eigen::VectorXd& y,
                  const std::vector<std::string>& columns, const SvcParams& params) {
  check_training_set("SVC fit", x, y, columns, /*require_both_classes=*/true);
  if (!std::isfinite(params.c) || !(params.c > 0)) {
    throw std::invalid_argument("SVC fit: C must be finite and > 0");
  }
  if (!std::isfinite(params.gamma) || !(params.gamma > 0)) {
    throw std::invalid_argument("SVC fit: gamma must be finite and > 0");
  }
}

}  // namespace

std::unique_ptr<const models::SupportVectorClassifier> fit_svc(
    const Eigen::MatrixXd& x, const Eigen::VectorXd& y, const std::vector<std::string>& columns,
    const SvcParams& params) {
  check_inputs(x, y, columns, params);
  const auto rows = static_cast<std::size_t>(x.rows());
  const auto cols = static_cast<std::size_t>(x.cols());

  // The problem: every value stored (dense), 1-based indices, each row ended by index -1.
  // libsvm's model points into `nodes`, so they are declared first and outlive the model.
  std::vector<svm_node> nodes(rows * (cols + 1));
  std::vector<svm_node*> row_pointers(rows);
  std::vector<double> labels(rows);
  for (std::size_t i = 0; i < rows; ++i) {
    svm_node* row = nodes.data() + i * (cols + 1);
    for (std::size_t j = 0; j < cols; ++j) {
      row[j] = {static_cast<int>(j + 1),
                x(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j))};
    }
    row[cols] = {-1, 0.0};
    row_pointers[i] = row;
    labels[i] = y(static_cast<Eigen::Index>(i));
  }
  svm_problem problem{};
  problem.l = static_cast<int>(rows);
  problem.y = labels.data();
  problem.x = row_pointers.data();

  svm_parameter parameter{};
  parameter.svm_type = C_SVC;
  parameter.kernel_type = RBF;
  parameter.degree = 3;
  parameter.gamma = params.gamma;
  parameter.coef0 = 0.0;
  parameter.cache_size = 100.0;  // MB
  parameter.eps = 1e-3;
  parameter.C = params.c;
  parameter.nr_weight = 0;
  parameter.weight_label = nullptr;
  parameter.weight = nullptr;
  parameter.nu = 0.5;
  parameter.p = 0.1;
  parameter.shrinking = 1;
  parameter.probability = 0;
  if (const char* error = svm_check_parameter(&problem, &parameter); error != nullptr) {
    throw std::invalid_argument(fmt::format("SVC fit: libsvm rejects the parameters: {}", error));
  }

  static std::once_flag silence_once;
  std::call_once(silence_once, [] { svm_set_print_string_function(&discard_libsvm_output); });
  const std::unique_ptr<svm_model, ModelDeleter> model(svm_train(&problem, &parameter));
  if (model == nullptr || svm_get_nr_class(model.get()) != 2) {
    throw std::runtime_error("SVC fit: libsvm did not return a two-class model");
  }

  // libsvm's decision value sum_i sv_coef[0][i] K(x, SV_i) - rho[0] is positive towards
  // label[0], the label it met first in `y`; flip so that positive means label 1.
  int model_labels[2] = {0, 0};
  svm_get_labels(model.get(), model_labels);
  const double sign = model_labels[0] == 1 ? 1.0 : -1.0;
  const auto count = static_cast<std::size_t>(svm_get_nr_sv(model.get()));
  std::vector<double> support_vectors(count * cols, 0.0);
  std::vector<double> coefficients(count);
  for (std::size_t i = 0; i < count; ++i) {
    coefficients[i] = sign * model->sv_coef[0][i];
    for (const svm_node* node = model->SV[i]; node->index != -1; ++node) {
      support_vectors[i * cols + static_cast<std::size_t>(node->index - 1)] = node->value;
    }
  }
  const double bias = -sign * model->rho[0];

  std::vector<double> means(cols);
  for (std::size_t j = 0; j < cols; ++j) means[j] = x.col(static_cast<Eigen::Index>(j)).mean();
  return std::make_unique<models::SupportVectorClassifier>(columns, std::move(support_vectors),
                                                           std::move(coefficients), bias,
                                                           params.gamma, std::move(means));
}

}  // namespace nbo::train
