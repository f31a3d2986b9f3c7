// The model registry: publishes the loaded model set to request handlers.
//
// A ModelSet holds every model and data file the service serves from (today the churn model;
// the store's segments and the school's offers join it as their areas arrive), loaded from one
// directory and published as one immutable unit, so a request sees one consistent version of
// all of them: it takes current() once and keeps that snapshot to the end, even if a reload
// swaps in a new set meanwhile (the old one is freed when its last request finishes). Loading
// builds and validates every file first and publishes only when all are good, so a bad file
// never replaces a good set.
//
// Thread safety: all methods are safe to call concurrently; a ModelSet is immutable.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "nbo/models/churn_model.hpp"
#include "nbo/offers/offer_model.hpp"

namespace nbo::segments {
class SegmentModel;
}

namespace nbo::models {

struct ModelSet {
  // The activity-decline model (models/churn.json). Required: a set without it is not ready.
  std::shared_ptr<const ChurnModel> churn;
  // The store's segments (models/segments.json). Optional: without it /predict answers without
  // a segment and /segment and the campaign lists answer 503 segments_not_loaded. When present it
  // must have been derived from this churn model (its rules compare that model's probabilities).
  std::shared_ptr<const segments::SegmentModel> segments;
  // The next-best-offer model (models/offers.json). Optional: without it the service still
  // serves churn, and POST /next-best-offer answers 503 model_not_loaded.
  std::shared_ptr<const offers::OfferModel> offers;
  std::filesystem::path directory;  // where the files were read from; empty for a built set
  std::string loaded_at;  // ISO-8601 UTC with milliseconds (2026-11-30T04:00:00.123Z); empty for
                          // a built set

  // Every model the service needs to answer its routes is present.
  bool ready() const noexcept { return churn != nullptr; }
};

// The model files of a directory, by name: loading reads these and only these.
inline constexpr std::string_view kChurnModelFile = "churn.json";
inline constexpr std::string_view kSegmentsFile = "segments.json";
inline constexpr std::string_view kOffersModelFile = "offers.json";

// Reads and validates every model file of `directory` into a new set. Throws ModelLoadError
// naming the file and the problem (a required file that is absent included, and a segments file
// derived from another churn model than the directory's). An optional file (segments.json,
// offers.json) that is absent leaves its member null; present, it must be valid.
std::shared_ptr<const ModelSet> load_model_set(const std::filesystem::path& directory);

class ModelRegistry {
 public:
  // The published set; an empty one (ready() false) before the first publish. Never null.
  std::shared_ptr<const ModelSet> current() const;

  // Replaces the whole set (already validated by its construction).
  void publish(std::shared_ptr<const ModelSet> set);

  // load_model_set(directory), then publish(). On failure throws ModelLoadError and leaves the
  // published set untouched. Returns the new set.
  std::shared_ptr<const ModelSet> load_directory(const std::filesystem::path& directory);

  bool ready() const { return current()->ready(); }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const ModelSet> current_ = std::make_shared<const ModelSet>();
};

}  // namespace nbo::models
