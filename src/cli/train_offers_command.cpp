// `nbo train offers`: ingests a school export, trains the next-best-offer model on a time split,
// evaluates it against the baselines and writes the model file and a report with plots.
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "nbo/cli/commands.hpp"
#include "nbo/offers/offer_model.hpp"
#include "nbo/train/offers_trainer.hpp"
#include "nbo/train/report_plots.hpp"
#include "nbo/train/school_export.hpp"
#include "options.hpp"

namespace nbo::cli {
namespace po = boost::program_options;
namespace {

void write_text_file(const std::filesystem::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) throw std::runtime_error("cannot write " + file.string());
}

// The export's newest file modification time (ISO-8601 UTC): the default trained_at, so a rerun
// on the same files reproduces the model file byte for byte.
std::string newest_file_time(const std::filesystem::path& dir) {
  auto newest = std::filesystem::file_time_type::min();
  for (const auto name :
       {train::kSchoolCoursesFile, train::kSchoolUsersFile, train::kSchoolEventsFile}) {
    newest = std::max(newest, std::filesystem::last_write_time(dir / name));
  }
  const auto system_time = std::chrono::file_clock::to_sys(newest);
  const auto seconds = std::chrono::floor<std::chrono::seconds>(system_time);
  return offers::format_time(seconds.time_since_epoch().count());
}

void write_report(const std::filesystem::path& dir, const train::SchoolDataset& data,
                  const train::OffersTrainingResult& result, const std::string& command,
                  const std::filesystem::path& model_file, int options_excluded_days) {
  std::filesystem::create_directories(dir);
  const auto& evaluation = result.evaluation;
  const auto& model = *result.model;
  std::ostringstream md;
  md << "# Next-best-offer model report\n\n";
  md << fmt::format("Model `{}` version `{}`, trained at {} from `{}`; written to `{}`.\n\n",
                    model.metadata().name, model.metadata().version, model.metadata().trained_at,
                    model.metadata().training_data_fingerprint, model_file.string());
  md << "Reproduce: `" << command << "` (same export and seed: byte-identical model file).\n\n";
  md << "## Ingestion\n\n```\n" << data.report.summary(10) << "```\n\n";
  md << fmt::format(
      "Every rejected row, with file, line, column and reason: `rejected_rows.csv` "
      "({} rows).\n\n",
      data.report.rejected.size());
  md << "## Time split\n\n";
  md << fmt::format(
      "Horizon {} days. Training cutoffs (features before each, labels = purchases in the "
      "following {} days): {}. Evaluation cutoff {}: features before it, labels = purchases in "
      "the last {} days of the export{}; no training label lies at or after it.\n\n",
      model.horizon_days(), model.horizon_days(), fmt::join(result.training_cutoffs, ", "),
      evaluation.cutoff, model.horizon_days(),
      options_excluded_days > 0
          ? fmt::format(" (a validation run: the export's last {} days were left out)",
                        options_excluded_days)
          : std::string());
  md << fmt::format(
      "Candidate rows: {} ({} bought; negatives sampled at the rate recorded in the model, "
      "corrected by the margin offset). Propensity rows: {} ({} bought).\n\n",
      result.candidate_rows, result.candidate_positives, result.propensity_rows,
      result.propensity_positives);
  md << "## Ranking of the next course (evaluation cutoff)\n\n";
  md << fmt::format("Users who bought at least one eligible course in the window: {}.\n\n",
                    evaluation.rankers.empty() ? 0 : evaluation.rankers.front().users);
  md << "| ranker | HitRate@1 | HitRate@3 | NDCG@3 | MAP@3 |\n|---|---|---|---|---|\n";
  for (const auto& ranker : evaluation.rankers) {
    md << fmt::format("| {} | {:.4f} | {:.4f} | {:.4f} | {:.4f} |\n", ranker.name,
                      ranker.hit_rate_1, ranker.hit_rate_3, ranker.ndcg_3, ranker.map_3);
  }
  const bool target_met = evaluation.ndcg_lift >= 1.25;
  md << fmt::format(
      "\nModel NDCG@3 / best baseline ({}) NDCG@3 = **{:.3f}** (95% paired bootstrap interval "
      "over these users: {:.3f} .. {:.3f}): the target (at least 1.25) is **{}**{}.\n\n",
      evaluation.best_baseline, evaluation.ndcg_lift, evaluation.ndcg_lift_low,
      evaluation.ndcg_lift_high, target_met ? "met" : "NOT met",
      evaluation.ndcg_lift_low < 1.25 && evaluation.ndcg_lift_high >= 1.25
          ? ", and the interval holds 1.25 on both sides: this evaluation cannot tell the two "
            "apart"
          : "");
  md << "The interval resamples the users of this one window; it does not cover other periods "
        "or other exports. The features and training settings were chosen on a validation run "
        "(`--exclude-last-days 28`, which never reads this window), not on this table: "
        "docs/offers.md.\n\n";
  md << "![NDCG@3 by ranker](ranking_ndcg.svg)\n\n";
  md << "## Buy-again propensity\n\n";
  md << fmt::format(
      "ROC-AUC over {} users with history before the cutoff (positive rate {:.3f}): model "
      "**{:.4f}**, recency baseline (days since the last action) {:.4f}.\n\n",
      evaluation.propensity_users, evaluation.propensity_positive_rate, evaluation.propensity_auc,
      evaluation.recency_auc);
  md << "![ROC of the buy-again propensity](propensity_roc.svg)\n\n";
  md << "## Candidate model: split cover per feature\n\n";
  md << "Sum of the training cover (hessian weight) of the splits on each feature over all "
        "trees: which features the trees lean on, not a signed effect.\n\n";
  md << "![feature cover](candidate_features.svg)\n";
  write_text_file(dir / "offers_report.md", md.str());
  std::string rejected = "file,line,column,reason,user_id\n";
  const auto quoted = [](std::string text) {
    std::string out = "\"";
    for (const char c : text) {
      if (c == '"') out += '"';
      out += c;
    }
    return out + "\"";
  };
  for (const auto& issue : data.report.rejected) {
    rejected += fmt::format("{},{},{},{},{}\n", issue.file, issue.line, quoted(issue.column),
                            quoted(issue.reason), quoted(issue.customer_id));
  }
  write_text_file(dir / "rejected_rows.csv", rejected);

  std::vector<train::Importance> ndcg;
  for (const auto& ranker : evaluation.rankers) ndcg.push_back({ranker.name, ranker.ndcg_3});
  write_text_file(dir / "ranking_ndcg.svg",
                  train::importance_svg(ndcg, "NDCG@3 at the evaluation cutoff", "NDCG@3"));
  write_text_file(
      dir / "propensity_roc.svg",
      train::roc_curve_svg(
          {{"buy-again model", evaluation.propensity_scores, evaluation.propensity_labels},
           {"recency baseline", evaluation.recency_scores, evaluation.propensity_labels}},
          "Buy again within the horizon"));
  auto importance = result.candidate_importance;
  std::stable_sort(importance.begin(), importance.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  double total = 0;
  for (const auto& [name, value] : importance) total += value;
  std::vector<train::Importance> bars;
  for (const auto& [name, value] : importance) {
    bars.push_back({name, total > 0 ? value / total : 0.0});
  }
  write_text_file(dir / "candidate_features.svg",
                  train::importance_svg(bars, "Candidate model: share of split cover", "share"));
}

}  // namespace

int run_train_offers(const std::vector<std::string>& args) {
  std::string data_dir;
  std::string out_file;
  std::string report_dir;
  std::string version;
  std::string trained_at;
  train::OffersTrainingOptions options;
  options.candidate_params.trees = 300;
  options.candidate_params.max_depth = 5;
  options.candidate_params.learning_rate = 0.05;
  options.candidate_params.colsample_bynode = 0.8;
  options.propensity_params.trees = 200;
  options.propensity_params.max_depth = 3;
  po::options_description description("nbo train offers options");
  description.add_options()("help,h", "print this help and exit")(
      "data", po::value(&data_dir)->default_value("../shared/data/school"),
      "directory of the school export (courses.csv, users.csv, events.csv)")(
      "out", po::value(&out_file)->default_value("models/offers.json"), "model file to write")(
      "report", po::value(&report_dir)->default_value("reports/offers"),
      "directory for the report (offers_report.md and its SVG plots)")(
      "seed", po::value(&options.seed)->default_value(options.seed),
      "seed of the negative sampling and of XGBoost")(
      "horizon-days", po::value(&options.horizon_days)->default_value(options.horizon_days),
      "days after a cutoff in which a purchase is a positive label")(
      "exclude-last-days",
      po::value(&options.exclude_last_days)->default_value(options.exclude_last_days),
      "days cut off the end of the export first: with --exclude-last-days equal to the "
      "horizon, a validation run for choosing settings that never reads the evaluation window")(
      "training-cutoffs",
      po::value(&options.training_cutoffs)->default_value(options.training_cutoffs),
      "training cutoffs before the evaluation cutoff")(
      "cutoff-step-days",
      po::value(&options.cutoff_step_days)->default_value(options.cutoff_step_days),
      "days between training cutoffs")(
      "negative-rate", po::value(&options.negative_rate)->default_value(options.negative_rate),
      "share of negative candidate rows kept for training")(
      "trees",
      po::value(&options.candidate_params.trees)->default_value(options.candidate_params.trees),
      "boosting rounds of the candidate model")(
      "max-depth",
      po::value(&options.candidate_params.max_depth)
          ->default_value(options.candidate_params.max_depth),
      "tree depth of the candidate model")(
      "learning-rate",
      po::value(&options.candidate_params.learning_rate)
          ->default_value(options.candidate_params.learning_rate),
      "learning rate of the candidate model")(
      "min-child-weight",
      po::value(&options.candidate_params.min_child_weight)
          ->default_value(options.candidate_params.min_child_weight),
      "minimum hessian sum in a child of the candidate model")(
      "model-version", po::value(&version),
      "version recorded in the model file (default: derived from the data fingerprint)")(
      "trained-at", po::value(&trained_at),
      "time recorded as trained_at, YYYY-MM-DDTHH:MM:SSZ (default: the export files' newest "
      "modification time)");
  po::variables_map values;
  if (const auto status = parse_command_options(
          args, description, values, "nbo train offers",
          "Usage: nbo train offers [options]\n\nTrains the next-best-offer model from a school "
          "export and writes the model file and a report.")) {
    return *status;
  }
  if (!trained_at.empty() && (!offers::parse_time(trained_at) || trained_at.size() != 20)) {
    std::cerr << "nbo train offers: --trained-at '" << trained_at
              << "' is not a UTC time like 2026-11-23T00:00:00Z\n";
    return 2;
  }
  options.candidate_params.seed = options.seed;
  options.propensity_params.seed = options.seed;
  const auto started = std::chrono::steady_clock::now();
  std::cout << "reading school export from " << data_dir << "\n";
  train::SchoolDataset data;
  try {
    data = train::load_school_export(data_dir);
  } catch (const std::exception& error) {
    std::cerr << "nbo train offers: " << error.what() << "\n";
    return 1;
  }
  std::cout << data.report.summary(10);
  options.model_version =
      version.empty() ? fmt::format("{}-seed{}", data.fingerprint.substr(7, 12), options.seed)
                      : version;
  options.trained_at = trained_at.empty() ? newest_file_time(data_dir) : trained_at;
  std::ostringstream command;
  command << "nbo train offers";
  for (std::size_t i = 1; i < args.size(); ++i) command << ' ' << args[i];
  options.trainer = fmt::format("nbo {} train offers", NBO_VERSION);
  train::OffersTrainingResult result;
  try {
    result = train::train_offers_model(
        data, options, [](const std::string& line) { std::cout << line << std::endl; });
  } catch (const std::invalid_argument& error) {
    std::cerr << "nbo train offers: " << error.what() << "\n";
    return 2;
  }
  offers::save_offer_model(*result.model, out_file);
  write_report(report_dir, data, result, command.str(), out_file, options.exclude_last_days);
  for (const auto& ranker : result.evaluation.rankers) {
    std::cout << fmt::format("{:32} HR@1 {:.4f}  HR@3 {:.4f}  NDCG@3 {:.4f}  MAP@3 {:.4f}\n",
                             ranker.name, ranker.hit_rate_1, ranker.hit_rate_3, ranker.ndcg_3,
                             ranker.map_3);
  }
  std::cout << fmt::format(
      "NDCG@3 lift over the best baseline ({}): {:.3f} (95% interval {:.3f} .. {:.3f}); "
      "buy-again ROC-AUC {:.4f} (recency {:.4f})\n",
      result.evaluation.best_baseline, result.evaluation.ndcg_lift, result.evaluation.ndcg_lift_low,
      result.evaluation.ndcg_lift_high, result.evaluation.propensity_auc,
      result.evaluation.recency_auc);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  print_model_file_sha256(out_file);
  std::cout << fmt::format("wrote {} and {}/offers_report.md in {:.1f} s\n", out_file, report_dir,
                           seconds);
  return 0;
}

}  // namespace nbo::cli
