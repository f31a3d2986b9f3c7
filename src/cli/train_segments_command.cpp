// `nbo train segments`: the store's segments from an export and the churn model trained on it.
#include <fmt/format.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "nbo/cli/commands.hpp"
#include "nbo/models/churn_model.hpp"
#include "nbo/segments/segment_model.hpp"
#include "nbo/train/market_export.hpp"
#include "nbo/train/report_plots.hpp"
#include "nbo/train/segments_trainer.hpp"
#include "options.hpp"

namespace nbo::cli {
namespace po = boost::program_options;
namespace {

void write_text(const std::filesystem::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out.flush()) throw std::runtime_error("cannot write " + file.string());
}

std::string percent(double fraction) {
  return fmt::format("{:.1f}%", 100.0 * fraction);
}

std::string rule_text(const segments::Segment& segment) {
  if (segment.rule.empty()) return "every customer no rule above takes";
  std::string text;
  for (const auto& condition : segment.rule) {
    if (!text.empty()) text += " and ";
    text += fmt::format("`{} {}", condition.input, segments::operator_name(condition.op));
    if (condition.op == segments::Operator::kMissing) {
      text += "`";
    } else if (!condition.level.empty()) {
      text += fmt::format(" {}`", condition.level);
    } else {
      text += fmt::format(" {:.4g}`", condition.number);
    }
  }
  return text;
}

// The marketer's report: the grid, one table row per segment, each segment's rule, actions and
// evidence, the scatter plot, and every customer's segment (segments_customers.csv).
void write_segments_report(const std::filesystem::path& dir, const train::MarketDataset& data,
                           const train::SegmentTrainingResult& result, const std::string& command) {
  std::filesystem::create_directories(dir);
  const segments::SegmentModel& model = *result.model;
  std::ostringstream md;
  md << fmt::format("# Store segments: {}\n\n", model.metadata().version);
  md << fmt::format("Produced by `{}` in {:.1f} s.\n\n", command, result.seconds);
  md << fmt::format(
      "- training data fingerprint: `{}`\n- churn model: `{}` (candidate {}); its out-of-fold "
      "probabilities, reproduced by the same cross-validation, have ROC-AUC {:.4f}\n"
      "- customers: {} kept of {} read (ingestion as for the churn model)\n\n",
      model.metadata().training_data_fingerprint, model.metadata().churn_model_version,
      result.churn_candidate, result.out_of_fold_auc, data.report.customers_kept,
      data.report.customers_read);
  md << "## Thresholds\n\n";
  md << fmt::format("- **probability ≥ {:.4f}**: {}\n", model.probability_threshold().value,
                    model.probability_threshold().rationale);
  md << fmt::format("- **profit ≥ {:.4f}**: {}\n\n", model.profit_threshold().value,
                    model.profit_threshold().rationale);
  md << "Value at risk = probability × profit (monthly profit the store stands to lose).\n\n";

  // The grid: probability band x profit band.
  struct Cell {
    std::size_t customers = 0;
    std::size_t declined = 0;
    double value = 0.0;
  };
  Cell grid[2][3];  // [at risk][profit: low, high, unknown]
  for (const auto& customer : result.customers) {
    const int risk = customer.probability >= model.probability_threshold().value ? 1 : 0;
    const int band = !customer.profit                                     ? 2
                     : *customer.profit >= model.profit_threshold().value ? 1
                                                                          : 0;
    Cell& cell = grid[risk][band];
    ++cell.customers;
    cell.declined += static_cast<std::size_t>(customer.declined);
    cell.value += customer.value_at_risk.value_or(0.0);
  }
  md << "## The value-at-risk grid\n\n| | lower profit | high profit | profit unknown |\n"
        "|---|---|---|---|\n";
  for (const int risk : {1, 0}) {
    md << (risk ? "| **at risk**" : "| **stable**");
    for (int band = 0; band < 3; ++band) {
      const Cell& cell = grid[risk][band];
      md << fmt::format(" | {} customers, {} declined, value at risk {:.1f}", cell.customers,
                        percent(cell.customers ? static_cast<double>(cell.declined) /
                                                     static_cast<double>(cell.customers)
                                               : 0.0),
                        cell.value);
    }
    md << " |\n";
  }
  md << "\n![probability vs profit by segment](segments.svg)\n\n";

  md << "## Segments\n\nAssigned in this order: the first rule that holds takes the customer.\n\n"
        "| segment | customers | mean profit | decline rate | mean probability | value at risk "
        "(total) | value at risk (mean) | top reasons | actions |\n"
        "|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& segment : model.segments()) {
    const auto& stats = segment.stats;
    std::string reasons;
    for (const auto& reason : stats.top_reasons) {
      reasons += fmt::format("{}{} ({})", reasons.empty() ? "" : ", ", reason.field,
                             percent(reason.share));
    }
    std::string actions;
    for (const auto& action : segment.actions) {
      actions +=
          fmt::format("{}{}", actions.empty() ? "" : "; ", model.find_action(action.action)->title);
    }
    md << fmt::format(
        "| **{}** `{}` | {} ({}) | {:.2f} | {} | {:.3f} | {:.1f} | {:.2f} | {} | {} |\n",
        segment.name, segment.id, stats.customers, percent(stats.share), stats.mean_profit,
        percent(stats.decline_rate), stats.mean_probability, stats.value_at_risk_total,
        stats.value_at_risk_mean, reasons, actions);
  }
  md << "\nTop reasons: how often a field is among the churn model's three reasons for the "
        "segment's customers.\n\n";
  for (const auto& segment : model.segments()) {
    md << fmt::format("### {} (`{}`)\n\nRule: {}.\n\n", segment.name, segment.id,
                      rule_text(segment));
    if (!segment.actions.empty()) {
      md << "Actions:\n";
      for (const auto& action : segment.actions) {
        md << fmt::format("- **{}** — {} Evidence: {}.\n", model.find_action(action.action)->title,
                          model.find_action(action.action)->description, action.evidence);
      }
      md << "\n";
    }
    if (!segment.stats.differences.empty()) {
      md << "| field | this segment | other customers | difference (sd) |\n|---|---|---|---|\n";
      for (const auto& difference : segment.stats.differences) {
        md << fmt::format("| {} | {:.2f} | {:.2f} | {:+.2f} |\n", difference.field,
                          difference.segment_mean, difference.others_mean, difference.standardized);
      }
      md << "\n";
    }
  }
  std::size_t same = 0;
  for (const auto& customer : result.customers)
    same += customer.segment == customer.served_segment ? 1 : 0;
  md << fmt::format(
      "## Out-of-fold figures and what the service answers\n\n"
      "Every figure above uses out-of-fold probabilities: each customer scored by models that did "
      "not see them. The service scores with the churn model fitted on all of these customers, "
      "so for them its probabilities are in-sample and more extreme; {} of {} customers ({}) get "
      "the same segment both ways. For new customers the out-of-fold figures are the honest "
      "estimate. `segments_customers.csv` lists every customer with both: `probability` and "
      "`segment` out-of-fold, `served_probability` and `served_segment` as POST /segment "
      "answers.\n",
      same, result.customers.size(),
      percent(static_cast<double>(same) / static_cast<double>(result.customers.size())));
  write_text(dir / "segments_report.md", md.str());

  std::ostringstream csv;
  csv << "customer_id,probability,profit,value_at_risk,declined,segment,served_probability,"
         "served_segment\n";
  std::vector<train::ScatterPoint> points;
  for (const auto& customer : result.customers) {
    csv << fmt::format("{},{:.6f},{},{},{},{},{:.6f},{}\n", customer.customer_id,
                       customer.probability,
                       customer.profit ? fmt::format("{:.2f}", *customer.profit) : "",
                       customer.value_at_risk ? fmt::format("{:.6f}", *customer.value_at_risk) : "",
                       customer.declined, model.segments()[customer.segment].id,
                       customer.served_probability, model.segments()[customer.served_segment].id);
    if (customer.profit)
      points.push_back({customer.probability, *customer.profit, customer.segment});
  }
  write_text(dir / "segments_customers.csv", csv.str());
  std::vector<std::string> labels;
  for (const auto& segment : model.segments()) labels.push_back(segment.name);
  write_text(dir / "segments.svg",
             train::scatter_svg(
                 points, labels, model.probability_threshold().value,
                 model.profit_threshold().value, "Customers by decline probability and profit",
                 "probability of an activity decline (out-of-fold)", "profit per month"));
}

}  // namespace

int run_train_segments(const std::vector<std::string>& args) {
  std::string data_dir;
  std::string model_file;
  std::string out_file;
  std::string report_dir;
  std::string version;
  train::SegmentTrainingOptions options;
  po::options_description description("nbo train segments options");
  description.add_options()("help,h", "print this help and exit")(
      "data", po::value(&data_dir)->default_value("../shared/data/market"),
      "directory of the store export the churn model was trained on")(
      "model", po::value(&model_file)->default_value("models/churn.json"),
      "the churn model file whose probabilities the segments use")(
      "out", po::value(&out_file)->default_value("models/segments.json"), "segments file to write")(
      "report", po::value(&report_dir)->default_value("reports/segments"),
      "directory for the report (segments_report.md, segments.svg, segments_customers.csv)")(
      "threads", po::value(&options.threads)->default_value(0),
      "outer folds cross-validated in parallel (0: one per core this process may use)")(
      "max-subgroups", po::value(&options.max_subgroups)->default_value(options.max_subgroups),
      "behavioural sub-groups per at-risk cell")(
      "min-lift", po::value(&options.min_lift)->default_value(options.min_lift),
      "how much more common than among customers not at risk a sub-group's behaviour must be")(
      "segments-version", po::value(&version),
      "version recorded in the file (default: the churn model's version + '-segments')");
  po::variables_map values;
  if (const auto status = parse_command_options(
          args, description, values, "nbo train segments",
          "Usage: nbo train segments [options]\n\nDerives the store's segments (value-at-risk "
          "grid, behavioural sub-groups, actions) from the export and its churn model, and writes "
          "the segments file and a report.")) {
    return *status;
  }
  if (options.max_subgroups < 0 || !(options.min_lift >= 1.0)) {
    std::cerr << "nbo train segments: --max-subgroups must be >= 0 and --min-lift >= 1\n";
    return 2;
  }
  const auto started = std::chrono::steady_clock::now();
  std::shared_ptr<const models::ChurnModel> churn;
  train::MarketDataset data;
  try {
    churn = models::load_churn_model(model_file);
    std::cout << "reading store export from " << data_dir << "\n";
    data = train::load_market_export(data_dir);
  } catch (const std::exception& error) {
    std::cerr << "nbo train segments: " << error.what() << "\n";
    return 1;
  }
  std::cout << data.report.summary(5) << "\n";
  options.version = version.empty() ? churn->metadata().version + "-segments" : version;
  options.trained_at = churn->metadata().trained_at;
  options.trainer = "nbo train segments " NBO_VERSION;
  train::SegmentTrainingResult result;
  try {
    result = train::train_segments(data, *churn, options,
                                   [](const std::string& line) { std::cout << line << std::endl; });
  } catch (const std::invalid_argument& error) {
    std::cerr << "nbo train segments: " << error.what() << "\n";
    return 2;
  }
  segments::save_segment_model(*result.model, out_file);
  std::ostringstream command;
  command << "nbo train segments";
  for (std::size_t i = 1; i < args.size(); ++i) command << ' ' << args[i];
  write_segments_report(report_dir, data, result, command.str());
  print_model_file_sha256(out_file);
  std::cout << fmt::format(
      "wrote {} ({} segments) and {}/segments_report.md in {:.1f} s\n", out_file,
      result.model->segments().size(), report_dir,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return 0;
}

}  // namespace nbo::cli
