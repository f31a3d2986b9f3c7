#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "nbo/cli/commands.hpp"
#include "nbo/models/churn_model.hpp"
#include "nbo/train/churn_trainer.hpp"
#include "nbo/train/market_export.hpp"

namespace nbo::cli {
namespace po = boost::program_options;
namespace {

// The export's newest file modification time, as ISO-8601 UTC: the model's trained_at, so that
// retraining the same export with the same seed reproduces the model file byte for byte.
std::string export_time(const std::filesystem::path& dir) {
  std::filesystem::file_time_type newest{};
  for (const auto name : {train::kMarketFile, train::kMarketMoneyFile, train::kMarketTimeFile,
                          train::kMoneyFile}) {
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

void write_report(const std::filesystem::path& dir, const train::MarketDataset& data,
                  const train::ChurnTrainingResult& result,
                  const train::ChurnTrainingOptions& options, const std::string& command) {
  std::filesystem::create_directories(dir);
  const auto& model = *result.model;
  std::ostringstream md;
  md << "# Churn model report: " << model.metadata().name << " " << model.metadata().version
     << "\n\n"
     << "Produced by `" << command << "`.\n\n"
     << "- training data fingerprint: `" << model.metadata().training_data_fingerprint << "`\n"
     << "- trained_at (the export's time): " << model.metadata().trained_at << "\n"
     << fmt::format("- cross-validation: {}x{} repeated stratified k-fold, seed {}\n\n",
                    options.repeats, options.folds, options.seed)
     << "## Ingestion\n\n```\n"
     << data.report.summary() << "\n```\n\n"
     << "## Candidates\n\n"
     << "| candidate | ROC-AUC mean ± std | log-loss | Brier | Brier if isotonic | fit time (s, all folds) |\n"
     << "|---|---|---|---|---|---|\n";
  for (std::size_t i = 0; i < result.candidates.size(); ++i) {
    const auto& c = result.candidates[i];
    md << fmt::format("| {}{} | {:.4f} ± {:.4f} | {:.4f} | {:.4f} | {:.4f} | {:.2f} |\n", c.name,
                      i == result.chosen ? " **(chosen)**" : "", c.auc_mean, c.auc_std,
                      c.log_loss_mean, c.brier_mean, c.brier_isotonic_mean, c.fit_seconds);
  }
  md << "\n## Decision rule\n\n" << model.decision().rationale << "\n\n| band | probability |\n|---|---|\n";
  double lower = 0.0;
  for (const auto& band : model.decision().bands) {
    md << fmt::format("| {} | [{:.4f}, {:.4f}{} |\n", band.name, lower, band.upper,
                      band.upper == 1.0 ? "]" : ")");
    lower = band.upper;
  }
  md << "\n## Coefficients (standardized inputs, log-odds of decline)\n\n| column | weight |\n"
        "|---|---|\n";
  if (const auto* linear = dynamic_cast<const models::LogisticRegression*>(&model.estimator())) {
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
  std::ofstream out(dir / "churn_report.md", std::ios::binary | std::ios::trunc);
  out << md.str();
  if (!out.flush()) throw std::runtime_error("cannot write " + (dir / "churn_report.md").string());
}

}  // namespace

int run_train(const std::vector<std::string>& args) {
  if (args.empty() || args[0] != "churn") {
    std::cerr << "Usage: nbo train churn [options]   (nbo train churn --help)\n";
    return 2;
  }
  std::string data_dir;
  std::string out_file;
  std::string report_dir;
  std::string version;
  train::ChurnTrainingOptions options;
  po::options_description description("nbo train churn options");
  description.add_options()("help,h", "print this help and exit")(
      "data", po::value(&data_dir)->default_value("../shared/data/market"),
      "directory of the store export (market_file.csv, market_money.csv, market_time.csv, "
      "money.csv)")("out", po::value(&out_file)->default_value("models/churn.json"),
                    "model file to write")(
      "report", po::value(&report_dir)->default_value("reports/churn"),
      "directory for the model report (churn_report.md)")(
      "seed", po::value(&options.seed)->default_value(options.seed), "random seed of the folds")(
      "folds", po::value(&options.folds)->default_value(options.folds), "k of k-fold CV")(
      "repeats", po::value(&options.repeats)->default_value(options.repeats),
      "repetitions of k-fold CV")("model-version", po::value(&version),
                                  "version recorded in the model file (default: derived from the "
                                  "data fingerprint)");
  po::variables_map values;
  try {
    po::store(po::command_line_parser(std::vector<std::string>(args.begin() + 1, args.end()))
                  .options(description)
                  .run(),
              values);
    po::notify(values);
  } catch (const po::error& error) {
    std::cerr << "nbo train churn: " << error.what() << "\n";
    return 2;
  }
  if (values.count("help") != 0) {
    std::cout << "Usage: nbo train churn [options]\n\nTrains the activity-decline model from a raw "
                 "store export and writes the model file and a report.\n\n"
              << description;
    return 0;
  }
  if (options.folds < 2 || options.repeats < 1) {
    std::cerr << "nbo train churn: --folds must be >= 2 and --repeats >= 1\n";
    return 2;
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
      version.empty() ? fmt::format("lr-{}", data.fingerprint.substr(7, 12)) : version;
  options.trained_at = export_time(data_dir);
  const auto result = train::train_churn_model(
      data, options, [](const std::string& line) { std::cout << line << std::endl; });
  models::save_churn_model(*result.model, out_file);
  std::ostringstream command;
  command << "nbo train churn";
  for (std::size_t i = 1; i < args.size(); ++i) command << ' ' << args[i];
  write_report(report_dir, data, result, options, command.str());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << fmt::format("wrote {} and {}/churn_report.md in {:.1f} s\n", out_file, report_dir,
                           seconds);
  return 0;
}

}  // namespace nbo::cli
