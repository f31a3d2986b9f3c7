#include "nbo/cli/score_command.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <variant>
#include <vector>

#include "nbo/cli/commands.hpp"
#include "nbo/train/csv.hpp"

namespace nbo::cli {
namespace po = boost::program_options;
namespace {

constexpr std::string_view kCustomerIdColumn = "customer_id";

// One CSV cell, quoted when it holds a delimiter, a quote or a line break.
void write_cell(std::string& line, std::string_view cell) {
  if (cell.find_first_of(",\"\r\n") == std::string_view::npos) {
    line += cell;
    return;
  }
  line += '"';
  for (const char c : cell) {
    if (c == '"') line += '"';
    line += c;
  }
  line += '"';
}

void write_row(std::ostream& out, const std::vector<std::string>& cells) {
  std::string line;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (i > 0) line += ',';
    write_cell(line, cells[i]);
  }
  line += '\n';
  out << line;
}

std::string number_text(double value) {
  return fmt::format("{:.17g}", value);
}

// Writes the output row of one customer: its prediction, or its error when `error` is set.
void write_result(std::ostream& out, const std::string& customer_id,
                  const models::Prediction& prediction,
                  const std::optional<features::ValidationError>& error, std::size_t reasons) {
  std::vector<std::string> cells(score_output_header(reasons).size());
  cells[0] = customer_id;
  if (error) {
    cells.back() = fmt::format("{}: {}", error->code(), error->what());
  } else {
    cells[1] = number_text(prediction.probability);
    cells[2] = prediction.label ? "1" : "0";
    cells[3] = prediction.risk_band != nullptr ? prediction.risk_band->name : "";
    for (std::size_t k = 0; k < prediction.reasons.size() && k < reasons; ++k) {
      cells[4 + 2 * k] = std::string(features::store_field(prediction.reasons[k].field).api_name);
      cells[5 + 2 * k] = number_text(prediction.reasons[k].contribution);
    }
  }
  write_row(out, cells);
  if (!out) throw std::runtime_error("cannot write the scores");
}

// One input row: the customer read from it, or the problem reading it.
struct ScoreItem {
  std::string customer_id;
  const features::RawCustomer* customer = nullptr;
  std::optional<features::ValidationError> problem;
};

// Scores and writes the items in order. Without reasons the margins come from one batch
// (ChurnModel::predict_many); with reasons each customer is explained by predict().
void score_items(const models::ChurnModel& model, const std::vector<ScoreItem>& items,
                 std::size_t reasons, std::ostream& out, ScoreSummary& summary) {
  std::vector<models::ChurnModel::BatchResult> batch;
  if (reasons == 0) {
    std::vector<const features::RawCustomer*> customers;
    for (const auto& item : items) {
      if (!item.problem) customers.push_back(item.customer);
    }
    batch = model.predict_many(customers);
  }
  std::size_t next = 0;
  for (const auto& item : items) {
    models::Prediction prediction;
    std::optional<features::ValidationError> error = item.problem;
    if (!error && reasons == 0) {
      auto& result = batch[next++];
      if (auto* scored = std::get_if<models::Prediction>(&result)) {
        prediction = std::move(*scored);
      } else {
        error = std::get<features::ValidationError>(result);
      }
    } else if (!error) {
      try {
        prediction = model.predict(*item.customer, reasons);
      } catch (const features::ValidationError& failure) {
        error = failure;
      }
    }
    write_result(out, item.customer_id, prediction, error, reasons);
    (error ? summary.rows_failed : summary.rows_scored) += 1;
  }
}

// Which store field each input column feeds; nullopt for the id column and ignored columns.
struct InputLayout {
  std::size_t id_column = 0;
  std::vector<std::optional<features::FieldId>> fields;
  std::vector<std::string> ignored;
};

std::optional<features::FieldId> field_of_column(const train::CsvTable& table,
                                                 const std::string& name) {
  if (const auto id = features::find_field(name)) return id;
  std::vector<std::string_view> sharing;
  for (const auto& field : features::store_fields()) {
    if (field.source.column != name) continue;
    if (field.source.file == train::kMarketFile) return field.id;
    sharing.push_back(field.api_name);
  }
  if (sharing.empty()) return std::nullopt;
  throw train::DataError(
      table.file, 1, name,
      fmt::format("export column '{}' does not say which field it holds; name the column by its "
                  "API name ({})",
                  name, fmt::join(sharing, ", ")));
}

InputLayout input_layout(const train::CsvTable& table) {
  InputLayout layout;
  layout.fields.resize(table.header.size());
  std::optional<std::size_t> id_column;
  std::vector<std::optional<std::size_t>> column_of_field(features::kFieldCount);
  for (std::size_t c = 0; c < table.header.size(); ++c) {
    const std::string& name = table.header[c];
    if (name == kCustomerIdColumn || name == train::kIdColumn) {
      if (id_column) {
        throw train::DataError(
            table.file, 1, name,
            fmt::format("a second id column (the first is '{}')", table.header[*id_column]));
      }
      id_column = c;
      continue;
    }
    const auto field = field_of_column(table, name);
    if (!field) {
      layout.ignored.push_back(name);
      continue;
    }
    auto& seen = column_of_field[features::index_of(*field)];
    if (seen) {
      throw train::DataError(
          table.file, 1, name,
          fmt::format("field '{}' is also given by column '{}'",
                      features::store_field(*field).api_name, table.header[*seen]));
    }
    seen = c;
    layout.fields[c] = field;
  }
  if (!id_column) {
    throw train::DataError(table.file, 1, "",
                           fmt::format("no id column: the header needs '{}' or '{}'",
                                       kCustomerIdColumn, train::kIdColumn));
  }
  layout.id_column = *id_column;
  return layout;
}

void set_cell(features::RawCustomer& customer, features::FieldId id, const std::string& text,
              bool decimal_comma_allowed) {
  const auto& field = features::store_field(id);
  const std::string name(field.api_name);
  switch (field.type) {
    case features::FieldType::kNumber:
    case features::FieldType::kInteger: {
      const auto number = train::parse_number(text);
      if (!number) {
        throw features::ValidationError(
            "invalid_type", name, fmt::format("field '{}' must be a number, got '{}'", name, text));
      }
      if (number->decimal_comma && !decimal_comma_allowed) {
        throw features::ValidationError(
            "invalid_value", name,
            fmt::format("field '{}': decimal comma in '{}' is only accepted in ';'-separated "
                        "input",
                        name, text));
      }
      customer.set_number(id, number->value);
      return;
    }
    case features::FieldType::kBoolean:
      if (text == "true" || text == "1" || text == "да") {
        customer.set_boolean(id, true);
      } else if (text == "false" || text == "0" || text == "нет") {
        customer.set_boolean(id, false);
      } else {
        throw features::ValidationError(
            "invalid_type", name,
            fmt::format("field '{}' must be a boolean (true/false/1/0/да/нет), got '{}'", name,
                        text));
      }
      return;
    case features::FieldType::kCategory:
      customer.set_category(id, text);
      return;
  }
}

void write_header(std::ostream& out, std::size_t reasons) {
  write_row(out, score_output_header(reasons));
  if (!out) throw std::runtime_error("cannot write the scores");
}

// Removes a temporary output file unless it was renamed into place.
class TemporaryFile {
 public:
  explicit TemporaryFile(std::filesystem::path path) : path_(std::move(path)) {}
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  ~TemporaryFile() {
    if (!path_.empty()) {
      std::error_code ignored;
      std::filesystem::remove(path_, ignored);
    }
  }
  const std::filesystem::path& path() const { return path_; }
  void rename_to(const std::filesystem::path& target) {
    std::filesystem::rename(path_, target);
    path_.clear();
  }

 private:
  std::filesystem::path path_;
};

constexpr std::string_view kUsage =
    "Usage: nbo score --input <customers.csv | export dir> --out <scores.csv> [options]\n";

}  // namespace

std::vector<std::string> score_output_header(std::size_t reasons) {
  std::vector<std::string> header{"customer_id", "probability", "label", "risk_band"};
  for (std::size_t k = 1; k <= reasons; ++k) {
    header.push_back(fmt::format("reason_{}", k));
    header.push_back(fmt::format("contribution_{}", k));
  }
  header.emplace_back("error");
  return header;
}

ScoreSummary score_csv(const models::ChurnModel& model, std::istream& in,
                       const std::string& input_name, std::ostream& out, std::size_t reasons) {
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) throw train::DataError(input_name, 0, "", "cannot read the input");
  const train::CsvTable table = train::parse_csv(bytes.str(), input_name);
  const InputLayout layout = input_layout(table);
  const bool decimal_comma_allowed = table.delimiter == ';';

  ScoreSummary summary;
  summary.ignored_columns = layout.ignored;
  write_header(out, reasons);
  std::vector<features::RawCustomer> customers(table.rows.size());
  std::vector<ScoreItem> items;
  items.reserve(table.rows.size());
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const auto& row = table.rows[r];
    ScoreItem& item = items.emplace_back();
    item.customer_id = row.fields[layout.id_column];
    item.customer = &customers[r];
    try {
      if (item.customer_id.empty()) {
        throw features::ValidationError("missing_field", std::string(kCustomerIdColumn),
                                        fmt::format("line {}: the customer id is empty", row.line));
      }
      for (std::size_t c = 0; c < row.fields.size(); ++c) {
        if (layout.fields[c] && !row.fields[c].empty()) {
          set_cell(customers[r], *layout.fields[c], row.fields[c], decimal_comma_allowed);
        }
      }
    } catch (const features::ValidationError& error) {
      item.problem = error;
    }
  }
  score_items(model, items, reasons, out, summary);
  return summary;
}

ScoreSummary score_export(const models::ChurnModel& model, const train::MarketDataset& data,
                          std::ostream& out, std::size_t reasons) {
  ScoreSummary summary;
  write_header(out, reasons);
  std::vector<ScoreItem> items;
  items.reserve(data.customers.size());
  for (const auto& labeled : data.customers) {
    items.push_back({labeled.customer_id, &labeled.customer, std::nullopt});
  }
  score_items(model, items, reasons, out, summary);
  return summary;
}

int run_score(const std::vector<std::string>& args) {
  std::string model_file;
  std::string input;
  std::string out_file;
  int reasons = 3;
  po::options_description description("nbo score options");
  description.add_options()("help,h", "print this help and exit")(
      "model", po::value(&model_file)->default_value("models/churn.json"), "model file")(
      "input", po::value(&input),
      "customers to score: a CSV file (id column customer_id or id; store fields by API name "
      "or by market_file.csv column name) or a directory holding a raw store export")(
      "out", po::value(&out_file), "output CSV, written atomically (temp file + rename)")(
      "reasons", po::value(&reasons)->default_value(reasons), "reason columns per row (0 to 17)");
  po::variables_map values;
  try {
    po::store(po::command_line_parser(args).options(description).run(), values);
    po::notify(values);
  } catch (const po::error& error) {
    std::cerr << "nbo score: " << error.what() << "\n" << kUsage;
    return 2;
  }
  if (values.count("help") != 0) {
    std::cout << kUsage
              << "\nScores customers offline with the model the server uses and writes one CSV "
                 "row per customer:\ncustomer_id, probability (17 significant digits), label, "
                 "risk_band, reason_k, contribution_k, error.\n\nExit status: 0 every row "
                 "scored; 3 some rows failed validation (see their error column); 1 the model, "
                 "input or output file cannot be used; 2 bad usage.\n\n"
              << description;
    return 0;
  }
  if (input.empty() || out_file.empty()) {
    std::cerr << "nbo score: --input and --out are required\n" << kUsage;
    return 2;
  }
  if (reasons < 0 || static_cast<std::size_t>(reasons) > features::kFieldCount) {
    std::cerr << fmt::format("nbo score: --reasons must be in [0, {}], got {}\n",
                             features::kFieldCount, reasons);
    return 2;
  }
  const auto reason_count = static_cast<std::size_t>(reasons);

  std::shared_ptr<const models::ChurnModel> model;
  try {
    model = models::load_churn_model(model_file);
  } catch (const std::exception& error) {
    std::cerr << "nbo score: " << error.what() << "\n";
    return 1;
  }

  const auto started = std::chrono::steady_clock::now();
  const std::filesystem::path out_path(out_file);
  TemporaryFile temporary(out_path.string() + fmt::format(".tmp.{}", ::getpid()));
  ScoreSummary summary;
  std::string excluded_note;
  try {
    std::ofstream out(temporary.path(), std::ios::binary | std::ios::trunc);
    if (!out) {
      throw std::runtime_error(
          fmt::format("cannot write {} (temporary file {})", out_file, temporary.path().string()));
    }
    if (std::filesystem::is_directory(input)) {
      const train::MarketDataset data = train::load_market_export(input);
      summary = score_export(*model, data, out, reason_count);
      std::cerr << data.report.summary(10) << "\n";
      excluded_note =
          fmt::format("; store export: {} customers read, {} excluded by ingestion (listed above)",
                      data.report.customers_read, data.report.excluded_ids.size());
    } else {
      std::istringstream in(train::read_file_bytes(input));
      summary = score_csv(*model, in, std::filesystem::path(input).filename().string(), out,
                          reason_count);
    }
    if (!out.flush()) throw std::runtime_error(fmt::format("cannot write {}", out_file));
    out.close();
    temporary.rename_to(out_path);
  } catch (const std::exception& error) {
    std::cerr << "nbo score: " << error.what() << "\n";
    return 1;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!summary.ignored_columns.empty()) {
    std::cerr << fmt::format("nbo score: ignored columns that name no store field: {}\n",
                             fmt::join(summary.ignored_columns, ", "));
  }
  const std::size_t rows = summary.rows_scored + summary.rows_failed;
  std::cerr << fmt::format(
      "nbo score: {} rows scored, {} failed, {:.3f} s, {:.0f} rows/s -> {}{}\n",
      summary.rows_scored, summary.rows_failed, seconds,
      seconds > 0.0 ? static_cast<double>(rows) / seconds : 0.0, out_file, excluded_note);
  return summary.rows_failed == 0 ? 0 : 3;
}

}  // namespace nbo::cli
