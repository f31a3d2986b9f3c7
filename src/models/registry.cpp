#include "nbo/models/registry.hpp"

#include <fmt/chrono.h>

#include <chrono>

namespace nbo::models {

std::shared_ptr<const ModelSet> load_model_set(const std::filesystem::path& directory) {
  auto set = std::make_shared<ModelSet>();
  set->directory = directory;
  set->churn = load_churn_model(directory / kChurnModelFile);
  if (std::error_code error; std::filesystem::exists(directory / kOffersModelFile, error)) {
    set->offers = offers::load_offer_model(directory / kOffersModelFile);
  }
  set->loaded_at = fmt::format(
      "{:%FT%TZ}", std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
  return set;
}

std::shared_ptr<const ModelSet> ModelRegistry::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

void ModelRegistry::publish(std::shared_ptr<const ModelSet> set) {
  if (!set) set = std::make_shared<const ModelSet>();
  std::lock_guard lock(mutex_);
  current_ = std::move(set);
}

std::shared_ptr<const ModelSet> ModelRegistry::load_directory(
    const std::filesystem::path& directory) {
  auto set = load_model_set(directory);
  publish(set);
  return set;
}

}  // namespace nbo::models
