// Fuzz target: a churn model file (models/churn.json's format) -> models::load_churn_model.
//
// The bytes are written to a file and loaded by the server's own loader; its one documented
// failure is models::ModelLoadError. A file that loads must score the committed example
// customers, one by one and as a batch, with features::ValidationError as the only refusal
// and a probability in [0, 1]: the loader's validation is what protects scoring.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "nbo/features/customer.hpp"
#include "nbo/models/churn_model.hpp"
#include "nbo/models/json_file.hpp"

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
      *g_dir, "churn.json", data, size,
      [](const auto& file) { return nbo::models::load_churn_model(file); });
  if (!model) return 0;
  std::vector<const nbo::features::RawCustomer*> batch;
  for (const auto& customer : *g_customers) {
    batch.push_back(&customer);
    try {
      const auto prediction = model->predict(customer, 3);
      nbo::fuzz::fuzz_check(prediction.probability >= 0.0 && prediction.probability <= 1.0,
                            "a probability is in [0, 1]");
    } catch (const nbo::features::ValidationError&) {
    }
  }
  const auto results = model->predict_many(batch);
  nbo::fuzz::fuzz_check(results.size() == batch.size(), "predict_many answers every customer");
  return 0;
}
