#include "nbo/train/csv.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <system_error>
#include <utility>

#include "nbo/platform/files.hpp"

namespace nbo::train {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

std::string positional_column(std::size_t index) {
  return fmt::format("#{}", index + 1);
}

// Printable rendering of a delimiter for messages.
std::string delimiter_text(char c) {
  return fmt::format("'{}'", c);
}

// Which delimiter the header line uses: counts ',' and ';' outside quotes up to the first
// unquoted line break.
char detect_delimiter(std::string_view bytes, const std::string& file) {
  std::size_t commas = 0;
  std::size_t semicolons = 0;
  bool quoted = false;
  for (const char c : bytes) {
    if (c == '"') {
      quoted = !quoted;
    } else if (!quoted) {
      if (c == '\n' || c == '\r') break;
      if (c == ',') ++commas;
      if (c == ';') ++semicolons;
    }
  }
  if (commas == 0 && semicolons == 0) return ',';
  if (commas == semicolons) {
    throw DataError(file, 1, "",
                    fmt::format("cannot tell the delimiter: the header has {} ',' and {} ';'",
                                commas, semicolons));
  }
  return commas > semicolons ? ',' : ';';
}

struct RawRecord {
  std::size_t line = 0;
  std::vector<std::string> fields;
  bool blank = false;  // the record was an empty line
};

// Splits the bytes into records. `header` (empty while the header itself is being read) only
// names columns in errors.
class Tokenizer {
 public:
  Tokenizer(std::string_view bytes, char delimiter, const std::string& file)
      : bytes_(bytes), delimiter_(delimiter), file_(file) {}

  bool done() const { return pos_ >= bytes_.size(); }

  RawRecord next(const std::vector<std::string>& header) {
    RawRecord record;
    record.line = line_;
    std::string field;
    bool any_char = false;
    for (;;) {
      const std::size_t column = record.fields.size();
      if (pos_ >= bytes_.size()) {  // end of input ends the record
        record.fields.push_back(std::move(field));
        record.blank = !any_char;
        return record;
      }
      const char c = bytes_[pos_];
      if (c == '"') {
        if (!field.empty()) {
          fail(record.line, header, column, "a double quote inside an unquoted field");
        }
        any_char = true;
        read_quoted(record.line, header, column, field);
        // After the closing quote: delimiter, line break or end of input.
        if (pos_ < bytes_.size() && bytes_[pos_] != delimiter_ && bytes_[pos_] != '\n' &&
            bytes_[pos_] != '\r') {
          fail(record.line, header, column, "text after the closing double quote");
        }
        continue;
      }
      if (c == delimiter_) {
        any_char = true;
        record.fields.push_back(std::move(field));
        field.clear();
        ++pos_;
        continue;
      }
      if (c == '\r') {
        if (pos_ + 1 >= bytes_.size() || bytes_[pos_ + 1] != '\n') {
          fail(record.line, header, column, "a carriage return not followed by a line feed");
        }
        ++pos_;
        continue;  // the '\n' ends the record
      }
      if (c == '\n') {
        ++pos_;
        ++line_;
        record.fields.push_back(std::move(field));
        record.blank = !any_char;
        return record;
      }
      any_char = true;
      field.push_back(c);
      ++pos_;
    }
  }

 private:
  // pos_ is at the opening quote; leaves pos_ just past the closing quote.
  void read_quoted(std::size_t record_line, const std::vector<std::string>& header,
                   std::size_t column, std::string& field) {
    ++pos_;
    for (;;) {
      if (pos_ >= bytes_.size()) {
        fail(record_line, header, column, "a quoted field is not closed before the end of file");
      }
      const char c = bytes_[pos_];
      if (c == '"') {
        if (pos_ + 1 < bytes_.size() && bytes_[pos_ + 1] == '"') {
          field.push_back('"');
          pos_ += 2;
          continue;
        }
        ++pos_;
        return;
      }
      if (c == '\n') ++line_;
      field.push_back(c);
      ++pos_;
    }
  }

  [[noreturn]] void fail(std::size_t line, const std::vector<std::string>& header,
                         std::size_t column, std::string reason) const {
    throw DataError(file_, line,
                    column < header.size() ? header[column] : positional_column(column),
                    std::move(reason));
  }

  std::string_view bytes_;
  char delimiter_;
  const std::string& file_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
};

void check_utf8(const RawRecord& record, const std::vector<std::string>& header,
                const std::string& file) {
  for (std::size_t i = 0; i < record.fields.size(); ++i) {
    std::size_t bad = 0;
    if (!is_valid_utf8(record.fields[i], &bad)) {
      throw DataError(
          file, record.line, i < header.size() ? header[i] : positional_column(i),
          fmt::format("invalid UTF-8 (byte 0x{:02X} at offset {} of the field)",
                      static_cast<unsigned>(static_cast<unsigned char>(record.fields[i][bad])),
                      bad));
    }
  }
}

void check_header(const CsvTable& table, const CsvOptions& options) {
  std::set<std::string_view> seen;
  for (std::size_t i = 0; i < table.header.size(); ++i) {
    const std::string& name = table.header[i];
    if (name.empty()) throw DataError(table.file, 1, positional_column(i), "empty column name");
    if (!seen.insert(name).second) {
      throw DataError(table.file, 1, name, "column name appears twice in the header");
    }
  }
  for (const auto& required : options.required_columns) {
    if (!seen.contains(required)) {
      std::string found;
      for (const auto& name : table.header) found += (found.empty() ? "'" : ", '") + name + "'";
      throw DataError(table.file, 1, required,
                      fmt::format("missing from the header (delimiter {}; header has {})",
                                  delimiter_text(table.delimiter), found));
    }
  }
  if (!options.allow_extra_columns) {
    for (const auto& name : table.header) {
      if (std::find(options.required_columns.begin(), options.required_columns.end(), name) ==
          options.required_columns.end()) {
        throw DataError(table.file, 1, name, "unexpected column in the header");
      }
    }
  }
}

}  // namespace

std::string format_location(std::string_view file, std::size_t line, std::string_view column,
                            std::string_view reason) {
  std::string out(file);
  if (line > 0) out += fmt::format(":{}", line);
  out += ": ";
  if (!column.empty()) out += fmt::format("column '{}': ", column);
  out += reason;
  return out;
}

DataError::DataError(std::string file, std::size_t line, std::string column, std::string reason)
    : std::runtime_error(format_location(file, line, column, reason)),
      file_(std::move(file)),
      line_(line),
      column_(std::move(column)),
      reason_(std::move(reason)) {}

std::size_t CsvTable::column_index(std::string_view name) const {
  const auto it = std::find(header.begin(), header.end(), name);
  if (it == header.end()) throw DataError(file, 1, std::string(name), "missing from the header");
  return static_cast<std::size_t>(it - header.begin());
}

std::string read_file_bytes(const std::filesystem::path& path) {
  const std::string label = path.filename().string();
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) {
    throw DataError(label, 0, "", fmt::format("cannot read '{}': file not found", path.string()));
  }
  if (!std::filesystem::is_regular_file(status)) {
    throw DataError(label, 0, "",
                    fmt::format("cannot read '{}': not a regular file", path.string()));
  }
  std::string bytes;
  if (const auto error = platform::read_whole_file(path, bytes)) {
    throw DataError(label, 0, "", fmt::format("'{}' {}", path.string(), error->describe()));
  }
  return bytes;
}

CsvTable parse_csv(std::string_view bytes, std::string file_label, const CsvOptions& options) {
  CsvTable table;
  table.file = std::move(file_label);
  if (bytes.starts_with(kBom)) {
    table.had_bom = true;
    bytes.remove_prefix(kBom.size());
  }
  const std::string first_required =
      options.required_columns.empty() ? std::string() : options.required_columns.front();
  if (bytes.find_first_not_of("\r\n") == std::string_view::npos) {
    throw DataError(table.file, 1, first_required, "the file is empty (no header line)");
  }
  if (options.delimiter) {
    if (*options.delimiter == '"' || *options.delimiter == '\n' || *options.delimiter == '\r') {
      throw std::invalid_argument("parse_csv: invalid delimiter");
    }
    table.delimiter = *options.delimiter;
  } else {
    table.delimiter = detect_delimiter(bytes, table.file);
  }

  Tokenizer tokenizer(bytes, table.delimiter, table.file);
  RawRecord header = tokenizer.next({});
  if (header.blank) throw DataError(table.file, 1, first_required, "the header line is blank");
  check_utf8(header, {}, table.file);
  table.header = std::move(header.fields);
  check_header(table, options);

  std::vector<RawRecord> blanks;  // blank lines, an error unless only trailing
  while (!tokenizer.done()) {
    RawRecord record = tokenizer.next(table.header);
    if (record.blank) {
      blanks.push_back(std::move(record));
      continue;
    }
    if (!blanks.empty()) {
      throw DataError(table.file, blanks.front().line, "", "blank line between records");
    }
    check_utf8(record, table.header, table.file);
    if (record.fields.size() != table.header.size()) {
      const std::size_t n = record.fields.size();
      // Name the first missing column, or the first extra field.
      const std::string column =
          n < table.header.size() ? table.header[n] : positional_column(table.header.size());
      throw DataError(table.file, record.line, column,
                      fmt::format("the row has {} fields, the header has {} (delimiter {})", n,
                                  table.header.size(), delimiter_text(table.delimiter)));
    }
    table.rows.push_back(CsvRow{record.line, std::move(record.fields)});
  }
  return table;
}

CsvTable read_csv(const std::filesystem::path& path, const CsvOptions& options) {
  const std::string bytes = read_file_bytes(path);
  return parse_csv(bytes, path.filename().string(), options);
}

std::optional<ParsedNumber> parse_number(std::string_view text) {
  // Validate the shape by hand so that from_chars' leniencies (e.g. "inf") never apply.
  std::size_t i = 0;
  const std::size_t n = text.size();
  if (i < n && (text[i] == '+' || text[i] == '-')) ++i;
  const auto digits = [&] {
    const std::size_t start = i;
    while (i < n && text[i] >= '0' && text[i] <= '9') ++i;
    return i - start;
  };
  if (digits() == 0) return std::nullopt;
  bool comma = false;
  if (i < n && (text[i] == '.' || text[i] == ',')) {
    comma = text[i] == ',';
    ++i;
    if (digits() == 0) return std::nullopt;
  }
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < n && (text[i] == '+' || text[i] == '-')) ++i;
    if (digits() == 0) return std::nullopt;
  }
  if (i != n) return std::nullopt;

  std::string normalized(text.front() == '+' ? text.substr(1) : text);
  if (comma) std::replace(normalized.begin(), normalized.end(), ',', '.');
  double value = 0.0;
  const char* end = normalized.data() + normalized.size();
  const auto [ptr, ec] = std::from_chars(normalized.data(), end, value);
  if (ec != std::errc() || ptr != end || !std::isfinite(value)) return std::nullopt;
  return ParsedNumber{value, comma};
}

ParsedNumber number_at(const CsvTable& table, const CsvRow& row, std::size_t column) {
  const std::string& text = row.fields[column];
  const auto parsed = parse_number(text);
  if (!parsed) {
    throw DataError(table.file, row.line,
                    column < table.header.size() ? table.header[column] : positional_column(column),
                    fmt::format("'{}' is not a number", text));
  }
  return *parsed;
}

bool is_valid_utf8(std::string_view bytes, std::size_t* bad_offset) {
  const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  std::size_t i = 0;
  const auto fail = [&](std::size_t at) {
    if (bad_offset) *bad_offset = at;
    return false;
  };
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;  // no overlongs
      if (c == 0xED) hi = 0x9F;  // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;  // no overlongs
      if (c == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
    } else {
      return fail(i);
    }
    if (i + len > n) return fail(i);
    if (s[i + 1] < lo || s[i + 1] > hi) return fail(i + 1);
    for (std::size_t k = 2; k < len; ++k) {
      if (s[i + k] < 0x80 || s[i + k] > 0xBF) return fail(i + k);
    }
    i += len;
  }
  return true;
}

}  // namespace nbo::train
