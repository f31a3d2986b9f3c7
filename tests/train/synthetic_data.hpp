// Helpers for the fitters' tests, which draw their own small seeded data sets.
#pragma once

#include <cstdint>
#include <random>

#include <Eigen/Dense>

namespace nbo::train::test {

// Uniform in [0, 1) from the raw generator output (std distributions are implementation-defined,
// so the data would differ between standard libraries).
inline double uniform(std::mt19937_64& generator) {
  return static_cast<double>(generator() >> 11) * 0x1.0p-53;
}

// Samples as rows of `x`, 0/1 labels in `y`.
struct Dataset {
  Eigen::MatrixXd x;
  Eigen::VectorXd y;
};

}  // namespace nbo::train::test
