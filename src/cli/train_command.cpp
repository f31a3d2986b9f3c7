#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <cctype>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "nbo/cli/commands.hpp"
#include "nbo/models/churn_model.hpp"
#include "nbo/train/churn_trainer.hpp"
#include "nbo/train/market_export.hpp"
#include "nbo/train/report_plots.hpp"
#include "options.hpp"

namespace nbo::cli {
namespace po = boost::program_options;
namespace {

// The export's newest file modification time, as ISO-8601 UTC: the model's trained_at, so that
// retraining the same export with the same seed reproduces the model file byte for byte.
std::string export_time(const std::filesystem::path& dir) {
  // file_clock's epoch is not the system epoch (libstdc++ counts from 2174), so start from the
  // smallest time rather than a default-constructed one.
  auto newest = std::filesystem::file_time_type::min();
  for (const auto name :
       {train::kMarketFile, train::kMarketMoneyFile, train::kMarketTimeFile, train::kMoneyFile}) {
    newest = std::max(newest, std::filesystem::last_write_time(dir / name));
  }
  const auto system_time = std::chrono::file_clock::to_sys(newest);
  const std::time_t seconds = std::chrono::system_clock::to_time_t(
      std::chrono::time_point_cast<std::chrono::system_clock::duration>(system_time));
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

// True for "YYYY-MM-DDTHH:MM:SSZ" with plausible field values.
bool is_iso_utc_time(const std::string& text) {
  if (text.size() != 20) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char expected = "dddd-dd-ddTdd:dd:ddZ"[i];
    if (expected == 'd' ? !std::isdigit(static_cast<unsigned char>(text[i]))
                        : text[i] != expected) {
      return false;
    }
  }
  const int month = std::stoi(text.substr(5, 2));
  const int day = std::stoi(text.substr(8, 2));
  return month >= 1 && month <= 12 && day >= 1 && day <= 31 && std::stoi(text.substr(11, 2)) < 24 &&
         std::stoi(text.substr(14, 2)) < 60 && std::stoi(text.substr(17, 2)) < 61;
}

void write_file(const std::filesystem::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) throw std::runtime_error("cannot write " + file.string());
}

std::string format_probability_band(const models::Decision& decision) {
  std::string text = "| band | probability |\n|---|---|\n";
  double lower = 0.0;
  for (const auto& band : decision.bands) {
    text += fmt::format("| {} | [{:.4f}, {:.4f}{} |\n", band.name, lower, band.upper,
                        band.upper == 1.0 ? "]" : ")");
    lower = band.upper;
  }
  return text;
}

void write_report(const std::filesystem::path& dir, const train::MarketDataset& data,
                  const train::ChurnTrainingResult& result,
                  const train::ChurnTrainingOptions& options, const std::string& command) {
  std::filesystem::create_directories(dir);
  const auto& model = *result.model;
  const auto& chosen = result.candidates[result.chosen];
  std::ostringstream md;
  md << "# Churn model report: " << model.metadata().name << " " << model.metadata().version
     << "\n\n"
     << "Produced by `" << command << "` in " << fmt::format("{:.1f}", result.seconds) << " s.\n\n"
     << "- training data fingerprint: `" << model.metadata().training_data_fingerprint << "`\n"
     << "- trained_at (the export's time): " << model.metadata().trained_at << "\n"
     << fmt::format(
            "- evaluation: nested cross-validation, {}x{} repeated stratified k-fold "
            "outside (seed {}), {}-fold inside for hyperparameters, Platt calibration "
            "and ensemble weights\n",
            options.repeats, options.folds, options.seed, options.inner_folds)
     << fmt::format("- chosen: **{}**, ROC-AUC {:.4f} ± {:.4f} over the outer folds: {}\n",
                    chosen.name, chosen.auc_mean, chosen.auc_std, result.choice_reason)
     << "- selection rule: " << train::kSelectionRule << "\n\n"
     << "## Ingestion\n\n```\n"
     << data.report.summary() << "\n```\n\n"
     << "## Candidates (outer folds; probabilities Platt-calibrated inside the CV)\n\n"
     << "| candidate | ROC-AUC mean ± std | log-loss | Brier | Brier if isotonic | µs per "
        "customer with reasons | fit time (s, all folds) | settings chosen by the inner CV "
        "(outer folds) |\n"
     << "|---|---|---|---|---|---|---|---|\n";
  for (std::size_t i = 0; i < result.candidates.size(); ++i) {
    const auto& c = result.candidates[i];
    std::string settings;
    for (const auto& [label, count] : c.chosen_settings) {
      settings += fmt::format("{}{} ({})", settings.empty() ? "" : ", ", label, count);
    }
    md << fmt::format(
        "| {}{} | {:.4f} ± {:.4f} | {:.4f} | {:.4f} | {:.4f} | {:.2f} | {:.1f} | {} |\n", c.name,
        i == result.chosen ? " **(chosen)**" : "", c.auc_mean, c.auc_std, c.log_loss_mean,
        c.brier_mean, c.brier_isotonic_mean, c.explain_microseconds, c.fit_seconds,
        settings.empty() ? "members by greedy selection" : settings);
  }
  md << "\nThe cost column is the time one thread of this machine took to score a customer and "
        "explain it by field (what a prediction with reasons costs), with the model refitted on "
        "every customer, over the first 200 customers (the median of three passes; the ensemble's "
        "is the sum of its members'). It varies with the machine; the selection rule compares "
        "costs only when they differ by two times and one microsecond or more.\n"
     << "\nThe ensemble averages the members' Platt-calibrated log-odds with weights from greedy "
        "forward selection on inner out-of-fold predictions, then recalibrates (Platt). "
        "Calibration: Platt is used; the isotonic column shows what isotonic calibration, fitted "
        "on the same inner out-of-fold margins, would have given.\n\n"
     << "![ROC curves](roc.svg)\n\n"
     << "## Hyperparameter search on all customers (inner CV, the final model's settings)\n\n";
  for (const auto& search : result.final_search) {
    md << fmt::format("**{}** (ensemble weight {:.2f}):", search.family, search.ensemble_weight);
    for (std::size_t p = 0; p < search.labels.size(); ++p) {
      md << fmt::format(" {}{}: {:.4f}{};", p == search.chosen_point ? "**" : "", search.labels[p],
                        search.inner_auc[p], p == search.chosen_point ? "**" : "");
    }
    md << "\n\n";
  }
  md << "## The model\n\n```json\n"
     << model.metadata().extra.at("estimator_composition").dump(2) << "\n```\n\n"
     << fmt::format("Calibration: {} (slope {:.4f}, offset {:.4f}).\n\n", model.calibration().type,
                    model.calibration().slope, model.calibration().offset);
  md << "## Calibration (chosen candidate, out-of-fold)\n\n![reliability](reliability.svg)\n\n"
     << "| probability bin | customers | mean predicted | observed decline rate "
        "|\n|---|---|---|---|\n";
  const auto bins = train::reliability_table(result.out_of_fold, result.labels, 10);
  for (const auto& bin : bins) {
    if (bin.count == 0) continue;
    md << fmt::format("| [{:.1f}, {:.1f}) | {} | {:.3f} | {:.3f} |\n", bin.lower, bin.upper,
                      bin.count, bin.mean_predicted, bin.observed_rate);
  }
  md << "\n## Decision rule\n\n"
     << model.decision().rationale << "\n\n"
     << format_probability_band(model.decision());
  md << "\n## Global importance (mean |contribution to the log-odds| over the training "
        "customers)\n\n![importance](importance.svg)\n\n| field | mean abs contribution "
        "|\n|---|---|\n";
  std::vector<train::Importance> importance;
  for (const auto& [field, value] : result.importance) {
    const std::string name(features::store_field(field).api_name);
    importance.push_back({name, value});
    md << fmt::format("| {} | {:.4f} |\n", name, value);
  }
  if (const auto* linear = dynamic_cast<const models::LogisticRegression*>(&model.estimator())) {
    md << "\n## Coefficients (standardized inputs, log-odds of decline before calibration)\n\n"
          "| column | weight |\n|---|---|\n";
    std::vector<std::size_t> order(linear->weights().size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return std::abs(linear->weights()[a]) > std::abs(linear->weights()[b]);
    });
    for (const auto i : order) {
      md << fmt::format("| {} | {:+.4f} |\n", linear->column_names()[i], linear->weights()[i]);
    }
    md << fmt::format("| (intercept) | {:+.4f} |\n", linear->intercept());
  }
  write_file(dir / "churn_report.md", md.str());

  std::vector<train::RocSeries> curves;
  for (std::size_t i = 0; i < result.candidates.size(); ++i) {
    curves.push_back({result.candidates[i].name + (i == result.chosen ? " (chosen)" : ""),
                      result.candidates[i].out_of_fold, result.labels});
  }
  write_file(dir / "roc.svg", train::roc_curve_svg(curves, "ROC, out-of-fold (mean over repeats)"));
  write_file(dir / "reliability.svg",
             train::reliability_svg({{chosen.name, bins}},
                                    "Reliability of the chosen candidate, out-of-fold"));
  write_file(dir / "importance.svg",
             train::importance_svg(importance, "Global importance of the model's inputs",
                                   "mean |contribution to log-odds|"));
}

}  // namespace

int run_train(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "segments") return run_train_segments(args);
  if (!args.empty() && args[0] == "offers") return run_train_offers(args);
  if (args.empty() || args[0] != "churn") {
    std::cerr << "Usage: nbo train churn|segments|offers [options]   (nbo train churn --help)\n";
    return 2;
  }
  std::string data_dir;
  std::string out_file;
  std::string report_dir;
  std::string version;
  std::string trained_at;
  std::string families;
  train::ChurnTrainingOptions options;
  po::options_description description("nbo train churn options");
  description.add_options()("help,h", "print this help and exit")(
      "data", po::value(&data_dir)->default_value("../shared/data/market"),
      "directory of the store export (market_file.csv, market_money.csv, market_time.csv, "
      "money.csv)")("out", po::value(&out_file)->default_value("models/churn.json"),
                    "model file to write")("report",
                                           po::value(&report_dir)->default_value("reports/churn"),
                                           "directory for the model report (churn_report.md)")(
      "seed", po::value(&options.seed)->default_value(options.seed), "random seed of the folds")(
      "folds", po::value(&options.folds)->default_value(options.folds), "k of k-fold CV")(
      "repeats", po::value(&options.repeats)->default_value(options.repeats),
      "repetitions of the outer k-fold CV")(
      "inner-folds", po::value(&options.inner_folds)->default_value(options.inner_folds),
      "k of the inner CV (hyperparameters, calibration, ensemble weights)")(
      "families", po::value(&families),
      "comma-separated model families to consider (default: all of logistic_l1, logistic_l2, "
      "k_nearest_neighbors, kernel_neighbors, decision_tree, support_vector, gradient_boosting, "
      "random_forest)")(
      "candidate", po::value(&options.candidate),
      "force this candidate (a family or 'ensemble') instead of the best CV ROC-AUC")(
      "threads", po::value(&options.threads)->default_value(0),
      "outer folds trained in parallel (0: one per core this process may use)")(
      "model-version", po::value(&version),
      "version recorded in the model file, \"{candidate}\" replaced by the chosen candidate "
      "(default: <data fingerprint>-seed<seed>-{candidate})")(
      "trained-at", po::value(&trained_at),
      "time recorded as the model's trained_at, YYYY-MM-DDTHH:MM:SSZ (default: the newest "
      "modification time of the export's files; pass it to reproduce a model file byte for byte "
      "on another copy of the export)");
  po::variables_map values;
  if (const auto status = parse_command_options(
          args, description, values, "nbo train churn",
          "Usage: nbo train churn [options]\n\nTrains the activity-decline model from a raw store "
          "export and writes the model file and a report.")) {
    return *status;
  }
  if (options.folds < 2 || options.repeats < 1 || options.inner_folds < 2) {
    std::cerr << "nbo train churn: --folds and --inner-folds must be >= 2 and --repeats >= 1\n";
    return 2;
  }
  if (!trained_at.empty() && !is_iso_utc_time(trained_at)) {
    std::cerr << "nbo train churn: --trained-at '" << trained_at
              << "' is not a UTC time like 2026-11-23T00:00:00Z\n";
    return 2;
  }
  for (std::size_t start = 0; start < families.size();) {
    const auto comma = families.find(',', start);
    const auto end = comma == std::string::npos ? families.size() : comma;
    if (end > start) options.families.push_back(families.substr(start, end - start));
    start = end + 1;
  }

  const auto started = std::chrono::steady_clock::now();
  std::cout << "reading store export from " << data_dir << "\n";
  train::MarketDataset data;
  try {
    data = train::load_market_export(data_dir);
  } catch (const std::exception& error) {
    std::cerr << "nbo train churn: " << error.what() << "\n";
    return 1;
  }
  std::cout << data.report.summary(20) << "\n";
  options.model_version =
      version.empty()
          ? fmt::format("{}-seed{}-{{candidate}}", data.fingerprint.substr(7, 12), options.seed)
          : version;
  options.trained_at = trained_at.empty() ? export_time(data_dir) : trained_at;
  train::ChurnTrainingResult result;
  try {
    result = train::train_churn_model(
        data, options, [](const std::string& line) { std::cout << line << std::endl; });
  } catch (const std::invalid_argument& error) {
    std::cerr << "nbo train churn: " << error.what() << "\n";
    return 2;
  }
  models::save_churn_model(*result.model, out_file);
  std::ostringstream command;
  command << "nbo train churn";
  for (std::size_t i = 1; i < args.size(); ++i) command << ' ' << args[i];
  write_report(report_dir, data, result, options, command.str());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  print_model_file_sha256(out_file);
  std::cout << fmt::format("wrote {} and {}/churn_report.md in {:.1f} s\n", out_file, report_dir,
                           seconds);
  return 0;
}

}  // namespace nbo::cli
