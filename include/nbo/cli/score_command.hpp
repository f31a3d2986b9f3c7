// Offline batch scoring (`nbo score`): customers from a CSV file or a raw store export, scored
// with the same pipeline the server uses (ChurnModel::predict), written as a CSV of scores.
//
// INPUT CSV. Read with the strict reader of train/csv.hpp (delimiter ',' or ';' detected from
// the header, optional BOM, CRLF or LF). The header must hold exactly one id column, named
// `customer_id` or `id`. Every other column names a store field either by its API name
// (features::store_fields()[i].api_name, e.g. `tenure_days`) or by the raw export's column name
// (store_fields()[i].source.column) for fields whose source is market_file.csv; the per-month
// fields (revenue_*, minutes_*) and profit share their export column names, so they must use
// API names. Columns that name no store field (e.g. the export's label column) are ignored and
// reported in ScoreSummary::ignored_columns. Cells:
//   - empty: the field is absent (the model's missing-value policy decides);
//   - numbers: train::parse_number syntax; a decimal comma ("4,16") only in ';'-separated input;
//   - booleans: true/false/1/0/да/нет;
//   - categories: the store's levels, known misspellings normalized (features::normalize_category).
// Structural problems (unreadable CSV, no or two id columns, a field given twice, an export
// column that cannot be mapped) throw train::DataError naming the input, line and column.
//
// OUTPUT CSV (',' separated, UTF-8, LF line ends, RFC-4180 quoting where a cell needs it), one
// row per input data row in input order:
//   customer_id, probability, label, risk_band, reason_1, contribution_1, ..., reason_N,
//   contribution_N, error
// Without reason columns (reasons = 0) the rows' margins are computed in one batch
// (ChurnModel::predict_many), bit for bit the probabilities predict() gives.
// probability and contributions are printed with 17 significant digits ("%.17g"), so they
// parse back to exactly the doubles predict() returned; label is 0/1; reason_k is the API name
// of the k-th reason (reasons sorted by |contribution| descending), empty when the model gave
// fewer. A row that fails validation (features::ValidationError from reading its cells or from
// predict(); also an empty id) does not stop the run: its score cells are empty and `error`
// reads "<code>: <message>", e.g. "unknown_category: field 'popular_category' has unknown
// value ...". Scored rows have an empty error cell.
//
// Thread safety: the functions are reentrant; the model is only read (ChurnModel is immutable).
#pragma once

#include <cstddef>
#include <iosfwd>
#include <string>
#include <vector>

#include "nbo/models/churn_model.hpp"
#include "nbo/train/market_export.hpp"

namespace nbo::cli {

struct ScoreSummary {
  std::size_t rows_scored = 0;
  std::size_t rows_failed = 0;               // rows written with an error instead of a score
  std::vector<std::string> ignored_columns;  // input columns that name no store field
};

// The output header for `reasons` reason columns.
std::vector<std::string> score_output_header(std::size_t reasons);

// Scores the CSV read from `in` (labelled `input_name` in errors) and writes the output CSV,
// header first, to `out`. Throws train::DataError for a structurally bad input (nothing useful
// has been written then) and std::runtime_error when `out` fails.
ScoreSummary score_csv(const models::ChurnModel& model, std::istream& in,
                       const std::string& input_name, std::ostream& out, std::size_t reasons);

// Scores the customers a raw store export kept (train::load_market_export), in its order, and
// writes the output CSV to `out`. Customers excluded by ingestion are not written: they are in
// data.report. Throws std::runtime_error when `out` fails.
ScoreSummary score_export(const models::ChurnModel& model, const train::MarketDataset& data,
                          std::ostream& out, std::size_t reasons);

}  // namespace nbo::cli
