// How near the kernel-neighbours estimator's scores are to their definition in double precision.
// Its product pass and its explanations' passes weigh the reference rows in single precision
// (src/models/kernel_sums.hpp): each weight within about 1.2e-7 per lookup of the double product
// (relative; 2e-6 for the store's 14), each label's sum within a few 1e-7 more. A margin is the log
// of a ratio of two such sums, a contribution the difference of two margins, a baseline the margin
// less every contribution. The rounding errors mostly cancel: over 3 000 random models and 24 000
// queries of kernel_neighbors_random_test.cpp the largest differences were about a fifth of these.
#pragma once

namespace nbo::models::test {

inline constexpr double kKernelMarginTolerance = 1e-6;
inline constexpr double kKernelContributionTolerance = 2e-6;
inline constexpr double kKernelBaselineTolerance = 1e-5;

}  // namespace nbo::models::test
