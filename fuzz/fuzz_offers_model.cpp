// Fuzz target: an offers model file (models/offers.json's format) -> offers::load_offer_model.
//
// The bytes are written to a file and loaded by the server's own loader; its one documented
// failure is models::ModelLoadError. A file that loads must map its market figures onto a
// catalog (its own popular courses and one it does not know), score candidate and buy-again
// rows of its own width to probabilities in [0, 1], and write itself back as JSON its loader
// reads again.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "nbo/models/json_file.hpp"
#include "nbo/offers/features.hpp"
#include "nbo/offers/offer_model.hpp"

namespace {

nbo::fuzz::ScratchDir* g_dir = nullptr;

bool is_probability(double p) {
  return p >= 0.0 && p <= 1.0;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  static nbo::fuzz::ScratchDir dir;
  g_dir = &dir;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto model = nbo::fuzz::load_model_input(
      *g_dir, "offers.json", data, size,
      [](const auto& file) { return nbo::offers::load_offer_model(file); });
  if (!model) return 0;

  std::vector<nbo::offers::Course> courses;
  std::vector<std::string> ids(
      model->popular().begin(),
      model->popular().begin() +
          static_cast<std::ptrdiff_t>(std::min<std::size_t>(model->popular().size(), 4)));
  ids.emplace_back("C_not_in_the_model");
  for (const auto& id : ids) {
    courses.push_back({.course_id = id,
                       .title = "Course " + id + " (с нуля)",
                       .direction = "data",
                       .level = 1,
                       .price_rub = 10000.0,
                       .duration_months = 3,
                       .active = true});
  }
  const nbo::offers::Catalog catalog(std::move(courses));
  const auto market = model->market_for(catalog);
  nbo::fuzz::fuzz_check(market.owners.size() == catalog.size(),
                        "the market figures cover the catalog");

  constexpr std::size_t kCandidates = 3;
  const std::vector<double> rows(kCandidates * model->candidate().column_count(), 1.0);
  std::vector<double> probabilities(kCandidates, -1.0);
  model->candidate_probabilities(rows, probabilities);
  nbo::fuzz::fuzz_check(std::all_of(probabilities.begin(), probabilities.end(), is_probability),
                        "candidate probabilities are in [0, 1]");
  const std::vector<double> row(model->propensity().column_count(), 1.0);
  nbo::fuzz::fuzz_check(is_probability(model->buy_again_probability(row)),
                        "the buy-again probability is in [0, 1]");

  const auto again = nbo::offers::OfferModel::from_json(model->to_json());
  nbo::fuzz::fuzz_check(again.popular() == model->popular(), "the model round-trips");
  return 0;
}
