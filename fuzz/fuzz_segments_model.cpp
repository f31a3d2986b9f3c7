// Fuzz target: a segments file (models/segments.json's format) -> segments::load_segment_model.
//
// The bytes are written to a file and loaded by the server's own loader; its one documented
// failure is models::ModelLoadError. A file that loads must give every committed example
// customer a segment at any probability (the last rule takes everyone), name only actions of
// its catalogue, and write itself back as a file its loader reads again.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "nbo/features/customer.hpp"
#include "nbo/models/json_file.hpp"
#include "nbo/segments/segment_model.hpp"

namespace {

nbo::fuzz::ScratchDir* g_dir = nullptr;
std::vector<nbo::features::RawCustomer>* g_customers = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  static nbo::fuzz::ScratchDir dir;
  static std::vector<nbo::features::RawCustomer> customers = nbo::fuzz::fixture_customers();
  g_dir = &dir;
  g_customers = &customers;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto model = nbo::fuzz::load_model_input(
      *g_dir, "segments.json", data, size,
      [](const auto& file) { return nbo::segments::load_segment_model(file); });
  if (!model) return 0;
  for (const auto& customer : *g_customers) {
    for (const double probability : {0.0, 0.25, 0.5, 0.75, 1.0}) {
      const auto assignment = model->assign(probability, customer);
      nbo::fuzz::fuzz_check(assignment.segment != nullptr, "every customer gets a segment");
      for (const auto& action : assignment.segment->actions) {
        nbo::fuzz::fuzz_check(model->find_action(action.action) != nullptr,
                              "a segment's actions are in the catalogue");
      }
    }
  }
  // What `nbo train segments` writes must load again: the server reads only what it wrote.
  const auto again = nbo::segments::SegmentModel::from_json(model->to_json());
  nbo::fuzz::fuzz_check(again.segments().size() == model->segments().size(),
                        "the segments round-trip");
  return 0;
}
