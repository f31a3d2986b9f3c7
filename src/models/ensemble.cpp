#include "nbo/models/ensemble.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "column_buffer.hpp"
#include "nbo/models/json_reader.hpp"

namespace nbo::models {
Ensemble::Ensemble(std::vector<std::string> column_names, std::vector<EnsembleMember> members)
    : column_names_(std::move(column_names)), members_(std::move(members)) {
  if (members_.empty()) throw std::invalid_argument("an ensemble needs at least one member");
  double total = 0.0;
  for (std::size_t i = 0; i < members_.size(); ++i) {
    const auto& member = members_[i];
    if (member.estimator == nullptr) {
      throw std::invalid_argument(fmt::format("ensemble member {} has no estimator", i));
    }
    if (member.estimator->type() == type()) {
      throw std::invalid_argument(fmt::format("ensemble member {} is itself an ensemble", i));
    }
    if (member.estimator->column_count() != column_names_.size()) {
      throw std::invalid_argument(fmt::format("ensemble member {} expects {} columns, not {}", i,
                                              member.estimator->column_count(),
                                              column_names_.size()));
    }
    if (!std::isfinite(member.weight) || member.weight < 0 || !std::isfinite(member.slope) ||
        !std::isfinite(member.offset)) {
      throw std::invalid_argument(fmt::format(
          "ensemble member {}: weight must be >= 0 and weight, slope, offset finite", i));
    }
    total += member.weight;
  }
  if (std::abs(total - 1.0) > 1e-9) {
    throw std::invalid_argument(fmt::format("ensemble weights sum to {}, not 1", total));
  }
}

double Ensemble::margin(std::span<const double> row) const {
  double sum = 0.0;
  for (const auto& member : members_) {
    sum += member.weight * (member.slope * member.estimator->margin(row) + member.offset);
  }
  return sum;
}

void Ensemble::batch_margins(std::span<const double> rows, std::span<double> out) const {
  // Rows per block: the members' margins of a block fit a stack buffer.
  constexpr std::size_t kBlock = 256;
  const std::size_t columns = column_names_.size();
  std::array<double, kBlock> member_margins;
  for (std::size_t begin = 0; begin < out.size(); begin += kBlock) {
    const std::size_t count = std::min(kBlock, out.size() - begin);
    const auto block = rows.subspan(begin * columns, count * columns);
    const std::span<double> sums = out.subspan(begin, count);
    std::fill(sums.begin(), sums.end(), 0.0);
    for (const auto& member : members_) {
      member.estimator->margins(block, std::span<double>(member_margins.data(), count));
      for (std::size_t r = 0; r < count; ++r) {
        sums[r] += member.weight * (member.slope * member_margins[r] + member.offset);
      }
    }
  }
}

Estimator::Explanation Ensemble::explain(std::span<const double> row,
                                        std::span<double> out) const {
  const std::size_t columns = column_names_.size();
  detail::ColumnBuffer scratch_buffer(columns);
  const std::span<double> scratch = scratch_buffer.span();
  std::fill(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(columns), 0.0);
  double baseline = 0.0;
  double margin = 0.0;
  for (const auto& member : members_) {
    const double scale = member.weight * member.slope;
    const Explanation explained = member.estimator->explain(row, scratch);
    margin += member.weight * (member.slope * explained.margin + member.offset);
    baseline += scale * explained.baseline + member.weight * member.offset;
    for (std::size_t c = 0; c < columns; ++c) out[c] += scale * scratch[c];
  }
  return {margin, baseline};
}

nlohmann::json Ensemble::to_json() const {
  nlohmann::json members = nlohmann::json::array();
  for (const auto& member : members_) {
    members.push_back({{"name", member.name},
                       {"weight", member.weight},
                       {"calibration", {{"slope", member.slope}, {"offset", member.offset}}},
                       {"estimator", member.estimator->to_json()}});
  }
  return {{"type", type()}, {"members", std::move(members)}};
}

std::unique_ptr<const Ensemble> Ensemble::read(const JsonReader& estimator,
                                               const std::vector<std::string>& columns) {
  estimator.only_keys({"type", "members"});
  const JsonReader members = estimator["members"];
  const std::size_t count = members.array_size(1, std::numeric_limits<std::size_t>::max());
  std::vector<EnsembleMember> parsed;
  for (std::size_t i = 0; i < count; ++i) {
    const JsonReader entry = members[i];
    entry.only_keys({"name", "weight", "calibration", "estimator"});
    EnsembleMember member;
    member.name = entry["name"].string();
    member.weight = entry["weight"].finite_number();
    const JsonReader calibration = entry["calibration"];
    calibration.only_keys({"slope", "offset"});
    member.slope = calibration["slope"].finite_number();
    member.offset = calibration["offset"].finite_number();
    const JsonReader inner = entry["estimator"];
    inner.expect_object();
    if (const auto type = inner.find("type"); type && type->json() == "ensemble") {
      inner.fail("an ensemble cannot contain an ensemble");
    }
    member.estimator = read_estimator(inner, columns);
    parsed.push_back(std::move(member));
  }
  try {
    return std::make_unique<const Ensemble>(columns, std::move(parsed));
  } catch (const std::invalid_argument& error) {
    members.fail(error.what());
  }
}

std::unique_ptr<const Ensemble> Ensemble::from_json(const nlohmann::json& estimator,
                                                    const std::vector<std::string>& columns) {
  return read(JsonReader(estimator, "estimator"), columns);
}

}  // namespace nbo::models
