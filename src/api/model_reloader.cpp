// Reloading the models directory: the one code path of POST /admin/reload and of SIGHUP in
// `nbo serve` (through Service::reload_models()).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <utility>

#include "nbo/metrics/registry.hpp"
#include "nbo/models/registry.hpp"
#include "nbo/offers/offer_model.hpp"
#include "nbo/segments/segment_model.hpp"
#include "service_context.hpp"

namespace nbo::api {
namespace {

metrics::CounterFamily& reloads_family(metrics::Registry& registry) {
  return registry.counter("nbo_model_reloads_total",
                          "Reloads of the models directory, by result (ok, failed)", {"result"});
}

std::string versions(const models::ModelSet& set) {
  std::string out = fmt::format("churn {}", set.churn ? set.churn->metadata().version : "-");
  out += fmt::format(", segments {}", set.segments ? set.segments->metadata().version : "-");
  out += fmt::format(", offers {}", set.offers ? set.offers->metadata().version : "-");
  return out;
}

}  // namespace

ModelReloader::ModelReloader(models::ModelRegistry& registry, std::filesystem::path directory,
                             metrics::Registry& metrics)
    : ModelReloader(registry, std::move(directory), reloads_family(metrics)) {}

ModelReloader::ModelReloader(models::ModelRegistry& registry, std::filesystem::path directory,
                             metrics::CounterFamily& reloads)
    : registry_(registry),
      directory_(std::move(directory)),
      ok_(reloads.with({"ok"})),
      failed_(reloads.with({"failed"})) {}

std::shared_ptr<const models::ModelSet> ModelReloader::reload(std::string_view trigger) {
  std::lock_guard lock(mutex_);
  const auto started = std::chrono::steady_clock::now();
  const std::filesystem::path directory =
      directory_.empty() ? registry_.current()->directory : directory_;
  if (directory.empty()) {
    failed_.inc();
    spdlog::error("model reload ({}) failed: no models directory is configured", trigger);
    throw ApiError(errors::kReloadFailed, "",
                   "no models directory is configured; the loaded models are kept");
  }
  try {
    auto set = registry_.load_directory(directory);
    ok_.inc();
    spdlog::info(
        "model reload ({}) from {} in {:.0f} ms: {}; loaded_at {}", trigger, directory.string(),
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count(),
        versions(*set), set->loaded_at);
    return set;
  } catch (const std::exception& error) {
    failed_.inc();
    spdlog::error("model reload ({}) from {} failed, the loaded models are kept: {}", trigger,
                  directory.string(), error.what());
    throw ApiError(errors::kReloadFailed, "",
                   fmt::format("reload failed, the loaded models are kept: {}", error.what()));
  }
}

}  // namespace nbo::api
