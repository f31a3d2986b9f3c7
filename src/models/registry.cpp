#include "nbo/models/registry.hpp"

#include <fmt/chrono.h>

#include <chrono>

#include "nbo/segments/segment_model.hpp"

namespace nbo::models {

std::shared_ptr<const ModelSet> load_model_set(const std::filesystem::path& directory) {
  auto set = std::make_shared<ModelSet>();
  set->directory = directory;
  set->churn = load_churn_model(directory / kChurnModelFile);
  const auto segments_file = directory / kSegmentsFile;
  if (std::filesystem::exists(segments_file)) {
    set->segments = segments::load_segment_model(segments_file);
    const std::string& derived_from = set->segments->metadata().churn_model_version;
    if (derived_from != set->churn->metadata().version) {
      throw ModelLoadError(fmt::format(
          "segments file {}: derived from churn model '{}' but {} is '{}': its probability "
          "threshold would not mean what it says; retrain it with `nbo train segments`",
          segments_file.string(), derived_from, (directory / kChurnModelFile).string(),
          set->churn->metadata().version));
    }
  }
  if (std::error_code error; std::filesystem::exists(directory / kOffersModelFile, error)) {
    set->offers = offers::load_offer_model(directory / kOffersModelFile);
  }
  const auto now = std::chrono::system_clock::now();
  const auto seconds = std::chrono::floor<std::chrono::seconds>(now);
  set->loaded_at =
      fmt::format("{:%FT%T}.{:03}Z", seconds,
                  std::chrono::duration_cast<std::chrono::milliseconds>(now - seconds).count());
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
