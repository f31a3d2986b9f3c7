#include "nbo/train/market_export.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <set>
#include <utility>

#include "nbo/train/fingerprint.hpp"

namespace nbo::train {
namespace {

using features::FieldId;
using features::FieldType;
using features::StoreField;

constexpr std::array<std::string_view, 4> kFiles{kMarketFile, kMarketMoneyFile, kMarketTimeFile,
                                                 kMoneyFile};

// Known misspellings of period names (the `Период` column of the long files).
struct PeriodAlias {
  std::string_view misspelt;
  std::string_view canonical;
};
constexpr std::array<PeriodAlias, 1> kPeriodAliases{{
    {"предыдцщий_месяц", "предыдущий_месяц"},
}};

constexpr std::array<FieldId, 3> kRevenueFields{
    FieldId::kRevenue2MonthsAgo, FieldId::kRevenueLastMonth, FieldId::kRevenueThisMonth};

bool is_revenue(FieldId id) {
  return std::find(kRevenueFields.begin(), kRevenueFields.end(), id) != kRevenueFields.end();
}

std::size_t file_order(std::string_view file) {
  const auto it = std::find(kFiles.begin(), kFiles.end(), file);
  return static_cast<std::size_t>(it - kFiles.begin());
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Store fields read from `file`, in store_fields() order.
std::vector<const StoreField*> fields_of(std::string_view file) {
  std::vector<const StoreField*> out;
  for (const auto& field : features::store_fields()) {
    if (field.source.file == file) out.push_back(&field);
  }
  return out;
}

// The distinct value columns of `file`'s store fields, in order of first appearance.
std::vector<std::string> value_columns_of(std::string_view file) {
  std::vector<std::string> out;
  for (const StoreField* field : fields_of(file)) {
    const std::string column(field->source.column);
    if (std::find(out.begin(), out.end(), column) == out.end()) out.push_back(column);
  }
  return out;
}

std::string number_text(double value) {
  return fmt::format("{}", value);
}

struct Pending {
  bool has_issue = false;
  bool in_market_file = false;
  bool has_profit = false;
  features::RawCustomer customer;
  int declined = 0;
  double profit = std::numeric_limits<double>::quiet_NaN();
  std::map<std::string, std::set<std::string>> periods_seen;  // file -> canonical periods
  std::set<std::string> files_seen;
};

struct FirstRow {
  std::size_t line = 0;
  std::vector<std::string> fields;  // with the period (if any) normalized
};

class Loader {
 public:
  explicit Loader(const IngestionPolicy& policy) : policy_(policy) {}

  void market_file(const CsvTable& table) {
    const std::size_t id_col = table.column_index(kIdColumn);
    const std::size_t label_col = table.column_index(kLabelColumn);
    const auto fields = fields_of(kMarketFile);
    for (const CsvRow& row : table.rows) {
      const std::string* id = row_id(table, row, id_col);
      if (id == nullptr || is_duplicate(table, row, *id, row.fields)) continue;
      Pending& pending = customers_[*id];
      pending.in_market_file = true;

      const std::string& label = row.fields[label_col];
      if (label == kLabelDeclined) {
        pending.declined = 1;
      } else if (label == kLabelSame) {
        pending.declined = 0;
      } else {
        add_issue(table, row, label_col, *id,
                  fmt::format("unknown label '{}'; expected '{}' or '{}'", label, kLabelDeclined,
                              kLabelSame));
      }
      for (const StoreField* field : fields) {
        const std::size_t col = table.column_index(field->source.column);
        set_field(table, row, col, *id, *field, pending);
      }
    }
  }

  // market_money.csv / market_time.csv: id, Период, one value column.
  void long_file(const CsvTable& table) {
    const std::size_t id_col = table.column_index(kIdColumn);
    const std::size_t period_col = table.column_index(kPeriodColumn);
    const auto fields = fields_of(table.file);
    for (const CsvRow& row : table.rows) {
      const std::string* id = row_id(table, row, id_col);
      if (id == nullptr) continue;
      const std::string& raw_period = row.fields[period_col];
      std::string period = raw_period;
      for (const auto& alias : kPeriodAliases) {
        if (raw_period == alias.misspelt) period = std::string(alias.canonical);
      }
      const auto field = std::find_if(fields.begin(), fields.end(), [&](const StoreField* f) {
        return f->source.period == period;
      });
      if (field == fields.end()) {
        std::string known;
        for (const StoreField* f : fields) {
          known += fmt::format("{}'{}'", known.empty() ? "" : ", ", f->source.period);
        }
        add_issue(table, row, period_col, *id,
                  fmt::format("unknown period '{}'; expected one of {}", raw_period, known));
        continue;
      }
      std::vector<std::string> normalized = row.fields;
      normalized[period_col] = period;
      if (is_duplicate(table, row, *id + '\x1f' + period, normalized)) continue;
      if (period != raw_period) count_fix(fmt::format("period '{}' -> '{}'", raw_period, period));
      Pending& pending = customers_[*id];
      pending.periods_seen[table.file].insert(period);
      const std::size_t col = table.column_index((*field)->source.column);
      set_field(table, row, col, *id, **field, pending);
    }
  }

  void money(const CsvTable& table) {
    const std::size_t id_col = table.column_index(kIdColumn);
    const StoreField& field = features::store_field(FieldId::kProfit);
    const std::size_t col = table.column_index(field.source.column);
    for (const CsvRow& row : table.rows) {
      const std::string* id = row_id(table, row, id_col);
      if (id == nullptr || is_duplicate(table, row, *id, row.fields)) continue;
      Pending& pending = customers_[*id];
      pending.has_profit = true;
      set_field(table, row, col, *id, field, pending);
    }
  }

  MarketDataset finish() {
    MarketDataset out;
    IngestionReport& report = out.report;
    std::vector<std::pair<std::string, Pending*>> ordered;
    ordered.reserve(customers_.size());
    for (auto& [id, pending] : customers_) ordered.emplace_back(id, &pending);
    std::sort(ordered.begin(), ordered.end(),
              [](const auto& a, const auto& b) { return customer_id_less(a.first, b.first); });

    for (auto& [id, pending] : ordered) {
      if (!pending->has_issue) check_complete(id, *pending);
      if (pending->has_issue) {
        report.excluded_ids.push_back(id);
        continue;
      }
      LabeledCustomer customer;
      customer.customer_id = id;
      customer.customer = std::move(pending->customer);
      customer.declined = pending->declined;
      customer.profit = pending->profit;
      out.customers.push_back(std::move(customer));
    }
    std::stable_sort(issues_.begin(), issues_.end(),
                     [](const IngestionIssue& a, const IngestionIssue& b) {
                       const auto fa = file_order(a.file);
                       const auto fb = file_order(b.file);
                       if (fa != fb) return fa < fb;
                       if (a.line != b.line) return a.line < b.line;
                       return customer_id_less(a.customer_id, b.customer_id);
                     });
    report.rejected = std::move(issues_);
    report.fixes = std::move(fixes_);
    report.customers_read = customers_.size();
    report.customers_kept = out.customers.size();
    return out;
  }

 private:
  // The row's id, or nullptr (after reporting) when it is empty.
  const std::string* row_id(const CsvTable& table, const CsvRow& row, std::size_t id_col) {
    const std::string& id = row.fields[id_col];
    if (id.empty()) {
      add_issue(table, row, id_col, "", "empty customer id; row skipped");
      return nullptr;
    }
    customers_[id].files_seen.insert(table.file);
    return &id;
  }

  // Whether the row repeats an earlier row for the same key of this file. An exact repeat is
  // dropped as a fix; a differing one is reported and excludes the customer.
  bool is_duplicate(const CsvTable& table, const CsvRow& row, const std::string& key,
                    const std::vector<std::string>& fields) {
    auto& first_rows = first_rows_[table.file];
    const auto [it, inserted] = first_rows.try_emplace(key, FirstRow{row.line, fields});
    if (inserted) return false;
    const FirstRow& first = it->second;
    const std::string& id = row.fields[table.column_index(kIdColumn)];
    for (std::size_t i = 0; i < fields.size(); ++i) {
      if (fields[i] != first.fields[i]) {
        add_issue(table, row, i, id,
                  fmt::format("conflicting duplicate of line {}: '{}' there, '{}' here", first.line,
                              first.fields[i], fields[i]));
        return true;
      }
    }
    count_fix(fmt::format("{} exact duplicate row dropped", table.file));
    return true;
  }

  void set_field(const CsvTable& table, const CsvRow& row, std::size_t col, const std::string& id,
                 const StoreField& field, Pending& pending) {
    const std::string& text = row.fields[col];
    try {
      switch (field.type) {
        case FieldType::kCategory: {
          pending.customer.set_category(field.id, text);
          const std::string_view canonical = pending.customer.category(field.id);
          if (canonical != text) {
            count_fix(fmt::format("{} '{}' -> '{}'", field.api_name, text, canonical));
          }
          break;
        }
        case FieldType::kBoolean:
          if (text == "да") {
            pending.customer.set_boolean(field.id, true);
          } else if (text == "нет") {
            pending.customer.set_boolean(field.id, false);
          } else {
            add_issue(table, row, col, id,
                      fmt::format("'{}' is not a boolean; expected 'да' or 'нет'", text));
          }
          break;
        case FieldType::kNumber:
        case FieldType::kInteger: {
          const ParsedNumber number = number_at(table, row, col);
          if (number.decimal_comma) count_fix(fmt::format("{} decimal comma", table.file));
          pending.customer.set_number(field.id, number.value);
          if (field.id == FieldId::kProfit) pending.profit = number.value;
          if (is_revenue(field.id)) check_revenue(table, row, col, id, field, number.value);
          break;
        }
      }
    } catch (const DataError& e) {
      add_issue(table, row, col, id, e.reason());
    } catch (const features::ValidationError& e) {
      add_issue(table, row, col, id, e.what());
    }
  }

  void check_revenue(const CsvTable& table, const CsvRow& row, std::size_t col,
                     const std::string& id, const StoreField& field, double value) {
    if (value == 0.0 && policy_.exclude_zero_revenue_months) {
      add_issue(table, row, col, id,
                fmt::format("zero revenue in '{}': the customer was not active all three months",
                            field.source.period));
    }
    if (value > policy_.max_monthly_revenue) {
      add_issue(table, row, col, id,
                fmt::format("revenue {} in '{}' is above the plausible maximum {}: taken for an "
                            "entry error",
                            number_text(value), field.source.period,
                            number_text(policy_.max_monthly_revenue)));
    }
  }

  void check_complete(const std::string& id, Pending& pending) {
    std::string seen;
    for (const auto& file : pending.files_seen) seen += (seen.empty() ? "" : ", ") + file;
    const auto missing = [&](std::string_view file, std::string_view column, std::string reason) {
      issues_.push_back(
          IngestionIssue{std::string(file), 0, std::string(column), std::move(reason), id});
      pending.has_issue = true;
    };
    if (!pending.in_market_file) {
      missing(kMarketFile, kIdColumn, fmt::format("no row for this customer (seen in {})", seen));
    }
    for (const std::string_view file : {kMarketMoneyFile, kMarketTimeFile}) {
      const auto it = pending.periods_seen.find(std::string(file));
      if (it == pending.periods_seen.end()) {
        missing(file, kIdColumn, fmt::format("no rows for this customer (seen in {})", seen));
        continue;
      }
      for (const StoreField* field : fields_of(file)) {
        if (!it->second.contains(std::string(field->source.period))) {
          missing(file, kPeriodColumn, fmt::format("no row for period '{}'", field->source.period));
        }
      }
    }
    if (!pending.has_profit && policy_.require_profit) {
      missing(kMoneyFile, kIdColumn, fmt::format("no row for this customer (seen in {})", seen));
    }
  }

  void add_issue(const CsvTable& table, const CsvRow& row, std::size_t col, const std::string& id,
                 std::string reason) {
    issues_.push_back(
        IngestionIssue{table.file, row.line, table.header[col], std::move(reason), id});
    if (!id.empty()) customers_[id].has_issue = true;
  }

  void count_fix(const std::string& rule) { ++fixes_[rule]; }

  const IngestionPolicy& policy_;
  std::map<std::string, Pending> customers_;
  std::map<std::string, std::map<std::string, FirstRow>> first_rows_;  // file -> key -> row
  std::vector<IngestionIssue> issues_;
  std::map<std::string, std::size_t> fixes_;
};

std::vector<std::string> required_columns(std::string_view file) {
  std::vector<std::string> out{std::string(kIdColumn)};
  if (file == kMarketFile) out.emplace_back(kLabelColumn);
  if (file == kMarketMoneyFile || file == kMarketTimeFile) out.emplace_back(kPeriodColumn);
  for (auto& column : value_columns_of(file)) out.push_back(std::move(column));
  return out;
}

}  // namespace

std::string to_string(const IngestionIssue& issue) {
  std::string text = format_location(issue.file, issue.line, issue.column, issue.reason);
  if (!issue.customer_id.empty()) text += fmt::format(" (customer {})", issue.customer_id);
  return text;
}

std::string IngestionReport::summary(std::size_t max_rejections_listed) const {
  std::string out =
      fmt::format("market export: {} customers read, {} kept, {} excluded ({} issues)\n",
                  customers_read, customers_kept, excluded_ids.size(), rejected.size());
  std::size_t fix_total = 0;
  for (const auto& [rule, count] : fixes) fix_total += count;
  out += fmt::format("fixes: {} in {} rules\n", fix_total, fixes.size());
  for (const auto& [rule, count] : fixes) out += fmt::format("  {:>6}  {}\n", count, rule);
  out += fmt::format("rejected: {}\n", rejected.size());
  const std::size_t listed = std::min(rejected.size(), max_rejections_listed);
  for (std::size_t i = 0; i < listed; ++i) out += fmt::format("  {}\n", to_string(rejected[i]));
  if (listed < rejected.size()) out += fmt::format("  ... and {} more\n", rejected.size() - listed);
  return out;
}

bool customer_id_less(std::string_view a, std::string_view b) {
  const bool da = all_digits(a);
  const bool db = all_digits(b);
  if (da != db) return da;
  if (da) {
    const auto strip = [](std::string_view s) {
      const auto nz = s.find_first_not_of('0');
      return nz == std::string_view::npos ? std::string_view{} : s.substr(nz);
    };
    const auto sa = strip(a);
    const auto sb = strip(b);
    if (sa.size() != sb.size()) return sa.size() < sb.size();
    if (sa != sb) return sa < sb;
  }
  return a < b;
}

MarketDataset load_market_export(const std::filesystem::path& dir, const IngestionPolicy& policy) {
  // Read every file first: a missing file fails before any parsing, and the fingerprint covers
  // exactly the bytes parsed.
  std::array<std::string, kFiles.size()> bytes;
  std::string fingerprint_input;
  for (std::size_t i = 0; i < kFiles.size(); ++i) {
    bytes[i] = read_file_bytes(dir / std::string(kFiles[i]));
    fingerprint_input += fmt::format("{}\n{}\n", kFiles[i], bytes[i].size());
    fingerprint_input += bytes[i];
  }

  std::array<CsvTable, kFiles.size()> tables;
  for (std::size_t i = 0; i < kFiles.size(); ++i) {
    CsvOptions options;
    options.required_columns = required_columns(kFiles[i]);
    options.allow_extra_columns = false;
    tables[i] = parse_csv(bytes[i], std::string(kFiles[i]), options);
  }

  Loader loader(policy);
  loader.market_file(tables[0]);
  loader.long_file(tables[1]);
  loader.long_file(tables[2]);
  loader.money(tables[3]);
  MarketDataset out = loader.finish();
  out.fingerprint = "sha256:" + sha256_hex(fingerprint_input);
  return out;
}

}  // namespace nbo::train
