#include "fuzz_support.hpp"

#include <sstream>

#include "nbo/api/predict_io.hpp"
#include "nbo/json/document.hpp"

namespace nbo::fuzz {

std::vector<features::RawCustomer> fixture_customers() {
  std::vector<features::RawCustomer> customers;
  for (const char* id : {"215349", "215350"}) {
    const auto file = std::filesystem::path(NBO_SOURCE_DIR) / "tests/fixtures/api" /
                      (std::string("customer_") + id + ".json");
    std::ifstream in(file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) throw std::runtime_error("cannot read " + file.string());
    const auto document = json::Document::parse(text.str(), 32);
    auto request = api::read_predict_request(document.root(), 1);
    customers.push_back(std::move(request.items.at(0).customer.value()));
  }
  return customers;
}

}  // namespace nbo::fuzz
