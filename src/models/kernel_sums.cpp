// The kernel pass, compiled three times (AVX-512, AVX2, baseline x86-64) from one body and
// picked per call by simd_level(). The body works on GCC vectors of eight doubles at every
// level, so the lanes, and how their partial sums are added, are the same everywhere.
#include "kernel_sums.hpp"

#include <cstdint>
#include <cstring>
#include <limits>

#include "nbo/models/simd.hpp"

// The helpers below are always inlined into the kernels, so no vector crosses a call.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace nbo::models::detail {
namespace {

using Doubles = double __attribute__((vector_size(64)));
using Integers = std::int64_t __attribute__((vector_size(64)));

constexpr double kLog2e = 1.4426950408889634;
// 1.5 * 2^52: adding it rounds a double of magnitude below 2^51 to an integer, which then sits in
// the sum's low mantissa bits.
constexpr double kShifter = 0x1.8p52;
// ln 2 split so that n * kLn2High is exact for |n| < 2^11.
constexpr double kLn2High = 0x1.62e42fee00000p-1;
constexpr double kLn2Low = 0x1.a39ef35793c76p-33;
constexpr double kLowest = -708.0;
constexpr double kHighest = 709.0;

template <class Vector>
[[gnu::always_inline]] inline Vector load(const double* values) {
  Vector lanes;
  std::memcpy(&lanes, values, sizeof lanes);
  return lanes;
}

// One body for a lane vector and for a single double: the same operations in the same order.
// The polynomial is evaluated by Estrin's scheme, whose chain of dependent operations is half
// Horner's.
template <class Value, class Bits>
[[gnu::always_inline]] inline Value exp_body(Value z) {
  const Value clamped = z < kLowest ? Value{} + kLowest : (z > kHighest ? Value{} + kHighest : z);
  const Value shifted = clamped * kLog2e + kShifter;
  const Value n = shifted - kShifter;
  const Value r = (clamped - n * kLn2High) - n * kLn2Low;
  const Value r2 = r * r;
  const Value r4 = r2 * r2;
  const Value low = (r + 1.0) + r2 * (r * (1.0 / 6.0) + 0.5);
  const Value high = (r * (1.0 / 120.0) + (1.0 / 24.0)) + r2 * (r * (1.0 / 5040.0) + (1.0 / 720.0));
  const Value p = low + r4 * high;
  Bits shifted_bits;
  std::memcpy(&shifted_bits, &shifted, sizeof shifted_bits);
  Bits shifter_bits;
  const Value shifter = Value{} + kShifter;
  std::memcpy(&shifter_bits, &shifter, sizeof shifter_bits);
  const Bits scale_bits = (shifted_bits - shifter_bits + 1023) << 52;
  Value scale;
  std::memcpy(&scale, &scale_bits, sizeof scale);
  const Value value = p * scale;
  const Value infinity = Value{} + std::numeric_limits<double>::infinity();
  return z < kLowest ? Value{} : (z > kHighest ? infinity : value);
}

// The weight of one vector of rows; `closest` takes their moved distances.
[[gnu::always_inline]] inline Doubles vector_weight(const double* base,
                                                    const double* const* columns,
                                                    const double* slopes, std::size_t moved,
                                                    double constant, std::size_t i, double offset,
                                                    double gamma, Doubles& closest) {
  Doubles distance = load<Doubles>(base + i);
  if (moved > 0) {
    for (std::size_t m = 0; m < moved; ++m) distance += slopes[m] * load<Doubles>(columns[m] + i);
    distance += constant;
  }
  closest = distance < closest ? distance : closest;
  return exp_body<Doubles, Integers>(-(gamma * (distance - offset)));
}

[[gnu::always_inline]] inline double add_lanes(Doubles v) {
  return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

// The sum of the weights of rows [begin, end), both multiples of kKernelBlock.
[[gnu::always_inline]] inline double block_sums(const double* base, const double* const* columns,
                                                const double* slopes, std::size_t moved,
                                                double constant, std::size_t begin, std::size_t end,
                                                double offset, double gamma, Doubles& closest) {
  Doubles sum0{};
  Doubles sum1{};
  Doubles sum2{};
  Doubles sum3{};
  for (std::size_t i = begin; i < end; i += kKernelBlock) {
    sum0 += vector_weight(base, columns, slopes, moved, constant, i, offset, gamma, closest);
    sum1 += vector_weight(base, columns, slopes, moved, constant, i + kKernelLanes, offset, gamma,
                          closest);
    sum2 += vector_weight(base, columns, slopes, moved, constant, i + 2 * kKernelLanes, offset,
                          gamma, closest);
    sum3 += vector_weight(base, columns, slopes, moved, constant, i + 3 * kKernelLanes, offset,
                          gamma, closest);
  }
  return add_lanes(((sum0 + sum1) + sum2) + sum3);
}

[[gnu::always_inline]] inline KernelSums sums_body(const double* base, const double* const* columns,
                                                   const double* slopes, std::size_t moved,
                                                   double constant, std::size_t positives,
                                                   std::size_t count, double offset, double gamma) {
  Doubles closest = Doubles{} + std::numeric_limits<double>::infinity();
  KernelSums sums;
  sums.positive =
      block_sums(base, columns, slopes, moved, constant, 0, positives, offset, gamma, closest);
  sums.negative =
      block_sums(base, columns, slopes, moved, constant, positives, count, offset, gamma, closest);
  sums.closest = closest[0];
  for (std::size_t lane = 1; lane < kKernelLanes; ++lane) {
    sums.closest = closest[lane] < sums.closest ? closest[lane] : sums.closest;
  }
  return sums;
}

[[gnu::target("avx512f")]] KernelSums sums_avx512(const double* base, const double* const* columns,
                                                  const double* slopes, std::size_t moved,
                                                  double constant, std::size_t positives,
                                                  std::size_t count, double offset, double gamma) {
  return sums_body(base, columns, slopes, moved, constant, positives, count, offset, gamma);
}

[[gnu::target("avx2")]] KernelSums sums_avx2(const double* base, const double* const* columns,
                                             const double* slopes, std::size_t moved,
                                             double constant, std::size_t positives,
                                             std::size_t count, double offset, double gamma) {
  return sums_body(base, columns, slopes, moved, constant, positives, count, offset, gamma);
}

KernelSums sums_baseline(const double* base, const double* const* columns, const double* slopes,
                         std::size_t moved, double constant, std::size_t positives,
                         std::size_t count, double offset, double gamma) {
  return sums_body(base, columns, slopes, moved, constant, positives, count, offset, gamma);
}

}  // namespace

double kernel_exp(double z) noexcept {
  return exp_body<double, std::int64_t>(z);
}

KernelSums kernel_sums(const double* base, std::span<const double* const> columns,
                       std::span<const double> slopes, double constant, std::size_t positives,
                       std::size_t count, double offset, double gamma) noexcept {
  switch (simd_level()) {
    case SimdLevel::kAvx512:
      return sums_avx512(base, columns.data(), slopes.data(), columns.size(), constant, positives,
                         count, offset, gamma);
    case SimdLevel::kAvx2:
      return sums_avx2(base, columns.data(), slopes.data(), columns.size(), constant, positives,
                       count, offset, gamma);
    case SimdLevel::kBaseline:
      break;
  }
  return sums_baseline(base, columns.data(), slopes.data(), columns.size(), constant, positives,
                       count, offset, gamma);
}

}  // namespace nbo::models::detail
