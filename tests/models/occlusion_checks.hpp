// Checks shared by the estimator tests: fast contributions() and explain() against the reference
// definition, occlusion_contributions() (models/estimator.hpp), and a model read back from its
// JSON against the model it was written from.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "nbo/models/estimator.hpp"

namespace nbo::models::test {

// `loaded` (read back from `model`'s JSON) gives the same margins, contributions and baselines as
// `model`, bit for bit, at each of `queries`.
inline void expect_same_scores(const Estimator& loaded, const Estimator& model,
                               const std::vector<std::vector<double>>& queries) {
  std::vector<double> out_model(model.column_count());
  std::vector<double> out_loaded(model.column_count());
  for (const auto& query : queries) {
    EXPECT_EQ(loaded.margin(query), model.margin(query));
    EXPECT_EQ(loaded.contributions(query, out_loaded), model.contributions(query, out_model));
    EXPECT_EQ(out_loaded, out_model);
  }
}

// contributions() and its baseline equal occlusion_contributions() against `means` to 1e-9;
// explain() gives margin() bit for bit and exactly the contributions() values.
inline void expect_occlusion_values(const Estimator& model, const std::vector<double>& means,
                                    const std::vector<double>& query, const std::string& context) {
  std::vector<double> fast(query.size(), -99.0);
  std::vector<double> reference(query.size(), 99.0);
  const double fast_baseline = model.contributions(query, fast);
  const double reference_baseline = occlusion_contributions(model, query, means, reference);
  EXPECT_NEAR(fast_baseline, reference_baseline, 1e-9) << context;
  for (std::size_t j = 0; j < query.size(); ++j) {
    EXPECT_NEAR(fast[j], reference[j], 1e-9) << context << ", column " << j;
  }
  std::vector<double> explained(query.size(), -99.0);
  const auto explanation = model.explain(query, explained);
  EXPECT_EQ(explanation.margin, model.margin(query)) << context;
  EXPECT_EQ(explanation.baseline, fast_baseline) << context;
  EXPECT_EQ(explained, fast) << context;
}

// explain_groups() against group_occlusion_contributions() to 1e-9 (each group occluded as a
// whole), with explain()'s margin bit for bit and a baseline that completes the sum.
inline void expect_group_occlusion_values(const Estimator& model, const std::vector<double>& means,
                                          const std::vector<double>& query,
                                          const std::vector<std::size_t>& group_of,
                                          std::size_t groups, const std::string& context) {
  std::vector<double> fast(groups, -99.0);
  std::vector<double> reference(groups, 99.0);
  const auto explanation = model.explain_groups(query, group_of, fast);
  const double reference_baseline =
      group_occlusion_contributions(model, query, means, group_of, reference);
  EXPECT_EQ(explanation.margin, model.margin(query)) << context;
  EXPECT_NEAR(explanation.baseline, reference_baseline, 1e-9) << context;
  for (std::size_t g = 0; g < groups; ++g) {
    EXPECT_NEAR(fast[g], reference[g], 1e-9) << context << ", group " << g;
  }
}

// For rows with an infinite or NaN value the fast path must give the definition's values bit for
// bit, NaN included. `model` has two columns.
inline void expect_non_finite_rows_take_the_definition(const Estimator& model,
                                                       const std::vector<double>& means) {
  for (const auto& query : std::vector<std::vector<double>>{
           {std::numeric_limits<double>::infinity(), 0.0}, {0.0, std::nan("")}}) {
    std::vector<double> fast(2);
    std::vector<double> reference(2);
    const double fast_baseline = model.contributions(query, fast);
    const double reference_baseline = occlusion_contributions(model, query, means, reference);
    EXPECT_EQ(std::memcmp(&fast_baseline, &reference_baseline, sizeof(double)), 0);
    EXPECT_EQ(std::memcmp(fast.data(), reference.data(), 2 * sizeof(double)), 0);
  }
}

}  // namespace nbo::models::test
