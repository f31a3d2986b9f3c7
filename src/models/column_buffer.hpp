// A buffer of one double per model column for a single call: on the stack up to kInline columns
// (every pipeline this project builds), on the heap beyond, so scoring does not allocate.
//
// Thread safety: a plain value; each call owns its own.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <vector>

namespace nbo::models::detail {

class ColumnBuffer {
 public:
  static constexpr std::size_t kInline = 64;

  // Zero-filled, `columns` values.
  explicit ColumnBuffer(std::size_t columns) {
    if (columns <= kInline) {
      values_ = std::span<double>(inline_.data(), columns);
    } else {
      heap_.assign(columns, 0.0);
      values_ = heap_;
    }
  }
  ColumnBuffer(const ColumnBuffer&) = delete;
  ColumnBuffer& operator=(const ColumnBuffer&) = delete;

  std::span<double> span() noexcept { return values_; }

 private:
  std::array<double, kInline> inline_{};
  std::vector<double> heap_;
  std::span<double> values_;
};

}  // namespace nbo::models::detail
