// Fuzz target: a store export -> train::load_market_export, what `nbo import customers` and
// `nbo train churn` / `nbo train segments` read.
//
// The input is the four files market_file.csv, market_money.csv, market_time.csv and money.csv
// in that order, separated by NUL bytes (fuzz_support.hpp), written to a directory and loaded
// with the default ingestion policy. Documented failure: train::DataError. What it keeps must
// add up: every kept customer counted, none both kept and excluded.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_support.hpp"
#include "nbo/train/csv.hpp"
#include "nbo/train/market_export.hpp"

namespace {

nbo::fuzz::ScratchDir* g_dir = nullptr;

constexpr std::array<std::string_view, 4> kFiles = {"market_file.csv", "market_money.csv",
                                                    "market_time.csv", "money.csv"};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  static nbo::fuzz::ScratchDir dir;
  g_dir = &dir;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  nbo::fuzz::write_export_files(*g_dir, kFiles, data, size);
  nbo::train::MarketDataset dataset;
  try {
    dataset = nbo::train::load_market_export(g_dir->path());
  } catch (const nbo::train::DataError&) {
    return 0;
  }
  const auto& report = dataset.report;
  nbo::fuzz::fuzz_check(report.customers_kept == dataset.customers.size(),
                        "every kept customer is counted");
  nbo::fuzz::fuzz_check(report.customers_kept + report.excluded_ids.size() == report.customers_read,
                        "read = kept + excluded");
  (void)report.summary(10);
  return 0;
}
