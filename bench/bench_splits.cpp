// Quality on unseen customers: repeated stratified 80/20 splits of the real store export. On each
// split the churn trainer (train_churn_model, as `nbo train churn` runs it) is trained on the 80%
// once per family, each with its hyperparameters chosen by the trainer's inner CV on that 80%
// only, and the 20% is scored. Prints each split's figures and, per family, the mean and standard
// deviation of ROC-AUC, log-loss and Brier over the splits, then the paired difference of the
// first family named (by default kernel neighbours, what models/churn.json serves) against each
// other one fitted the same way on the same splits: the k-NN it replaced, the C++ random forest
// and the RBF SVC.
//
//   build/release/bench_splits [--splits 20] [--first-seed 1]
//                              [--families kernel_neighbors,k_nearest_neighbors,random_forest,
//                                          support_vector]
//
// The split of seed s is fold 0 of train::stratified_folds(labels, 5, s): exactly one fifth of
// each class held out. The trainer's outer CV (which only picks a family and the decision
// threshold) runs with 2 folds and 1 repeat, as the family is fixed here; probabilities do not
// depend on it. Splits run one after another; each training uses every core.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "nbo/train/churn_trainer.hpp"
#include "nbo/train/evaluation.hpp"
#include "nbo/train/market_export.hpp"

namespace {

struct Scores {
  double auc = 0.0;
  double log_loss = 0.0;
  double brier = 0.0;
};

struct Summary {
  double mean = 0.0;
  double sd = 0.0;
};

Summary summarize(const std::vector<double>& values) {
  Summary out;
  if (values.empty()) return out;
  out.mean =
      std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  double squares = 0.0;
  for (const double value : values) squares += (value - out.mean) * (value - out.mean);
  out.sd = values.size() > 1 ? std::sqrt(squares / static_cast<double>(values.size() - 1)) : 0.0;
  return out;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

Scores score_test_part(const nbo::models::ChurnModel& model,
                       const std::vector<nbo::train::LabeledCustomer>& test) {
  std::vector<const nbo::features::RawCustomer*> customers;
  std::vector<int> labels;
  for (const auto& customer : test) {
    customers.push_back(&customer.customer);
    labels.push_back(customer.declined);
  }
  const auto results = model.predict_many(customers);
  std::vector<double> probabilities;
  for (const auto& result : results) {
    const auto* prediction = std::get_if<nbo::models::Prediction>(&result);
    if (prediction == nullptr) throw std::runtime_error("a held-out customer failed validation");
    probabilities.push_back(prediction->probability);
  }
  return {nbo::train::roc_auc(probabilities, labels), nbo::train::log_loss(probabilities, labels),
          nbo::train::brier_score(probabilities, labels)};
}

}  // namespace

int main(int argc, char** argv) {
  int splits = 20;
  std::uint64_t first_seed = 1;
  std::vector<std::string> families{"kernel_neighbors", "k_nearest_neighbors", "random_forest",
                                    "support_vector"};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--splits") {
      splits = std::stoi(argv[i + 1]);
    } else if (flag == "--first-seed") {
      first_seed = std::stoull(argv[i + 1]);
    } else if (flag == "--families") {
      families = split_list(argv[i + 1]);
    } else {
      std::cerr << "bench_splits: unknown flag " << flag << "\n";
      return 2;
    }
  }
  const std::filesystem::path market = std::filesystem::path(NBO_TEST_DATA_DIR) / "market";
  if (!std::filesystem::exists(market / "market_file.csv")) {
    std::cerr << "bench_splits: the store export is not at " << market << "\n";
    return 1;
  }
  const auto data = nbo::train::load_market_export(market);
  std::vector<int> labels;
  for (const auto& customer : data.customers) labels.push_back(customer.declined);
  std::cout << fmt::format("{} customers, {} splits 80/20 (stratified), families: {}\n",
                           data.customers.size(), splits, fmt::join(families, ", "));
  std::cout << fmt::format("{:<6} {:<20} {:>8} {:>9} {:>7} {:>8}\n", "seed", "family", "ROC-AUC",
                           "log-loss", "Brier", "fit s");

  std::map<std::string, std::vector<Scores>> by_family;
  const auto started = std::chrono::steady_clock::now();
  for (int split = 0; split < splits; ++split) {
    const std::uint64_t seed = first_seed + static_cast<std::uint64_t>(split);
    const auto folds = nbo::train::stratified_folds(labels, 5, seed);
    nbo::train::MarketDataset train_part;
    train_part.fingerprint = data.fingerprint;
    std::vector<nbo::train::LabeledCustomer> test_part;
    for (std::size_t i = 0; i < data.customers.size(); ++i) {
      (folds[i] == 0 ? test_part : train_part.customers).push_back(data.customers[i]);
    }
    for (const auto& family : families) {
      nbo::train::ChurnTrainingOptions options;
      options.families = {family};
      options.candidate = family;
      options.folds = 2;
      options.repeats = 1;
      options.seed = seed;
      options.model_version = "split";
      options.trained_at = "2026-01-01T00:00:00Z";
      const auto fit_started = std::chrono::steady_clock::now();
      const auto trained = nbo::train::train_churn_model(train_part, options);
      const double fit_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - fit_started).count();
      const Scores scores = score_test_part(*trained.model, test_part);
      by_family[family].push_back(scores);
      std::cout << fmt::format("{:<6} {:<20} {:>8.4f} {:>9.4f} {:>7.4f} {:>8.1f}\n", seed, family,
                               scores.auc, scores.log_loss, scores.brier, fit_seconds)
                << std::flush;
    }
  }

  std::cout << fmt::format("\n{:<20} {:>18} {:>18} {:>18}\n", "family (held-out 20%)",
                           "ROC-AUC mean ± sd", "log-loss mean ± sd", "Brier mean ± sd");
  for (const auto& family : families) {
    std::vector<double> auc, loss, brier;
    for (const auto& scores : by_family[family]) {
      auc.push_back(scores.auc);
      loss.push_back(scores.log_loss);
      brier.push_back(scores.brier);
    }
    const auto a = summarize(auc), l = summarize(loss), b = summarize(brier);
    std::cout << fmt::format("{:<20} {:>9.4f} ± {:.4f} {:>9.4f} ± {:.4f} {:>9.4f} ± {:.4f}\n",
                             family, a.mean, a.sd, l.mean, l.sd, b.mean, b.sd);
  }
  // Paired differences: the same split for both, so the split-to-split spread cancels.
  const std::string& reference = families.front();
  for (std::size_t f = 1; f < families.size(); ++f) {
    std::vector<double> auc_diff, brier_diff;
    int wins = 0;
    for (std::size_t s = 0; s < by_family[reference].size(); ++s) {
      auc_diff.push_back(by_family[reference][s].auc - by_family[families[f]][s].auc);
      brier_diff.push_back(by_family[reference][s].brier - by_family[families[f]][s].brier);
      if (auc_diff.back() > 0) ++wins;
    }
    const auto a = summarize(auc_diff), b = summarize(brier_diff);
    const double n = static_cast<double>(auc_diff.size());
    std::cout << fmt::format(
        "{} - {}: ROC-AUC {:+.4f} (standard error {:.4f}; higher on {} of {} splits), Brier "
        "{:+.4f} (standard error {:.4f}; negative is better)\n",
        reference, families[f], a.mean, a.sd / std::sqrt(n), wins, auc_diff.size(), b.mean,
        b.sd / std::sqrt(n));
  }
  std::cout << fmt::format(
      "wall time {:.0f} s\n",
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return 0;
}
