#include "nbo/models/ensemble.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "column_buffer.hpp"

namespace nbo::models {
namespace {

double number_at(const nlohmann::json& object, const char* key, const std::string& path) {
  const auto found = object.find(key);
  if (found == object.end() || !found->is_number()) {
    throw std::invalid_argument(fmt::format("{}.{}: must be a number", path, key));
  }
  const double value = found->get<double>();
  if (!std::isfinite(value)) throw std::invalid_argument(fmt::format("{}.{}: must be finite", path, key));
  return value;
}

}  // namespace

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

std::unique_ptr<const Ensemble> Ensemble::from_json(const nlohmann::json& estimator,
                                                    const std::vector<std::string>& columns) {
  const auto members = estimator.find("members");
  if (members == estimator.end() || !members->is_array() || members->empty()) {
    throw std::invalid_argument("estimator.members: must be a non-empty array");
  }
  std::vector<EnsembleMember> parsed;
  for (std::size_t i = 0; i < members->size(); ++i) {
    const auto& entry = (*members)[i];
    const std::string path = fmt::format("estimator.members[{}]", i);
    if (!entry.is_object()) throw std::invalid_argument(path + ": must be an object");
    EnsembleMember member;
    const auto name = entry.find("name");
    if (name == entry.end() || !name->is_string()) {
      throw std::invalid_argument(path + ".name: must be a string");
    }
    member.name = name->get<std::string>();
    member.weight = number_at(entry, "weight", path);
    const auto calibration = entry.find("calibration");
    if (calibration == entry.end() || !calibration->is_object()) {
      throw std::invalid_argument(path + ".calibration: must be an object");
    }
    member.slope = number_at(*calibration, "slope", path + ".calibration");
    member.offset = number_at(*calibration, "offset", path + ".calibration");
    const auto inner = entry.find("estimator");
    if (inner == entry.end()) throw std::invalid_argument(path + ".estimator: is required");
    if (inner->is_object() && inner->value("type", "") == "ensemble") {
      throw std::invalid_argument(path + ".estimator: an ensemble cannot contain an ensemble");
    }
    try {
      member.estimator = estimator_from_json(*inner, columns);
    } catch (const std::invalid_argument& error) {
      // Member errors name their path inside the member: "estimator.x" -> "<path>.estimator.x".
      throw std::invalid_argument(path + "." + error.what());
    }
    parsed.push_back(std::move(member));
  }
  try {
    return std::make_unique<const Ensemble>(columns, std::move(parsed));
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(std::string("estimator.members: ") + error.what());
  }
}

}  // namespace nbo::models
