#include "nbo/models/registry.hpp"

namespace nbo::models {

std::shared_ptr<const ChurnModel> ModelRegistry::churn() const {
  std::lock_guard lock(mutex_);
  return churn_;
}

void ModelRegistry::publish_churn(std::shared_ptr<const ChurnModel> model) {
  std::lock_guard lock(mutex_);
  churn_ = std::move(model);
}

void ModelRegistry::load_directory(const std::filesystem::path& directory) {
  auto churn = load_churn_model(directory / "churn.json");
  publish_churn(std::move(churn));
}

}  // namespace nbo::models
