// The candidate model families of the churn trainer, with their hyperparameter grids, and how
// each explains a prediction. Grids are small on purpose: nested cross-validation fits every
// point inner_folds times per outer fold, and full training must stay under a minute on two
// cores (bench/bench_training.cpp measures it).
//
// Thread safety: the returned families' fit functions are reentrant.
#pragma once

#include <vector>

#include "nbo/train/model_selection.hpp"

namespace nbo::train {

// Every family, in report order: logistic_l1, logistic_l2, k_nearest_neighbors, kernel_neighbors,
// decision_tree, support_vector, gradient_boosting, random_forest.
// `seed` feeds the randomized ones.
std::vector<ModelFamily> churn_model_families(std::uint64_t seed);

}  // namespace nbo::train
