// The checks every estimator fitter makes on its training set (design matrix, labels, column
// names), in one place so the fitters agree on what a valid training set is.
//
// Thread safety: pure function. Failure: std::invalid_argument, the message prefixed by `fitter`
// ("SVC fit: label of row 7 must be 0 or 1").
#pragma once

#include <Eigen/Dense>
#include <string>
#include <string_view>
#include <vector>

namespace nbo::train {

// One 0/1 label per row, one name per column, finite features; both labels present when
// `require_both_classes`.
void check_training_set(std::string_view fitter, const Eigen::MatrixXd& x,
                        const Eigen::VectorXd& y, const std::vector<std::string>& columns,
                        bool require_both_classes);

}  // namespace nbo::train
