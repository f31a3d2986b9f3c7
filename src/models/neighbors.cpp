#include "nbo/models/neighbors.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "estimator_json.hpp"
#include "row_distances.hpp"

namespace nbo::models {
namespace {

// A candidate neighbour; ordered by distance, then by row index (the lower index wins ties).
struct Neighbor {
  double squared_distance;
  std::size_t index;
};

bool closer(const Neighbor& a, const Neighbor& b) {
  if (a.squared_distance != b.squared_distance) return a.squared_distance < b.squared_distance;
  return a.index < b.index;
}

std::string_view weighting_name(NearestNeighbors::Weighting weighting) {
  return weighting == NearestNeighbors::Weighting::kUniform ? "uniform" : "distance";
}

}  // namespace

NearestNeighbors::NearestNeighbors(std::vector<std::string> column_names,
                                   std::vector<double> reference_rows,
                                   std::vector<std::uint8_t> labels, int k, Weighting weighting,
                                   std::vector<double> column_weights)
    : column_names_(std::move(column_names)),
      reference_rows_(std::move(reference_rows)),
      labels_(std::move(labels)),
      column_weights_(std::move(column_weights)),
      k_(k),
      weighting_(weighting) {
  const std::size_t columns = column_names_.size();
  const std::size_t rows = labels_.size();
  if (reference_rows_.size() != rows * columns) {
    throw std::invalid_argument(
        fmt::format("k-nearest-neighbours has {} reference values for {} rows of {} columns",
                    reference_rows_.size(), rows, columns));
  }
  if (k_ < 1) throw std::invalid_argument(fmt::format("k must be >= 1, is {}", k_));
  if (static_cast<std::size_t>(k_) > rows) {
    throw std::invalid_argument(
        fmt::format("k is {} but there are only {} reference rows", k_, rows));
  }
  if (weighting_ != Weighting::kUniform && weighting_ != Weighting::kDistance) {
    throw std::invalid_argument("unknown k-nearest-neighbours weighting");
  }
  for (std::size_t i = 0; i < rows; ++i) {
    if (labels_[i] > 1) {
      throw std::invalid_argument(fmt::format("label of reference row {} must be 0 or 1", i));
    }
    for (std::size_t j = 0; j < columns; ++j) {
      if (!std::isfinite(reference_rows_[i * columns + j])) {
        throw std::invalid_argument(fmt::format(
            "value of column '{}' in reference row {} must be finite", column_names_[j], i));
      }
    }
  }
  if (column_weights_.empty()) column_weights_.assign(columns, 1.0);
  if (column_weights_.size() != columns) {
    throw std::invalid_argument(fmt::format(
        "k-nearest-neighbours has {} column weights for {} columns", column_weights_.size(),
        columns));
  }
  for (std::size_t j = 0; j < columns; ++j) {
    if (!std::isfinite(column_weights_[j]) || column_weights_[j] < 0.0) {
      throw std::invalid_argument(fmt::format("weight of column '{}' must be finite and >= 0, is {}",
                                              column_names_[j], column_weights_[j]));
    }
  }
  if (std::all_of(column_weights_.begin(), column_weights_.end(),
                  [](double weight) { return weight == 0.0; })) {
    throw std::invalid_argument("k-nearest-neighbours column weights are all 0");
  }
  column_means_.assign(columns, 0.0);
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = 0; j < columns; ++j) column_means_[j] += reference_rows_[i * columns + j];
  }
  for (double& mean : column_means_) mean /= static_cast<double>(rows);
  std::vector<double> weighted_rows = reference_rows_;
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = 0; j < columns; ++j) weighted_rows[i * columns + j] *= column_weights_[j];
  }
  column_major_ = detail::to_column_major(weighted_rows, rows, columns);
}

double NearestNeighbors::margin(std::span<const double> row) const {
  const std::size_t rows = labels_.size();
  const auto k = static_cast<std::size_t>(k_);
  // Max-heap (by closer()) of the k closest rows seen so far; reused by the thread, so no
  // allocation once it has grown to k.
  thread_local std::vector<Neighbor> scratch;
  std::vector<Neighbor>& heap = scratch;
  heap.clear();
  heap.reserve(k);
  const auto by_closeness = [](const Neighbor& a, const Neighbor& b) { return closer(a, b); };
  thread_local std::vector<double> weighted_scratch;
  std::vector<double>& weighted_row = weighted_scratch;
  weighted_row.resize(row.size());
  for (std::size_t j = 0; j < row.size(); ++j) weighted_row[j] = row[j] * column_weights_[j];
  // Squared distance of the k-th closest row so far; a row farther than it cannot enter.
  double worst = std::numeric_limits<double>::infinity();
  double distances[detail::kDistanceBlock];
  for (std::size_t begin = 0; begin < rows; begin += detail::kDistanceBlock) {
    const std::size_t count = std::min(detail::kDistanceBlock, rows - begin);
    detail::squared_distances(weighted_row, column_major_, rows, begin, count, distances);
    for (std::size_t i = 0; i < count; ++i) {
      if (distances[i] > worst) continue;
      const Neighbor candidate{distances[i], begin + i};
      if (heap.size() < k) {
        heap.push_back(candidate);
        std::push_heap(heap.begin(), heap.end(), by_closeness);
        if (heap.size() == k) worst = heap.front().squared_distance;
      } else if (closer(candidate, heap.front())) {
        std::pop_heap(heap.begin(), heap.end(), by_closeness);
        heap.back() = candidate;
        std::push_heap(heap.begin(), heap.end(), by_closeness);
        worst = heap.front().squared_distance;
      }
    }
  }
  // Nearest first, so the sums below run in a fixed order.
  std::sort_heap(heap.begin(), heap.end(), by_closeness);
  double positive = 0.0;
  double negative = 0.0;
  for (const Neighbor& neighbor : heap) {
    const double weight = weighting_ == Weighting::kUniform
                              ? 1.0
                              : 1.0 / std::max(std::sqrt(neighbor.squared_distance), 1e-9);
    (labels_[neighbor.index] != 0 ? positive : negative) += weight;
  }
  // s = positive / total; p = (k s + 0.5) / (k + 1); logit(p) = log((k s + 0.5) / (k (1 - s) +
  // 0.5)), with 1 - s taken as negative / total so it is exact for small s.
  const double total = positive + negative;
  const double kd = static_cast<double>(k_);
  return std::log((kd * (positive / total) + 0.5) / (kd * (negative / total) + 0.5));
}

double NearestNeighbors::contributions(std::span<const double> row, std::span<double> out) const {
  return occlusion_contributions(*this, row, column_means_, out);
}

nlohmann::json NearestNeighbors::to_json() const {
  nlohmann::json estimator{
      {"type", type()},
      {"k", k_},
      {"weighting", weighting_name(weighting_)},
      {"columns", column_names_},
      {"labels", labels_},
      {"rows", detail::rows_to_json(reference_rows_, labels_.size(), column_names_.size())}};
  // Written only when it matters, so unweighted models keep their layout.
  if (std::any_of(column_weights_.begin(), column_weights_.end(),
                  [](double weight) { return weight != 1.0; })) {
    estimator["column_weights"] = column_weights_;
  }
  return estimator;
}

std::unique_ptr<const NearestNeighbors> NearestNeighbors::from_json(
    const nlohmann::json& estimator, const std::vector<std::string>& columns) {
  if (!estimator.is_object()) throw std::invalid_argument("estimator: must be an object");
  const auto& k = detail::estimator_field(estimator, "k");
  if (!k.is_number_integer() || k.get<long long>() < 1 || k.get<long long>() > 1'000'000'000) {
    throw std::invalid_argument("estimator.k: must be an integer >= 1");
  }
  const auto& weighting_json = detail::estimator_field(estimator, "weighting");
  Weighting weighting = Weighting::kUniform;
  if (weighting_json == "distance") {
    weighting = Weighting::kDistance;
  } else if (weighting_json != "uniform") {
    throw std::invalid_argument("estimator.weighting: must be \"uniform\" or \"distance\"");
  }
  auto names = detail::estimator_columns(estimator, columns);
  std::size_t row_count = 0;
  auto rows = detail::estimator_rows(estimator, "rows", names.size(), row_count);
  const auto& labels_json = detail::estimator_field(estimator, "labels");
  if (!labels_json.is_array()) throw std::invalid_argument("estimator.labels: must be an array");
  if (labels_json.size() != row_count) {
    throw std::invalid_argument(
        fmt::format("estimator.labels: has {} entries for {} rows", labels_json.size(), row_count));
  }
  std::vector<std::uint8_t> labels;
  labels.reserve(row_count);
  for (std::size_t i = 0; i < labels_json.size(); ++i) {
    const auto& label = labels_json[i];
    if (!label.is_number_integer() || (label != 0 && label != 1)) {
      throw std::invalid_argument(fmt::format("estimator.labels[{}]: must be 0 or 1", i));
    }
    labels.push_back(label == 1 ? 1 : 0);
  }
  if (k.get<long long>() > static_cast<long long>(row_count)) {
    throw std::invalid_argument(
        fmt::format("estimator.k: is {}, more than the {} rows", k.get<long long>(), row_count));
  }
  std::vector<double> column_weights;
  if (const auto found = estimator.find("column_weights"); found != estimator.end()) {
    if (!found->is_array() || found->size() != names.size()) {
      throw std::invalid_argument(fmt::format(
          "estimator.column_weights: must be an array of {} numbers, one per column",
          names.size()));
    }
    for (std::size_t j = 0; j < found->size(); ++j) {
      const auto& weight = (*found)[j];
      if (!weight.is_number() || !std::isfinite(weight.get<double>()) || weight.get<double>() < 0) {
        throw std::invalid_argument(
            fmt::format("estimator.column_weights[{}]: must be a finite number >= 0", j));
      }
      column_weights.push_back(weight.get<double>());
    }
  }
  return std::make_unique<NearestNeighbors>(std::move(names), std::move(rows), std::move(labels),
                                            k.get<int>(), weighting, std::move(column_weights));
}

}  // namespace nbo::models
