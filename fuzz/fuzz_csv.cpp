// Fuzz target: CSV bytes -> train::parse_csv, the reader of every raw export (the store's four
// files, the school's three, `nbo score` input).
//
// The first byte picks the options (delimiter given or detected, extra columns allowed or not,
// one required column or none), the rest is the file. Documented failure: train::DataError.
// A table it returns must hold what the header promises: one field per column, valid UTF-8,
// each column found by its name; number_at() answers a number or a DataError for every field.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "nbo/train/csv.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t selector = data[0];
  const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  nbo::train::CsvOptions options;
  if ((selector & 3U) == 1U) options.delimiter = ',';
  if ((selector & 3U) == 2U) options.delimiter = ';';
  options.allow_extra_columns = (selector & 4U) == 0U;
  if ((selector & 8U) != 0U) options.required_columns = {"id"};

  nbo::train::CsvTable table;
  try {
    table = nbo::train::parse_csv(bytes, "fuzz.csv", options);
  } catch (const nbo::train::DataError&) {
    return 0;
  }
  nbo::fuzz::fuzz_check(!table.header.empty(), "a parsed table has a header");
  for (std::size_t c = 0; c < table.header.size(); ++c) {
    nbo::fuzz::fuzz_check(table.column_index(table.header[c]) == c, "a column is found by name");
  }
  for (const auto& row : table.rows) {
    nbo::fuzz::fuzz_check(row.fields.size() == table.header.size(), "one field per column");
    nbo::fuzz::fuzz_check(row.line >= 2, "data records start on line 2 or later");
    for (std::size_t c = 0; c < row.fields.size(); ++c) {
      nbo::fuzz::fuzz_check(nbo::train::is_valid_utf8(row.fields[c]), "fields are UTF-8");
      try {
        (void)nbo::train::number_at(table, row, c);
      } catch (const nbo::train::DataError&) {
      }
    }
  }
  return 0;
}
