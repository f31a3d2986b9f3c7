#include "nbo/train/training_set.hpp"

#include <stdexcept>

#include <fmt/format.h>

namespace nbo::train {

void check_training_set(std::string_view fitter, const Eigen::MatrixXd& x,
                        const Eigen::VectorXd& y, const std::vector<std::string>& columns,
                        bool require_both_classes) {
  if (y.size() != x.rows()) {
    throw std::invalid_argument(
        fmt::format("{}: {} feature rows but {} labels", fitter, x.rows(), y.size()));
  }
  if (static_cast<std::size_t>(x.cols()) != columns.size()) {
    throw std::invalid_argument(fmt::format("{}: {} feature columns but {} column names", fitter,
                                            x.cols(), columns.size()));
  }
  if (!x.allFinite()) throw std::invalid_argument(fmt::format("{}: features must be finite", fitter));
  bool seen[2] = {false, false};
  for (Eigen::Index i = 0; i < y.size(); ++i) {
    if (y(i) != 0.0 && y(i) != 1.0) {
      throw std::invalid_argument(fmt::format("{}: label of row {} must be 0 or 1", fitter, i));
    }
    seen[y(i) == 1.0 ? 1 : 0] = true;
  }
  if (require_both_classes && (!seen[0] || !seen[1])) {
    throw std::invalid_argument(fmt::format("{}: needs samples of both classes", fitter));
  }
}

}  // namespace nbo::train
