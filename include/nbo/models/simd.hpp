// Which vector instructions the scoring kernels use (the k-NN and RBF SVC distance passes).
//
// One binary runs on any x86-64: the kernels are compiled for AVX-512, AVX2 and the baseline,
// and the processor's best level is picked at run time. Every level computes the same values
// bit for bit (each lane does the baseline's operations in the baseline's order, and the
// library is built without floating-point contraction, so no FMA rounds differently), so a model
// file trained, and every score served, is the same on any processor.
//
// NBO_SIMD=baseline|avx2|avx512 in the environment lowers the level (read once, at the first
// use); a level above what the processor supports is ignored.
//
// Thread safety: simd_level() may be called from any thread; set_simd_level() is for tests and
// benches, and changes the level seen by calls that start after it.
#pragma once

#include <string_view>

namespace nbo::models {

enum class SimdLevel { kBaseline = 0, kAvx2 = 1, kAvx512 = 2 };

std::string_view simd_level_name(SimdLevel level) noexcept;

// The best level this processor supports.
SimdLevel supported_simd_level() noexcept;

// The level the kernels use now.
SimdLevel simd_level() noexcept;

// Sets the level the kernels use, capped at supported_simd_level(); returns the level set.
SimdLevel set_simd_level(SimdLevel level) noexcept;

}  // namespace nbo::models
