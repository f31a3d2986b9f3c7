// Fuzz target: a school export -> train::load_school_export, what `nbo import offers` and
// `nbo train offers` read.
//
// The input is the three files courses.csv, users.csv and events.csv in that order, separated
// by NUL bytes (fuzz_support.hpp), written to a directory and loaded with the default policy.
// Documented failure: train::DataError. What it keeps must be consistent: one event list per
// user, each in time order, every course index inside the catalog.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_support.hpp"
#include "nbo/offers/features.hpp"
#include "nbo/train/csv.hpp"
#include "nbo/train/school_export.hpp"

namespace {

nbo::fuzz::ScratchDir* g_dir = nullptr;

constexpr std::array<std::string_view, 3> kFiles = {"courses.csv", "users.csv", "events.csv"};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  static nbo::fuzz::ScratchDir dir;
  g_dir = &dir;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  nbo::fuzz::write_export_files(*g_dir, kFiles, data, size);
  nbo::train::SchoolDataset dataset;
  try {
    dataset = nbo::train::load_school_export(g_dir->path());
  } catch (const nbo::train::DataError&) {
    return 0;
  }
  nbo::fuzz::fuzz_check(dataset.events.size() == dataset.users.size(), "one event list per user");
  const auto courses = static_cast<std::int64_t>(dataset.catalog.size());
  for (const auto& events : dataset.events) {
    for (std::size_t i = 0; i < events.size(); ++i) {
      nbo::fuzz::fuzz_check(i == 0 || events[i - 1].time <= events[i].time,
                            "a user's events are in time order");
      nbo::fuzz::fuzz_check(events[i].course < courses, "event courses are in the catalog");
    }
  }
  (void)dataset.report.summary(10);
  return 0;
}
