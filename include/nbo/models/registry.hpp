// The model registry: publishes the loaded models to request handlers.
//
// Models are immutable; the registry hands out std::shared_ptr<const ChurnModel> snapshots, so a
// request keeps scoring with the model it started with even if a reload swaps in a new one
// (the old one is freed when its last request finishes). A reload builds and validates every
// model first and swaps only when all are good, so a bad model file never replaces a good one.
//
// Thread safety: all methods are safe to call concurrently.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>

#include "nbo/models/churn_model.hpp"

namespace nbo::models {

class ModelRegistry {
 public:
  // The churn model, or nullptr before the first successful load.
  std::shared_ptr<const ChurnModel> churn() const;

  // Replaces the churn model (already validated by its construction).
  void publish_churn(std::shared_ptr<const ChurnModel> model);

  // Loads `<directory>/churn.json`, then publishes it. Throws ModelLoadError (naming the file
  // and the problem) and leaves the published models untouched on failure.
  void load_directory(const std::filesystem::path& directory);

  bool ready() const { return churn() != nullptr; }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const ChurnModel> churn_;
};

}  // namespace nbo::models
