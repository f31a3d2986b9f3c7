// A small, strict CSV reader for raw data exports (the «В один клик» store export and friends).
//
// What it accepts: RFC-4180 records separated by CRLF or LF (both may appear in one file), an
// optional UTF-8 byte-order mark, ',' or ';' as the delimiter (given, or detected from the header
// line), double-quoted fields with "" as an escaped quote and delimiters/newlines inside. Every
// field must be valid UTF-8. Trailing blank lines at the end of the file are ignored.
//
// What it rejects, always with a DataError naming file, line and column: a missing or unreadable
// file, an empty file (or one holding only a BOM / blank lines), invalid UTF-8, a blank line
// between records, a bare CR, a quote inside an unquoted field, text after a closing quote, an
// unterminated quoted field, a row whose field count differs from the header's, an empty or
// duplicated header name, a required column missing from the header, and (unless allowed) a
// header column nobody asked for. Nothing is trimmed or guessed: the reader fixes nothing and
// the caller decides what is a fixable quirk.
//
// Thread safety: all functions are reentrant and touch no shared state; CsvTable is a plain
// value type. Ownership: results own their strings; nothing refers back into the input bytes.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace nbo::train {

// A problem with input data, located in a file. `line` is 1-based (0 when the problem concerns
// the whole file, e.g. it cannot be opened); `column` is the header name of the column (or "#k"
// for the k-th, 1-based, field when no header name applies; empty when no column applies).
// what() reads "<file>:<line>: column '<column>': <reason>", dropping the parts that are unset,
// e.g. "market_money.csv:17: column 'Выручка': '12,x' is not a number".
class DataError : public std::runtime_error {
 public:
  DataError(std::string file, std::size_t line, std::string column, std::string reason);

  const std::string& file() const noexcept { return file_; }
  std::size_t line() const noexcept { return line_; }
  const std::string& column() const noexcept { return column_; }
  const std::string& reason() const noexcept { return reason_; }

 private:
  std::string file_;
  std::size_t line_;
  std::string column_;
  std::string reason_;
};

// The "<file>:<line>: column '<column>': <reason>" text DataError uses; parts that are unset
// (line 0, empty column) are left out.
std::string format_location(std::string_view file, std::size_t line, std::string_view column,
                            std::string_view reason);

struct CsvOptions {
  // The expected delimiter; nullopt detects ',' or ';' from the header line (the one that occurs
  // outside quotes; the more frequent one if both do; a tie is an error; neither: ',').
  std::optional<char> delimiter;
  // Columns that must be in the header. Checked before anything else, so an empty file is
  // reported as missing the first of them.
  std::vector<std::string> required_columns;
  // When false, a header column not in required_columns is an error.
  bool allow_extra_columns = true;
};

struct CsvRow {
  std::size_t line = 0;             // 1-based line the record starts on
  std::vector<std::string> fields;  // exactly one per header column
};

struct CsvTable {
  std::string file;                 // the label used in errors (the file name, no directories)
  char delimiter = ',';             // the delimiter used (given or detected)
  bool had_bom = false;             // a UTF-8 BOM was present and skipped
  std::vector<std::string> header;  // column names, in file order
  std::vector<CsvRow> rows;         // data records in file order

  // Index of a header column; throws DataError(file, 1, name, ...) when it is absent.
  std::size_t column_index(std::string_view name) const;
};

// Reads a whole file as bytes. Throws DataError(<file name>, 0, "", message): "cannot read
// '<path>': file not found" or "...: not a regular file", else "'<path>' cannot be opened
// (<reason>)" or "'<path>' cannot be read (<reason>)".
std::string read_file_bytes(const std::filesystem::path& path);

// Parses CSV bytes already in memory; `file_label` names the input in errors. Throws DataError.
CsvTable parse_csv(std::string_view bytes, std::string file_label, const CsvOptions& options = {});

// read_file_bytes + parse_csv, labelled with the file name. Throws DataError.
CsvTable read_csv(const std::filesystem::path& path, const CsvOptions& options = {});

// A number as written in an export: optional sign, digits, optionally one decimal separator
// ('.' or ',') followed by digits, optionally an exponent (e.g. "3293.1", "0,98", "-4", "1e3").
// No spaces, no thousands separators, no "nan"/"inf". nullopt when `text` is not such a number.
struct ParsedNumber {
  double value = 0.0;
  bool decimal_comma = false;  // the text used ',' as the decimal separator (a fix to report)
};
std::optional<ParsedNumber> parse_number(std::string_view text);

// The number in `row` at `column`; throws DataError(table.file, row.line, <column name>,
// "'<text>' is not a number") when it is not one. Precondition: column < row.fields.size().
ParsedNumber number_at(const CsvTable& table, const CsvRow& row, std::size_t column);

// True when `bytes` is well-formed UTF-8 (no overlong forms, surrogates or code points above
// U+10FFFF). On failure, *bad_offset (if given) receives the offset of the first bad byte.
bool is_valid_utf8(std::string_view bytes, std::size_t* bad_offset = nullptr);

}  // namespace nbo::train
