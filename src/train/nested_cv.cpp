#include "nbo/train/nested_cv.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <thread>

#include "nbo/models/ensemble.hpp"
#include "nbo/platform/cores.hpp"
#include "nbo/train/evaluation.hpp"

namespace nbo::train {
namespace {

constexpr std::string_view kEnsembleName = "ensemble";

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Runs job(0) .. job(jobs - 1) on at most `threads` threads (at least 1), taking the jobs in
// index order; rethrows the failure of the lowest failed job once all have ended.
void run_parallel(std::size_t jobs, std::size_t threads,
                  const std::function<void(std::size_t)>& job) {
  const std::size_t workers = std::max<std::size_t>(1, std::min(threads, jobs));
  std::atomic<std::size_t> next{0};
  std::vector<std::exception_ptr> errors(jobs);
  auto work = [&] {
    for (std::size_t index = next++; index < jobs; index = next++) {
      try {
        job(index);
      } catch (...) {
        errors[index] = std::current_exception();
      }
    }
  };
  std::vector<std::thread> pool;
  for (std::size_t w = 1; w < workers; ++w) pool.emplace_back(work);
  work();
  for (auto& thread : pool) thread.join();
  for (const auto& error : errors) {
    if (error) std::rethrow_exception(error);
  }
}

struct MeanStd {
  double mean = 0.0;
  double std = 0.0;  // sample standard deviation; 0 for one value
};

MeanStd mean_and_std(const std::vector<double>& values) {
  MeanStd summary;
  summary.mean =
      std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  double squares = 0.0;
  for (const double v : values) squares += (v - summary.mean) * (v - summary.mean);
  summary.std =
      values.size() > 1 ? std::sqrt(squares / static_cast<double>(values.size() - 1)) : 0.0;
  return summary;
}

}  // namespace

OuterFoldResult run_outer_fold(const FoldMatrices& fold, std::vector<std::size_t> test_rows,
                               const std::vector<ModelFamily>& families,
                               const SelectionOptions& inner) {
  const std::size_t candidate_count = families.size() + 1;
  const std::size_t ensemble_index = families.size();
  const auto& train = fold.train;
  const auto selection = select_models(train.x, train.y, train.columns, families, inner);
  const auto fitted = fit_selected(train.x, train.y, train.columns, families, selection);

  OuterFoldResult out;
  out.test_rows = std::move(test_rows);
  std::vector<int> train_labels(static_cast<std::size_t>(train.y.size()));
  for (std::size_t r = 0; r < train_labels.size(); ++r) {
    train_labels[r] = static_cast<int>(train.y(static_cast<Eigen::Index>(r)));
  }
  out.probabilities.assign(candidate_count, std::vector<double>(out.test_rows.size()));
  out.isotonic.assign(candidate_count, std::vector<double>(out.test_rows.size()));
  out.fit_seconds.assign(candidate_count, 0.0);
  std::vector<IsotonicCalibration> isotonic;
  for (std::size_t f = 0; f < families.size(); ++f) {
    out.chosen_points.push_back(selection.families[f].chosen_point);
    isotonic.push_back(fit_isotonic(selection.families[f].inner_margins, train_labels));
    out.fit_seconds[f] = fitted.fit_seconds[f];
  }
  isotonic.push_back(fit_isotonic(selection.ensemble_inner_margins, train_labels));
  for (std::size_t f = 0; f < families.size(); ++f) {
    out.fit_seconds[ensemble_index] += selection.ensemble_weights[f] > 0 ? out.fit_seconds[f] : 0;
  }
  out.fit_seconds[ensemble_index] += selection.fit_seconds;  // the search chose the members

  std::vector<std::vector<double>> test_margins;
  for (const auto& estimator : fitted.estimators) {
    test_margins.push_back(margins_of(*estimator, fold.test_x));
  }
  std::vector<double> family_margins(families.size());
  for (std::size_t r = 0; r < out.test_rows.size(); ++r) {
    for (std::size_t f = 0; f < families.size(); ++f) {
      family_margins[f] = test_margins[f][r];
      out.probabilities[f][r] = selection.families[f].platt.apply(family_margins[f]);
      out.isotonic[f][r] = isotonic[f].apply(family_margins[f]);
    }
    const double pooled = ensemble_margin(selection, family_margins);
    out.probabilities[ensemble_index][r] = selection.ensemble_platt.apply(pooled);
    out.isotonic[ensemble_index][r] = isotonic[ensemble_index].apply(pooled);
  }
  return out;
}

SearchAndRefit search_and_refit(const TrainingMatrix& data,
                                const std::vector<ModelFamily>& families,
                                const SelectionOptions& inner) {
  SearchAndRefit result;
  result.selection = select_models(data.x, data.y, data.columns, families, inner);
  result.fitted = fit_selected(data.x, data.y, data.columns, families, result.selection);
  return result;
}

NestedCvResult run_nested_cv(std::span<const int> labels, const FoldMatrixBuilder& build_fold,
                             const TrainingMatrix& all_rows,
                             const std::vector<ModelFamily>& families,
                             const NestedCvOptions& options, const ProgressCallback& progress) {
  if (options.folds < 2 || options.repeats < 1 || options.inner_folds < 2) {
    throw std::invalid_argument("need folds >= 2, repeats >= 1 and inner_folds >= 2");
  }
  if (std::count(labels.begin(), labels.end(), 1) == 0 ||
      std::count(labels.begin(), labels.end(), 0) == 0) {
    throw std::invalid_argument(fmt::format("the {} are all of one class", options.row_noun));
  }
  std::mutex progress_mutex;
  const auto say = [&](const std::string& line) {
    if (!progress) return;
    const std::lock_guard lock(progress_mutex);
    progress(line);
  };
  const std::size_t n = labels.size();
  // Fold assignments, one per repeat, shared by every candidate (paired comparison).
  std::vector<std::vector<int>> assignments;
  for (int repeat = 0; repeat < options.repeats; ++repeat) {
    assignments.push_back(
        stratified_folds(labels, options.folds, options.seed + static_cast<std::uint64_t>(repeat)));
  }
  const std::size_t outer_jobs = static_cast<std::size_t>(options.repeats * options.folds);
  NestedCvResult result;
  result.folds.resize(outer_jobs);
  std::atomic<std::size_t> finished{0};
  const std::size_t threads =
      options.threads > 0 ? static_cast<std::size_t>(options.threads) : platform::usable_cores();
  say(
      fmt::format("nested cross-validation: {} families + ensemble, {}x{} outer folds, {} inner "
                  "folds, {} threads",
                  families.size(), options.repeats, options.folds, options.inner_folds, threads));

  // Job 0 is the search on every row; it runs first so the longest job does not start last.
  run_parallel(outer_jobs + 1, threads, [&](std::size_t job_index) {
    const auto job_started = std::chrono::steady_clock::now();
    if (job_index == 0) {
      result.all_rows = search_and_refit(all_rows, families,
                                         {.inner_folds = options.inner_folds,
                                          .seed = options.seed,
                                          .ensemble_rounds = options.ensemble_rounds});
      say(fmt::format("  final search on all {} {} done ({:.1f} s)", n, options.row_noun,
                      seconds_since(job_started)));
      return;
    }
    const std::size_t outer_index = job_index - 1;
    const auto repeat = outer_index / static_cast<std::size_t>(options.folds);
    const auto fold = static_cast<int>(outer_index % static_cast<std::size_t>(options.folds));
    std::vector<std::size_t> train_rows;
    std::vector<std::size_t> test_rows;
    for (std::size_t i = 0; i < n; ++i) {
      (assignments[repeat][i] == fold ? test_rows : train_rows).push_back(i);
    }
    const FoldMatrices matrices = build_fold(train_rows, test_rows);
    result.folds[outer_index] = run_outer_fold(matrices, std::move(test_rows), families,
                                               {.inner_folds = options.inner_folds,
                                                .seed = options.seed + 1000 + outer_index,
                                                .ensemble_rounds = options.ensemble_rounds});
    say(fmt::format("  outer fold {}/{} (repeat {}, fold {}) done in {:.1f} s", ++finished,
                    outer_jobs, repeat + 1, fold + 1, seconds_since(job_started)));
  });
  return result;
}

std::vector<CandidateResult> summarize_candidates(const std::vector<OuterFoldResult>& folds,
                                                  std::span<const int> labels,
                                                  const std::vector<ModelFamily>& families,
                                                  int repeats) {
  std::vector<CandidateResult> candidates;
  for (std::size_t c = 0; c < families.size() + 1; ++c) {
    CandidateResult row;
    row.name = c < families.size() ? families[c].name : std::string(kEnsembleName);
    row.out_of_fold.assign(labels.size(), 0.0);
    std::vector<double> aucs;
    std::vector<double> losses;
    std::vector<double> briers;
    std::vector<double> isotonic_briers;
    for (const auto& fold : folds) {
      std::vector<int> fold_labels;
      for (const auto row_index : fold.test_rows) fold_labels.push_back(labels[row_index]);
      aucs.push_back(roc_auc(fold.probabilities[c], fold_labels));
      losses.push_back(log_loss(fold.probabilities[c], fold_labels));
      briers.push_back(brier_score(fold.probabilities[c], fold_labels));
      isotonic_briers.push_back(brier_score(fold.isotonic[c], fold_labels));
      for (std::size_t r = 0; r < fold.test_rows.size(); ++r) {
        row.out_of_fold[fold.test_rows[r]] += fold.probabilities[c][r] / repeats;
      }
      row.fit_seconds += fold.fit_seconds[c];
      if (c < families.size()) ++row.chosen_settings[families[c].grid[fold.chosen_points[c]].label];
    }
    const MeanStd auc = mean_and_std(aucs);
    row.auc_mean = auc.mean;
    row.auc_std = auc.std;
    row.log_loss_mean = mean_and_std(losses).mean;
    row.brier_mean = mean_and_std(briers).mean;
    row.brier_isotonic_mean = mean_and_std(isotonic_briers).mean;
    candidates.push_back(std::move(row));
  }
  return candidates;
}

std::string candidate_line(const CandidateResult& candidate) {
  return fmt::format(
      "  {:<22} ROC-AUC {:.4f} ± {:.4f}  log-loss {:.4f}  Brier {:.4f} (isotonic {:.4f})  fit "
      "{:.1f} s",
      candidate.name, candidate.auc_mean, candidate.auc_std, candidate.log_loss_mean,
      candidate.brier_mean, candidate.brier_isotonic_mean, candidate.fit_seconds);
}

CandidateChoice choose_candidate(const std::vector<CandidateResult>& candidates,
                                 std::string_view requested, const NestedCvOptions& options) {
  if (candidates.empty()) throw std::invalid_argument("no candidates to choose from");
  CandidateChoice choice;
  if (!requested.empty()) {
    const auto found = std::find_if(candidates.begin(), candidates.end(),
                                    [&](const auto& c) { return c.name == requested; });
    if (found == candidates.end()) {
      throw std::invalid_argument(fmt::format("unknown candidate '{}'", requested));
    }
    choice.index = static_cast<std::size_t>(found - candidates.begin());
    choice.reason = "requested";
    return choice;
  }
  // Strictly higher only: ties go to the earlier (simpler) candidate.
  for (std::size_t i = 1; i < candidates.size(); ++i) {
    if (candidates[i].auc_mean > candidates[choice.index].auc_mean) choice.index = i;
  }
  choice.reason =
      fmt::format("highest mean ROC-AUC over {}x{} outer folds", options.repeats, options.folds);
  const bool costs_measured =
      std::all_of(candidates.begin(), candidates.end(),
                  [](const CandidateResult& c) { return c.explain_microseconds > 0.0; });
  if (!costs_measured) return choice;
  const CandidateResult& best = candidates[choice.index];
  const double standard_error =
      best.auc_std / std::sqrt(static_cast<double>(options.repeats * options.folds));
  std::size_t fastest = choice.index;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const CandidateResult& c = candidates[i];
    if (c.auc_mean >= best.auc_mean - standard_error &&
        2.0 * c.explain_microseconds <= best.explain_microseconds &&
        c.explain_microseconds + 1.0 <= best.explain_microseconds &&
        c.explain_microseconds < candidates[fastest].explain_microseconds) {
      fastest = i;
    }
  }
  if (fastest == choice.index) {
    choice.reason += fmt::format(
        "; no candidate within one standard error ({:.4f}) of it scores at least twice as fast",
        standard_error);
    return choice;
  }
  choice.reason = fmt::format(
      "within one standard error ({:.4f}) of the highest mean ROC-AUC ({} {:.4f}) and at least "
      "twice as fast to score with reasons ({:.1f} us against {:.1f} us)",
      standard_error, best.name, best.auc_mean, candidates[fastest].explain_microseconds,
      best.explain_microseconds);
  choice.index = fastest;
  return choice;
}

ChosenEstimator assemble_chosen_estimator(const std::vector<ModelFamily>& families,
                                          SearchAndRefit& all_rows, std::size_t chosen,
                                          const std::vector<std::string>& columns) {
  if (chosen > families.size()) {
    throw std::invalid_argument(
        fmt::format("candidate {} of {} does not exist", chosen, families.size() + 1));
  }
  const Selection& selection = all_rows.selection;
  ChosenEstimator result;
  nlohmann::json hyperparameters;
  for (std::size_t f = 0; f < families.size(); ++f) {
    const auto& point = families[f].grid[selection.families[f].chosen_point];
    result.search.push_back({families[f].name,
                             {},
                             selection.families[f].inner_auc,
                             selection.families[f].chosen_point,
                             selection.ensemble_weights[f]});
    for (const auto& p : families[f].grid) result.search.back().labels.push_back(p.label);
    hyperparameters[families[f].name] = point.values;
  }
  const auto member_entry = [&](std::size_t f, double weight) {
    return nlohmann::json{{"family", families[f].name},
                          {"weight", weight},
                          {"hyperparameters", hyperparameters[families[f].name]},
                          {"explanation", families[f].explanation}};
  };
  auto& fitted = all_rows.fitted.estimators;
  result.composition = nlohmann::json::array();
  if (chosen == families.size()) {
    std::vector<models::EnsembleMember> members;
    for (std::size_t f = 0; f < families.size(); ++f) {
      if (selection.ensemble_weights[f] == 0.0) continue;
      const auto& platt = selection.families[f].platt;
      members.push_back({families[f].name, selection.ensemble_weights[f], platt.slope, platt.offset,
                         std::move(fitted[f])});
      result.composition.push_back(member_entry(f, selection.ensemble_weights[f]));
    }
    result.estimator = std::make_unique<models::Ensemble>(columns, std::move(members));
    result.calibration = selection.ensemble_platt;
  } else {
    result.estimator = std::move(fitted[chosen]);
    result.calibration = selection.families[chosen].platt;
    result.composition.push_back(member_entry(chosen, 1.0));
  }
  return result;
}

void measure_explain_cost(std::vector<CandidateResult>& candidates, const SearchAndRefit& all_rows,
                          std::span<const double> rows, std::span<const std::size_t> group_of,
                          std::size_t group_count) {
  const auto& estimators = all_rows.fitted.estimators;
  if (candidates.size() != estimators.size() + 1) {
    throw std::invalid_argument("measure_explain_cost: one candidate per family plus the ensemble");
  }
  std::vector<double> out(group_count);
  for (std::size_t f = 0; f < estimators.size(); ++f) {
    const models::Estimator& estimator = *estimators[f];
    const std::size_t columns = estimator.column_count();
    const std::size_t row_count = rows.size() / columns;
    if (row_count == 0) return;
    std::vector<double> passes;
    for (int pass = 0; pass < 3; ++pass) {
      const auto started = std::chrono::steady_clock::now();
      for (std::size_t r = 0; r < row_count; ++r) {
        static_cast<void>(
            estimator.explain_groups(rows.subspan(r * columns, columns), group_of, out));
      }
      passes.push_back(seconds_since(started) * 1e6 / static_cast<double>(row_count));
    }
    std::sort(passes.begin(), passes.end());
    candidates[f].explain_microseconds = passes[1];
  }
  double ensemble = 0.0;
  for (std::size_t f = 0; f < estimators.size(); ++f) {
    if (all_rows.selection.ensemble_weights[f] > 0.0) {
      ensemble += candidates[f].explain_microseconds;
    }
  }
  candidates.back().explain_microseconds = ensemble;
}

}  // namespace nbo::train
