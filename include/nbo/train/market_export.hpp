// Ingestion of the raw «В один клик» store export (../shared/data/market) into labelled customers.
//
// The export is four files (all read with the strict CSV reader of csv.hpp, delimiter detected
// from each header, so ',' / ';' and CRLF / LF may be mixed):
//   market_file.csv   one row per customer: id, the label, the per-customer store fields
//   market_money.csv  long: id, Период, Выручка   (three months per customer)
//   market_time.csv   long: id, Период, минут     (two months per customer)
//   money.csv         id, Прибыль                 (';'-separated, decimal commas)
// Which column feeds which store field (and for the long files, which period) comes only from
// features::store_fields(); this module adds just the columns that are not store fields (`id`,
// `Период`, the label `Покупательская активность`).
//
// POLICY. The loader fixes what it can (each fix is counted in IngestionReport::fixes under a
// rule name) and excludes what it cannot (each problem is an IngestionIssue in
// IngestionReport::rejected, with file, line, column and customer id). Any issue attached to a
// customer excludes that customer from the training set; a customer may have several issues.
//   Fixes:
//   - known misspelt category levels are normalized via features::normalize_category
//     ("service_type 'стандартт' -> 'стандарт'");
//   - known misspelt period names are normalized ("period 'предыдцщий_месяц' ->
//     'предыдущий_месяц'");
//   - decimal commas in numbers are read as decimal points ("<file> decimal comma");
//   - an exact duplicate row (every raw field identical to an earlier row for the same customer,
//     and for the long files the same normalized period) is dropped
//     ("<file> exact duplicate row dropped").
//   Exclusions (IngestionIssue):
//   (a) a month with zero revenue (the customer was not active all three months), as the published
//       analyses do; one issue per zero-revenue row. Off with exclude_zero_revenue_months=false.
//   (b) a monthly revenue above max_monthly_revenue (default 100000; the export has one 106862.2
//       while the next largest is ~7800) is taken for an entry error; one issue at that row.
//   (c) an id present in some file but missing from another, or missing one of the periods a long
//       file must have: one issue per missing piece, file = where it is missing, line 0, column
//       `id` (no row at all) or `Период` (a period missing). A missing money.csv row is tolerated
//       (profit = NaN) when require_profit=false. Only reported for customers with no other issue.
//   (d) a duplicate row that differs from the first one in any field: issue at the later row,
//       column = first differing column.
//   (e) a value that is not a number, out of its field's range (features::RawCustomer setters),
//       not an integer where one is required, an unknown category or period, a boolean other than
//       «да»/«нет», a label other than «Снизилась»/«Прежний уровень», an empty id: issue at that
//       row and column. A row with an empty id excludes no customer (there is none to name).
//   (f) a malformed FILE throws DataError naming file, line and column: a missing file, a missing,
//       renamed or extra header column, bad UTF-8, an empty file, a row with the wrong number of
//       fields, broken quoting (see csv.hpp).
//
// Thread safety: load_market_export is reentrant (no shared state). Ownership: the result owns
// everything. Failure: DataError for malformed files (f); data-level problems never throw.
#pragma once

#include <cstddef>
#include <filesystem>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "nbo/features/customer.hpp"
#include "nbo/train/csv.hpp"

namespace nbo::train {

// The export's file names, in the fixed order used for the fingerprint.
inline constexpr std::string_view kMarketFile = "market_file.csv";
inline constexpr std::string_view kMarketMoneyFile = "market_money.csv";
inline constexpr std::string_view kMarketTimeFile = "market_time.csv";
inline constexpr std::string_view kMoneyFile = "money.csv";

// Columns that are not store fields (store-field columns live in features::store_fields()).
inline constexpr std::string_view kIdColumn = "id";
inline constexpr std::string_view kPeriodColumn = "Период";
inline constexpr std::string_view kLabelColumn = "Покупательская активность";
inline constexpr std::string_view kLabelDeclined = "Снизилась";
inline constexpr std::string_view kLabelSame = "Прежний уровень";

struct LabeledCustomer {
  std::string customer_id;
  features::RawCustomer customer;  // every store field present (profit unless NaN)
  int declined = 0;  // 1 = «Снизилась», 0 = «Прежний уровень»
  double profit = std::numeric_limits<double>::quiet_NaN();  // NaN if missing
};

struct IngestionIssue {
  std::string file;
  std::size_t line = 0;  // 1-based; 0 when the problem is a missing row
  std::string column;    // header name of the offending column
  std::string reason;
  std::string customer_id;  // empty when the row had no usable id
  bool operator==(const IngestionIssue&) const = default;
};
// "<file>:<line>: column '<column>': <reason> (customer <id>)".
std::string to_string(const IngestionIssue& issue);

struct IngestionReport {
  // Rule name -> count, e.g. "service_type 'стандартт' -> 'стандарт'": 10.
  std::map<std::string, std::size_t> fixes;
  // Every rejected row / excluded customer with why, sorted by (file order, line, column, id).
  std::vector<IngestionIssue> rejected;
  std::vector<std::string> excluded_ids;  // distinct customers excluded, sorted like customers
  std::size_t customers_read = 0;         // distinct non-empty ids seen in any of the four files
  std::size_t customers_kept = 0;         // == customers_read - excluded_ids.size()

  // Human-readable multi-line summary (counts, every fix, the rejections: at most
  // max_rejections_listed of them, then "... and N more").
  std::string summary(std::size_t max_rejections_listed = 50) const;
};

struct MarketDataset {
  std::vector<LabeledCustomer> customers;  // sorted by id (numerically for digit ids)
  IngestionReport report;
  // "sha256:<hex>" over, for each file in the fixed order above: the file name, '\n', the byte
  // count in decimal, '\n', the file's bytes.
  std::string fingerprint;
};

struct IngestionPolicy {
  bool exclude_zero_revenue_months = true;  // (a)
  double max_monthly_revenue = 100000.0;    // (b) inclusive bound; +inf disables
  bool require_profit = true;               // (c) for money.csv
};

// Loads `dir`/{market_file,market_money,market_time,money}.csv. Throws DataError (f).
MarketDataset load_market_export(const std::filesystem::path& dir,
                                 const IngestionPolicy& policy = {});

// Orders customer ids: digit-only ids numerically (shorter first), before any other ids, which
// compare as strings.
bool customer_id_less(std::string_view a, std::string_view b);

}  // namespace nbo::train
