// The passes of the kernel-neighbours estimator (kernel_neighbors.hpp) over its stored rows:
// - the Gaussian kernel pass: per row, its squared distance moved by an occlusion, then
//   exp(-gamma (distance - offset)) summed separately over the rows labelled 1 and 0;
// - the product pass: per row, its weight as a product of per-column factors looked up by its
//   level codes, summed the same way (row_factors(), coded_products());
// - the distance pass from level codes, and the explanations' passes of weights times factors.
//
// The distance and exp passes work in double precision, eight lanes at every level. The product
// pass and the explanations' passes of weights times factors work in single precision, sixteen
// lanes at every level: a float lookup in a table of 32 values is one permute of two registers
// where a double one is two permutes and a blend, for half the lanes. A weight is within about
// 1.2e-7 per lookup of the double product (relative; each factor and each product rounded to 24
// bits): 2e-6 for the store's model, 14 lookups. Per lane, the terms of two groups of rows (eight)
// are added in single precision, and that sum to the lane's total in double, so a small weight
// after a large one is lost only against the few terms of its own pair of groups, whatever the
// number of rows; the lanes' totals are then added in double.
//
// Every SimdLevel (simd.hpp) computes the same bits: the same lanes at every level (one AVX-512
// register, two AVX2 or four SSE2 ones), each lane the same operations in the same order, the
// lanes' partial sums added in a fixed order, and an exp of nbo's own (kernel_exp) instead of
// libm's, whose result depends on the processor's FMA support.
//
// Thread safety: no state of their own; each writes only the caller's buffers it is given (and
// kernel_exps() the padding of its input) and keeps no pointer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "nbo/models/kernel_neighbors.hpp"

namespace nbo::models::detail {

// Rows are processed in blocks of four vectors of eight, each vector with its own sums, so the
// exp's chains of operations overlap. The rows labelled 1 come first, then those labelled 0, each
// part padded to a multiple of kCodeGroup (two blocks) with rows whose distance is +infinity.
inline constexpr std::size_t kKernelLanes = 8;
inline constexpr std::size_t kKernelBlock = 4 * kKernelLanes;

// The single-precision passes' lanes: 16 floats, one AVX-512 register.
inline constexpr std::size_t kFloatLanes = 16;

// Level codes are stored in groups of kCodeGroup rows, interleaved so that one 64-byte load holds
// a code for each lane of the group's four vectors of sixteen floats: row 16 s + k of a group is
// its byte 4 k + s. Lane k of the load, read as a 32-bit integer, then holds the codes of the
// group's four vectors in its four bytes, and vector s's index is that integer shifted right by
// 8 s (a permute reads only the low bits), where a byte-to-lane widening would be a shuffle each.
// The double passes' vector v of eight (rows 8 v to 8 v + 7) is half v % 2 of float vector v / 2,
// its integers widened to 64 bits.
inline constexpr std::size_t kCodeGroup = 4 * kFloatLanes;
static_assert(kCodeGroup == 8 * kKernelLanes);

// exp(z) as the kernel pass computes it: z = n ln 2 + r with |r| <= ln 2 / 2, e^r by its Taylor
// polynomial of degree 7 (relative error below 1e-8), times 2^n; 0 for z < -708 (a weight below
// e^-708 of the nearest row's is none), and +infinity above 709. The reference for tests.
double kernel_exp(double z) noexcept;

// out[i] = kernel_exp(z[i]) for i < count; z and out need room for count rounded up to
// kKernelLanes (what lies past count is scratch).
void kernel_exps(double* z, std::size_t count, double* out) noexcept;

// The smallest of values[0..count), count a multiple of kKernelLanes; +infinity for none.
double smallest(const double* values, std::size_t count) noexcept;

struct KernelSums {
  double positive = 0.0;  // sum of the weights of the rows labelled 1
  double negative = 0.0;  // ... labelled 0
};

// The size of a lookup table: KernelNeighbors::kMaxLevels.
inline constexpr std::size_t kMaxLevels = KernelNeighbors::kMaxLevels;

// For the `count` rows (a multiple of kKernelBlock), the first `positives` of them (a multiple of
// kKernelBlock too) labelled 1 and the others 0: weight_i = kernel_exp(-(gamma * (distances[i] -
// offset))), rounded to float into weights[i] for the explanations' passes; returns the sums of
// the (double) weights of either label, each summed per lane of each of the block's four vectors,
// then the vectors added in order, then the lanes pairwise. offset is at most every distance (or
// the distance NaN): the exponents are at most 0, and the exp leaves out its clamp above 709.
KernelSums kernel_weights(const double* distances, std::size_t positives, std::size_t count,
                          double offset, double gamma, float* weights) noexcept;

// The same sums for moved distances: moved_i = base[i] + slopes[0] * columns[0][i] + slopes[1] *
// columns[1][i] ... + constant (in that order), weight_i = kernel_exp(-(gamma * (moved_i -
// offset))). With no columns, moved_i = base[i] and offset is at most every one of them, as for
// kernel_weights().
KernelSums kernel_sums(const double* base, std::span<const double* const> columns,
                       std::span<const double> slopes, double constant, std::size_t positives,
                       std::size_t count, double offset, double gamma) noexcept;

// How many values a lookup in a table of `levels` values reads (8, 16 or kMaxLevels): the table
// needs that much room, its values first.
constexpr std::size_t lookup_width(std::size_t levels) noexcept {
  return levels <= 8 ? 8 : (levels <= 16 ? 16 : kMaxLevels);
}

// The same sums, in single precision, of weights[i] * (tables[0][code 0 of row i] *
// tables[1][code 1 of row i] ...) (the factors multiplied in that order, then the weight), codes[m]
// interleaved (interleave_codes()) and positives and count multiples of kCodeGroup: per lane, a
// group's four vectors of sixteen added in order, a pair of groups' sums added, that added to the
// lane's total in double (the last group of an odd count alone), then the lanes pairwise. Each
// table holds kMaxLevels floats; levels[m] (at most kMaxLevels) is how many values column m's table
// has, and its codes are below lookup_width(levels[m]) (a code past levels[m], such as the padding
// rows' in KernelNeighbors, reads the table's entry there).
KernelSums table_sums(const float* weights, std::span<const std::uint8_t* const> codes,
                      std::span<const float* const> tables, std::span<const std::uint8_t> levels,
                      std::size_t positives, std::size_t count) noexcept;

// ln x to within a few units in the last place, the same bits on every processor (libm's log may
// round differently with and without FMA): ln m = 2 atanh((m - 1) / (m + 1)) by its series, plus
// the exponent times ln 2. 0 gives -infinity, +infinity itself, a negative x or a NaN a NaN.
double kernel_log(double x) noexcept;

// out[i] = kernel_log(x[i]) for i < count; x and out need room for count rounded up to
// kKernelLanes (what lies past count is scratch).
void kernel_logs(double* x, std::size_t count, double* out) noexcept;

// exp(z) as kernel_exp() reduces it, e^r by its Taylor polynomial of degree 12: within a few units
// in the last place, the same bits on every processor. For the factor tables of coded_products().
double precise_exp(double z) noexcept;

// The per-row tables of the distance and product passes, for every column j < levels.size() and
// v < lookup_width(levels[j]) (what a lookup reads; level_table holds kMaxLevels values per
// column, +infinity past its levels[j] levels):
// - terms[j * kMaxLevels + v] = (level_table[j * kMaxLevels + v] - values[j])^2;
// - minima[j] = the smallest of column j's terms (taken as smallest() takes it);
// - factors[j * kMaxLevels + v] = precise_exp(-(gamma * (term - minima[j]))): at most 1, 0 past
//   the levels.
void row_factors(const double* level_table, std::span<const std::uint8_t> levels,
                 const double* values, double gamma, double* terms, double* factors,
                 double* minima) noexcept;

// The weights as products of per-column factors, in single precision: weights[i] =
// factors[0][code 0 of row i] * factors[1][code 1 of row i] ... multiplied in that order from 1,
// for i < count, codes and levels as for table_sums() (positives and count multiples of
// kCodeGroup, the first `positives` rows labelled 1, each table kMaxLevels floats). With
// factors[m][v] = exp(-gamma (terms[m][v] - m_m)) rounded to float, the weight is
// exp(-gamma (d_i - sum_m m_m)) to within about 2e-6 without an exp per row. Returns the sums of
// the weights of either label, added as table_sums() adds them.
KernelSums coded_products(std::span<const std::uint8_t* const> codes,
                          std::span<const float* const> factors,
                          std::span<const std::uint8_t> levels, std::size_t positives,
                          std::size_t count, float* weights) noexcept;

// The rows of `codes` (one byte per row, `count` rows, a multiple of kCodeGroup) interleaved into
// `out` (count bytes).
void interleave_codes(const std::uint8_t* codes, std::size_t count, std::uint8_t* out) noexcept;

// Squared distances from level codes: out[i] = terms[0][code 0 of row i] + terms[1][code 1 of row
// i] ... added in that order from 0, for i < count (a multiple of kCodeGroup); codes[m] is column
// m's codes, interleaved. Each of `terms` holds kMaxLevels values; levels[m] (at most
// kMaxLevels) picks column m's lookup, and its codes are below lookup_width(levels[m]). With
// terms[m][v] = (level v of column m -
// the row's value)^2 these are bit for bit squared_distances()' values (row_distances.hpp), read
// from a byte per value instead of eight. Returns the smallest of them, as smallest() gives it.
double coded_distances(std::span<const std::uint8_t* const> codes,
                       std::span<const double* const> terms, std::span<const std::uint8_t> levels,
                       std::size_t count, double* out) noexcept;

}  // namespace nbo::models::detail
