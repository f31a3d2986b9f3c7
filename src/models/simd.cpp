#include "nbo/models/simd.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>

namespace nbo::models {
namespace {

SimdLevel detect() noexcept {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return SimdLevel::kAvx512;
  if (__builtin_cpu_supports("avx2")) return SimdLevel::kAvx2;
  return SimdLevel::kBaseline;
}

SimdLevel from_environment(SimdLevel supported) noexcept {
  const char* requested = std::getenv("NBO_SIMD");
  if (requested == nullptr) return supported;
  const std::string_view name(requested);
  for (const SimdLevel level : {SimdLevel::kBaseline, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    if (name == simd_level_name(level)) return std::min(level, supported);
  }
  return supported;
}

std::atomic<int>& current_level() {
  static std::atomic<int> level{static_cast<int>(from_environment(supported_simd_level()))};
  return level;
}

}  // namespace

std::string_view simd_level_name(SimdLevel level) noexcept {
  switch (level) {
    case SimdLevel::kAvx512:
      return "avx512";
    case SimdLevel::kAvx2:
      return "avx2";
    case SimdLevel::kBaseline:
      break;
  }
  return "baseline";
}

SimdLevel supported_simd_level() noexcept {
  static const SimdLevel supported = detect();
  return supported;
}

SimdLevel simd_level() noexcept {
  return static_cast<SimdLevel>(current_level().load(std::memory_order_relaxed));
}

SimdLevel set_simd_level(SimdLevel level) noexcept {
  const SimdLevel capped = std::min(level, supported_simd_level());
  current_level().store(static_cast<int>(capped), std::memory_order_relaxed);
  return capped;
}

}  // namespace nbo::models
