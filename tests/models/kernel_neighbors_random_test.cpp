// KernelNeighbors on random models and rows, against itself and against its definition. The
// model takes a different path for each kind of column (at most 8, 16 or 32 distinct values, more,
// one-hot categories, members no reference row has), for models with and without a column of
// fewer than 8 values, for rows whose products underflow and for non-finite rows; the hand-picked
// cases in kernel_neighbors_test.cpp cover each path, this covers their combinations:
//  - margin(), explain() and explain_groups() give the same bits at every SIMD level, on a fresh
//    thread and again on one whose thread_local scratch other models have left NaN, infinite and
//    far values in;
//  - margins are the definition's (libm's exp, long double sums) to the single-precision
//    weights' error (kernel_tolerances.hpp), and
//    explanations the occlusion definition's (occlusion_contributions() and
//    group_occlusion_contributions() against the reference rows' means).
// The seed is fixed. NBO_KN_RANDOM_MODELS and NBO_KN_RANDOM_SEED in the environment run more
// models, or others; a failure names the seed and the model, with the model file and the row.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernel_tolerances.hpp"
#include "nbo/models/estimator.hpp"
#include "nbo/models/kernel_neighbors.hpp"
#include "nbo/models/simd.hpp"

namespace nbo::models {
namespace {

// The defaults keep the test at about 2 s in the optimized build, 10 s in the sanitizer build.
constexpr std::size_t kModels = 500;
constexpr std::size_t kQueriesPerModel = 8;
constexpr std::uint64_t kSeed = 1;
// Models whose scratch use dirties this thread's buffers before each check.
constexpr std::size_t kDirtyingModels = 4;
// Failures reported in full; the rest are only counted.
constexpr std::size_t kReportedFailures = 10;

std::uint64_t environment_number(const char* name, std::uint64_t fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::strtoull(value, nullptr, 10) : fallback;
}

struct RandomModel {
  std::vector<std::string> names;
  std::vector<double> rows;  // row-major, names.size() values a row
  std::vector<std::uint8_t> labels;
  std::vector<double> weights;
  double gamma = 1.0;
  double prior = 1.0;
  double prior_distance = 0.0;
  // Per column, the values its reference rows were drawn from (queries draw from them too).
  std::vector<std::vector<double>> column_values;

  std::size_t columns() const { return names.size(); }
  KernelNeighbors build() const {
    return KernelNeighbors(names, rows, labels, gamma, prior, prior_distance, weights);
  }
};

std::size_t uniform_index(std::mt19937_64& random, std::size_t n) {
  return std::uniform_int_distribution<std::size_t>(0, n - 1)(random);
}

template <typename T, std::size_t N>
T one_of(std::mt19937_64& random, const T (&choices)[N]) {
  return choices[uniform_index(random, N)];
}

// A model of 1 to 333 rows (about the kernels' blocks of 64 and off them) and 1 to 6 blocks of
// columns: a column drawn from 1 to 32 values or more, or a one-hot category of 2 to 11 members,
// now and then with a member (never the first) that no reference row has. A fifth of the models
// have no column of fewer than 8 values and no category. Labels all 1, all 0 or mixed.
RandomModel random_model(std::mt19937_64& random) {
  RandomModel model;
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const std::size_t rows = one_of(random, {1, 2, 5, 31, 63, 64, 65, 100, 129, 200, 333});
  const bool all_columns_of_8_values_or_more = uniform_index(random, 5) == 0;
  std::vector<std::vector<double>> columns;  // per column, its value in each row
  const std::size_t blocks = 1 + uniform_index(random, 6);
  for (std::size_t block = 0; block < blocks; ++block) {
    if (!all_columns_of_8_values_or_more && uniform_index(random, 3) == 0) {
      const std::size_t members = 2 + uniform_index(random, 10);
      const std::size_t absent = uniform_index(random, 3) == 0
                                     ? 1 + uniform_index(random, members - 1)
                                     : members;  // members: none absent
      std::vector<std::vector<double>> one_hot(members, std::vector<double>(rows, 0.0));
      for (std::size_t i = 0; i < rows; ++i) {
        std::size_t member = uniform_index(random, members);
        while (member == absent) member = uniform_index(random, members);
        one_hot[member][i] = 1.0;
      }
      for (auto& column : one_hot) {
        columns.push_back(std::move(column));
        model.column_values.push_back({0.0, 1.0});
      }
      continue;
    }
    std::size_t count = one_of(random, {1, 2, 3, 5, 7, 8, 9, 16, 17, 32, 2, 4, 12, 20, 300});
    if (all_columns_of_8_values_or_more && count < 8) count = 8 + uniform_index(random, 25);
    if (uniform_index(random, 12) == 0) count = 300;  // no table: an exp per row
    const double scale = std::pow(10.0, static_cast<double>(uniform_index(random, 5)) - 2.0);
    const bool evenly_spaced = uniform_index(random, 2) == 0;
    std::vector<double> values(count);
    for (std::size_t v = 0; v < count; ++v) {
      values[v] = evenly_spaced ? static_cast<double>(v) * scale
                                : std::normal_distribution<double>(0.0, scale)(random);
    }
    std::vector<double> column(rows);
    for (double& value : column) value = values[uniform_index(random, count)];
    columns.push_back(std::move(column));
    model.column_values.push_back(std::move(values));
  }
  const std::size_t width = columns.size();
  for (std::size_t j = 0; j < width; ++j) model.names.push_back(fmt::format("c{}", j));
  model.rows.resize(rows * width);
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = 0; j < width; ++j) model.rows[i * width + j] = columns[j][i];
  }
  const std::size_t labelling = uniform_index(random, 6);
  for (std::size_t i = 0; i < rows; ++i) {
    model.labels.push_back(labelling == 0   ? 1
                           : labelling == 1 ? 0
                                            : static_cast<std::uint8_t>(uniform_index(random, 2)));
  }
  for (std::size_t j = 0; j < width; ++j) {
    const std::size_t kind = uniform_index(random, 6);
    model.weights.push_back(kind == 0            ? 1.0
                            : kind == 1          ? 0.5
                            : kind == 2          ? 2.0
                            : kind == 3 && j > 0 ? 0.0  // the first column keeps a weight
                                                 : 0.1 + 3.0 * unit(random));
  }
  model.gamma = one_of(random, {0.5, 1.0, 2.0, 0.05, 7.3});
  model.prior = 0.05 + 2.0 * unit(random);
  model.prior_distance =
      uniform_index(random, 4) == 0 ? 0.0 : std::pow(10.0, 5.0 * unit(random) - 2.0);
  return model;
}

// A reference row, a combination of the columns' values, a row near a reference row, one far
// from them all, or normal values of any scale; one in twelve with a NaN, an infinity or a value
// whose square overflows in one column.
std::vector<double> random_query(std::mt19937_64& random, const RandomModel& model) {
  const std::size_t width = model.columns();
  const double* reference = model.rows.data() + uniform_index(random, model.labels.size()) * width;
  const std::size_t kind = uniform_index(random, 9);
  std::vector<double> query(width);
  for (std::size_t j = 0; j < width; ++j) {
    const auto& values = model.column_values[j];
    const double value = values[uniform_index(random, values.size())];
    switch (kind) {
      case 0:
        query[j] = reference[j];
        break;
      case 1:
        query[j] = value;
        break;
      case 2:
        query[j] = reference[j] + std::normal_distribution<double>(0.0, 0.3)(random);
        break;
      case 3:
        query[j] = value * (1.0 + 20.0 * static_cast<double>(uniform_index(random, 3))) +
                   3.0 * static_cast<double>(uniform_index(random, 2));
        break;
      case 4: {
        const double scale = std::pow(10.0, static_cast<double>(uniform_index(random, 5)));
        query[j] = std::normal_distribution<double>(0.0, scale)(random);
        break;
      }
      default:
        query[j] = uniform_index(random, 2) == 0 ? reference[j] : value;
    }
  }
  if (uniform_index(random, 12) == 0) {
    constexpr double kInfinity = std::numeric_limits<double>::infinity();
    query[uniform_index(random, width)] =
        one_of(random, {std::nan(""), kInfinity, -kInfinity, 1e150, -1e200, 1e30});
  }
  return query;
}

// The definition, plainly: the distances from the model's weighted rows to the weighted query
// (rounded as the model rounds them), exps relative to min(d_min, prior_distance), and sums in
// long double. The exp is libm's, 0 below e^-708 as the kernel exp's is (a weight that small
// against the nearest row's is none): only with a single label can that decide the margin.
double plain_margin(const RandomModel& model, const std::vector<double>& query) {
  const std::size_t width = model.columns();
  std::vector<double> distances;
  for (std::size_t i = 0; i < model.labels.size(); ++i) {
    double sum = 0.0;
    for (std::size_t j = 0; j < width; ++j) {
      const double difference =
          model.rows[i * width + j] * model.weights[j] - query[j] * model.weights[j];
      sum += difference * difference;
    }
    distances.push_back(sum);
  }
  const long double offset =
      std::min(*std::min_element(distances.begin(), distances.end()), model.prior_distance);
  const auto weight = [&](long double distance) {
    const long double exponent = -model.gamma * (distance - offset);
    return exponent < -708.0L ? 0.0L : std::exp(exponent);
  };
  long double positive = 0.0L;
  long double negative = 0.0L;
  for (std::size_t i = 0; i < distances.size(); ++i) {
    (model.labels[i] == 1 ? positive : negative) += weight(distances[i]);
  }
  const long double pseudo_votes = model.prior * weight(model.prior_distance);
  return static_cast<double>(std::log((positive + pseudo_votes) / (negative + pseudo_votes)));
}

// Everything a query's scoring returns; unset outputs are -77 so that a skipped one shows.
struct Scores {
  double margin = 0.0;
  std::vector<double> contributions;
  Estimator::Explanation explanation{};
  std::vector<double> group_contributions;
  Estimator::Explanation group_explanation{};
};

Scores score(const KernelNeighbors& model, const std::vector<double>& query,
             const std::vector<std::size_t>& group_of, std::size_t groups) {
  Scores scores;
  scores.margin = model.margin(query);
  scores.contributions.assign(query.size(), -77.0);
  scores.explanation = model.explain(query, scores.contributions);
  scores.group_contributions.assign(groups, -77.0);
  scores.group_explanation = model.explain_groups(query, group_of, scores.group_contributions);
  return scores;
}

bool same_bits(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

bool same_bits(const Scores& a, const Scores& b) {
  return same_bits(a.margin, b.margin) && same_bits(a.contributions, b.contributions) &&
         same_bits(a.explanation.margin, b.explanation.margin) &&
         same_bits(a.explanation.baseline, b.explanation.baseline) &&
         same_bits(a.group_contributions, b.group_contributions) &&
         same_bits(a.group_explanation.margin, b.group_explanation.margin) &&
         same_bits(a.group_explanation.baseline, b.group_explanation.baseline);
}

std::string describe(const Scores& scores) {
  return fmt::format(
      "margin {:.17g}, explain() {{{:.17g}, baseline {:.17g}}} [{:.17g}], explain_groups() "
      "{{{:.17g}, baseline {:.17g}}} [{:.17g}]",
      scores.margin, scores.explanation.margin, scores.explanation.baseline,
      fmt::join(scores.contributions, ", "), scores.group_explanation.margin,
      scores.group_explanation.baseline, fmt::join(scores.group_contributions, ", "));
}

// Equal to within `tolerance`, or both NaN, or the same infinity.
bool near(double expected, double actual, double tolerance) {
  return std::abs(expected - actual) <= tolerance || (std::isnan(expected) && std::isnan(actual)) ||
         expected == actual;
}

// Runs `model`'s scratch-using methods on NaN, far and ordinary rows, leaving this thread's
// thread_local buffers as another model's call would.
void dirty_scratch(const KernelNeighbors& model) {
  const std::size_t width = model.column_count();
  std::vector<double> row(width, std::nan(""));
  std::vector<double> out(width);
  model.explain(row, out);
  row.assign(width, 1e6);
  model.margin(row);
  model.explain(row, out);
  row.assign(width, 0.5);
  model.explain(row, out);
}

// Counts failures and reports the first few in full: the model's seed and number, its file (once
// per model) and the query.
class Failures {
 public:
  void add(const std::string& context, const RandomModel& model, const std::string& detail) {
    ++count_;
    if (count_ > kReportedFailures) return;
    std::string model_file;
    if (&model != last_reported_) {
      last_reported_ = &model;
      model_file = "\n  model file: " + model.build().to_json().dump();
    }
    ADD_FAILURE() << context << ": " << detail << model_file;
  }
  std::size_t count() const { return count_; }

 private:
  std::size_t count_ = 0;
  const RandomModel* last_reported_ = nullptr;
};

TEST(KernelNeighborsRandomTest,
     RandomModelsScoreAsDefinedWithTheSameBitsAtEveryLevelAndAfterOtherModels) {
  const std::size_t models = environment_number("NBO_KN_RANDOM_MODELS", kModels);
  const std::uint64_t seed = environment_number("NBO_KN_RANDOM_SEED", kSeed);
  const SimdLevel saved = simd_level();
  std::vector<SimdLevel> levels;
  for (const SimdLevel level : {SimdLevel::kBaseline, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    if (level <= supported_simd_level()) levels.push_back(level);
  }
  Failures failures;
  std::vector<std::unique_ptr<KernelNeighbors>> dirtying;
  std::size_t queries_checked = 0;
  for (std::size_t number = 0; number < models; ++number) {
    // Each model from its own stream: NBO_KN_RANDOM_SEED and the number reproduce it alone.
    std::seed_seq model_seed{seed, static_cast<std::uint64_t>(number)};
    std::mt19937_64 random(model_seed);
    const RandomModel drawn = random_model(random);
    const KernelNeighbors model = drawn.build();
    const std::size_t width = drawn.columns();
    const std::size_t rows = drawn.labels.size();
    std::vector<double> means(width, 0.0);
    for (std::size_t i = 0; i < rows; ++i) {
      for (std::size_t j = 0; j < width; ++j) {
        means[j] += drawn.rows[i * width + j] / static_cast<double>(rows);
      }
    }
    for (std::size_t q = 0; q < kQueriesPerModel; ++q) {
      const std::vector<double> query = random_query(random, drawn);
      // Groups of random columns; a column in group `groups` is in none.
      const std::size_t groups = 1 + uniform_index(random, width);
      std::vector<std::size_t> group_of(width);
      for (std::size_t& group : group_of) group = uniform_index(random, groups + 1);
      const std::string context = fmt::format(
          "seed {} model {} ({} rows, {} labelled 1, {} columns, gamma {:.17g}, prior {:.17g}, "
          "prior_distance "
          "{:.17g}), query {} [{:.17g}], group_of [{}]",
          seed, number, rows, std::count(drawn.labels.begin(), drawn.labels.end(), 1), width,
          drawn.gamma, drawn.prior, drawn.prior_distance, q, fmt::join(query, ", "),
          fmt::join(group_of, ", "));

      // Each level on a fresh thread, whose scratch nothing has used yet.
      std::vector<Scores> fresh(levels.size());
      for (std::size_t l = 0; l < levels.size(); ++l) {
        set_simd_level(levels[l]);
        std::thread([&] { fresh[l] = score(model, query, group_of, groups); }).join();
      }
      for (std::size_t l = 0; l < levels.size(); ++l) {
        set_simd_level(levels[l]);
        const std::string level(simd_level_name(levels[l]));
        if (!same_bits(fresh[l], fresh[0])) {
          failures.add(context, drawn,
                       fmt::format("{} gives {}\n  baseline gives {}", level, describe(fresh[l]),
                                   describe(fresh[0])));
        }
        for (const auto& other : dirtying) dirty_scratch(*other);
        const Scores after_others = score(model, query, group_of, groups);
        if (!same_bits(after_others, fresh[l])) {
          failures.add(context, drawn,
                       fmt::format("{} after other models gives {}\n  on a fresh thread {}", level,
                                   describe(after_others), describe(fresh[l])));
        }
      }
      set_simd_level(saved);

      const Scores& scores = fresh[0];
      if (!same_bits(scores.explanation.margin, scores.margin) ||
          !same_bits(scores.group_explanation.margin, scores.margin)) {
        failures.add(context, drawn,
                     "explanations' margins are not margin()'s: " + describe(scores));
      }
      // The single-precision weights move the margin by up to kKernelMarginTolerance, the kernel
      // exp's relative error (1e-8) by as much; relative to the margin where that exceeds 50 (a
      // row near no row of one label, weighed from the distances).
      const bool finite = std::all_of(query.begin(), query.end(),
                                      [](double value) { return std::isfinite(value); });
      const double defined = plain_margin(drawn, query);
      if (finite && !near(defined, scores.margin,
                          test::kKernelMarginTolerance * std::max(1.0, std::abs(defined) / 50.0))) {
        failures.add(
            context, drawn,
            fmt::format("margin {:.17g}, the definition's {:.17g}", scores.margin, defined));
      }
      // With a single label the margin is the pseudo-votes' alone, -infinity where they vanish;
      // its occlusions are then -infinity minus -infinity: not compared.
      if (finite && std::isinf(defined)) {
        ++queries_checked;
        continue;
      }
      std::vector<double> occluded(width);
      const double baseline = occlusion_contributions(model, query, means, occluded);
      bool explained = near(baseline, scores.explanation.baseline, test::kKernelBaselineTolerance);
      for (std::size_t j = 0; j < width; ++j) {
        explained = explained &&
                    near(occluded[j], scores.contributions[j], test::kKernelContributionTolerance);
      }
      if (!explained) {
        failures.add(context, drawn,
                     fmt::format("explain() baseline {:.17g} [{:.17g}]\n  occlusion baseline "
                                 "{:.17g} [{:.17g}]",
                                 scores.explanation.baseline, fmt::join(scores.contributions, ", "),
                                 baseline, fmt::join(occluded, ", ")));
      }
      std::vector<double> group_occluded(groups);
      const double group_baseline =
          group_occlusion_contributions(model, query, means, group_of, group_occluded);
      bool group_explained =
          near(group_baseline, scores.group_explanation.baseline, test::kKernelBaselineTolerance);
      for (std::size_t g = 0; g < groups; ++g) {
        group_explained = group_explained && near(group_occluded[g], scores.group_contributions[g],
                                                  test::kKernelContributionTolerance);
      }
      if (!group_explained) {
        failures.add(context, drawn,
                     fmt::format("explain_groups() baseline {:.17g} [{:.17g}]\n  occlusion "
                                 "baseline {:.17g} [{:.17g}]",
                                 scores.group_explanation.baseline,
                                 fmt::join(scores.group_contributions, ", "), group_baseline,
                                 fmt::join(group_occluded, ", ")));
      }
      ++queries_checked;
    }
    // Later models run after some of the earlier ones.
    if (dirtying.size() < kDirtyingModels) {
      dirtying.push_back(std::make_unique<KernelNeighbors>(model));
    } else if (uniform_index(random, 4) == 0) {
      dirtying[uniform_index(random, kDirtyingModels)] = std::make_unique<KernelNeighbors>(model);
    }
  }
  set_simd_level(saved);
  EXPECT_EQ(failures.count(), 0u) << "of " << queries_checked << " queries on " << models
                                  << " models at " << levels.size() << " SIMD levels, seed "
                                  << seed;
}

}  // namespace
}  // namespace nbo::models
