#include "nbo/offers/offer_model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "nbo/models/json_file.hpp"
#include "nbo/models/json_reader.hpp"

namespace nbo::offers {
namespace {

using models::JsonReader;

double sigmoid(double z) {
  if (z >= 0) return 1.0 / (1.0 + std::exp(-z));
  const double e = std::exp(z);
  return e / (1.0 + e);
}

constexpr std::string_view kCandidateFormula =
    "p = 1 / (1 + exp(-(candidate margin + candidate.margin_offset))); "
    "margin_offset = log(negative sampling rate)";
constexpr std::string_view kExpectedValueFormula = "expected_value = p * price_rub";
constexpr std::string_view kPropensityFormula = "q = 1 / (1 + exp(-(propensity margin)))";

}  // namespace

OfferModel::OfferModel(OfferModelParts parts) : parts_(std::move(parts)) {
  if (parts_.metadata.name.empty()) throw std::invalid_argument("metadata.name: must not be empty");
  if (parts_.metadata.version.empty()) {
    throw std::invalid_argument("metadata.version: must not be empty");
  }
  if (parts_.horizon_days < 1 || parts_.horizon_days > 365) {
    throw std::invalid_argument("horizon_days: must be in [1, 365]");
  }
  if (!parts_.candidate || parts_.candidate->column_count() != candidate_feature_names().size()) {
    throw std::invalid_argument(
        fmt::format("candidate.estimator: must have the {} columns of "
                    "the candidate features",
                    candidate_feature_names().size()));
  }
  if (!parts_.propensity ||
      parts_.propensity->column_count() != propensity_feature_names().size()) {
    throw std::invalid_argument(
        fmt::format("propensity.estimator: must have the {} columns of "
                    "the propensity features",
                    propensity_feature_names().size()));
  }
  if (!std::isfinite(parts_.candidate_margin_offset) || parts_.candidate_margin_offset > 0) {
    throw std::invalid_argument("candidate.margin_offset: must be finite and <= 0");
  }
  for (std::size_t i = 0; i < parts_.courses.size(); ++i) {
    const auto& [id, market] = parts_.courses[i];
    if (!course_index_.emplace(id, i).second) {
      throw std::invalid_argument(
          fmt::format("market.courses[{}].course_id: duplicate '{}'", i, id));
    }
    if (!(market.purchases_30d >= 0) || !(market.purchases_90d >= 0) || !(market.owners >= 0) ||
        !(market.touchers >= 0)) {
      throw std::invalid_argument(fmt::format("market.courses[{}]: counts must be >= 0", i));
    }
  }
  for (std::size_t i = 0; i < parts_.co_purchase.size(); ++i) {
    const auto& [a, b, count] = parts_.co_purchase[i];
    if (!course_index_.contains(a) || !course_index_.contains(b) || a == b || !(count > 0)) {
      throw std::invalid_argument(fmt::format(
          "market.co_purchase[{}]: two different courses of market.courses and a count > 0", i));
    }
  }
  for (std::size_t i = 0; i < parts_.touch_purchase.size(); ++i) {
    const auto& [a, b, count] = parts_.touch_purchase[i];
    if (!course_index_.contains(a) || !course_index_.contains(b) || a == b || !(count > 0)) {
      throw std::invalid_argument(fmt::format(
          "market.touch_purchase[{}]: two different courses of market.courses and a count > 0", i));
    }
  }
  for (std::size_t i = 0; i < parts_.popular.size(); ++i) {
    if (!course_index_.contains(parts_.popular[i])) {
      throw std::invalid_argument(
          fmt::format("market.popular[{}]: '{}' is not in market.courses", i, parts_.popular[i]));
    }
  }
}

MarketContext OfferModel::market_for(const Catalog& catalog) const {
  MarketContext market;
  const std::size_t n = catalog.size();
  market.purchases_30d.assign(n, 0.0);
  market.purchases_90d.assign(n, 0.0);
  market.owners.assign(n, 0.0);
  market.co_purchase.assign(n, {});
  market.touchers.assign(n, 0.0);
  market.touch_purchase.assign(n, {});
  for (const auto& [id, figures] : parts_.courses)
    market.total_purchases_30d += figures.purchases_30d;
  for (std::size_t c = 0; c < n; ++c) {
    const auto found = course_index_.find(catalog[c].course_id);
    if (found == course_index_.end()) continue;
    const auto& figures = parts_.courses[found->second].second;
    market.purchases_30d[c] = figures.purchases_30d;
    market.purchases_90d[c] = figures.purchases_90d;
    market.owners[c] = figures.owners;
    market.touchers[c] = figures.touchers;
  }
  for (const auto& [a, b, count] : parts_.co_purchase) {
    const auto ia = catalog.find(a);
    const auto ib = catalog.find(b);
    if (ia >= 0 && ib >= 0)
      market.co_purchase[static_cast<std::size_t>(ia)].emplace_back(ib, count);
  }
  for (const auto& [a, b, count] : parts_.touch_purchase) {
    const auto ia = catalog.find(a);
    const auto ib = catalog.find(b);
    if (ia >= 0 && ib >= 0) {
      market.touch_purchase[static_cast<std::size_t>(ia)].emplace_back(ib, count);
    }
  }
  for (auto& row : market.co_purchase) std::sort(row.begin(), row.end());
  for (auto& row : market.touch_purchase) std::sort(row.begin(), row.end());
  return market;
}

void OfferModel::candidate_probabilities(std::span<const double> rows,
                                         std::span<double> out) const {
  parts_.candidate->margins(rows, out);
  for (auto& value : out) value = sigmoid(value + parts_.candidate_margin_offset);
}

double OfferModel::buy_again_probability(std::span<const double> row) const {
  return sigmoid(parts_.propensity->margin(row));
}

nlohmann::json OfferModel::to_json() const {
  nlohmann::json courses = nlohmann::json::array();
  for (const auto& [id, market] : parts_.courses) {
    courses.push_back({{"course_id", id},
                       {"purchases_30d", market.purchases_30d},
                       {"purchases_90d", market.purchases_90d},
                       {"owners", market.owners},
                       {"touchers", market.touchers}});
  }
  nlohmann::json pairs = nlohmann::json::array();
  for (const auto& [a, b, count] : parts_.co_purchase) pairs.push_back({a, b, count});
  nlohmann::json touch_pairs = nlohmann::json::array();
  for (const auto& [a, b, count] : parts_.touch_purchase) touch_pairs.push_back({a, b, count});
  return {
      {"format", kOfferModelFormat},
      {"format_version", kOfferModelFormatVersion},
      {"metadata",
       {{"name", parts_.metadata.name},
        {"version", parts_.metadata.version},
        {"trained_at", parts_.metadata.trained_at},
        {"training_data_fingerprint", parts_.metadata.training_data_fingerprint},
        {"trainer", parts_.metadata.trainer},
        {"metrics", parts_.metadata.metrics},
        {"extra", parts_.metadata.extra}}},
      {"horizon_days", parts_.horizon_days},
      {"candidate",
       {{"features", candidate_feature_names()},
        {"margin_offset", parts_.candidate_margin_offset},
        {"estimator", parts_.candidate->to_json()}}},
      {"propensity",
       {{"features", propensity_feature_names()}, {"estimator", parts_.propensity->to_json()}}},
      {"ranking",
       {{"default", "probability"},
        {"probability", kCandidateFormula},
        {"expected_value", kExpectedValueFormula},
        {"buy_again_probability", kPropensityFormula}}},
      {"market",
       {{"as_of", parts_.market_as_of},
        {"courses", std::move(courses)},
        {"co_purchase", std::move(pairs)},
        {"touch_purchase", std::move(touch_pairs)},
        {"popular", parts_.popular}}},
  };
}

OfferModel OfferModel::from_json(const nlohmann::json& document) {
  const JsonReader root(document);
  if (!document.is_object()) root.fail("the model file must hold a JSON object");
  root.only_keys({"format", "format_version", "metadata", "horizon_days", "candidate", "propensity",
                  "ranking", "market"});
  const JsonReader format = root["format"];
  if (format.string() != kOfferModelFormat) {
    format.fail(fmt::format("is \"{}\", expected \"{}\"", format.string(), kOfferModelFormat));
  }
  const JsonReader version = root["format_version"];
  if (!version.json().is_number_integer() ||
      version.json().get<std::int64_t>() != kOfferModelFormatVersion) {
    version.fail(fmt::format("is {}, this server reads version {}", version.json().dump(),
                             kOfferModelFormatVersion));
  }
  OfferModelParts parts;
  const JsonReader meta = root["metadata"];
  meta.only_keys({"name", "version", "trained_at", "training_data_fingerprint", "trainer",
                  "metrics", "extra"});
  parts.metadata.name = meta["name"].string();
  parts.metadata.version = meta["version"].string();
  parts.metadata.trained_at = meta["trained_at"].string();
  parts.metadata.training_data_fingerprint = meta["training_data_fingerprint"].string();
  if (const auto trainer = meta.find("trainer")) parts.metadata.trainer = trainer->string();
  if (const auto metrics = meta.find("metrics")) parts.metadata.metrics = metrics->json();
  if (const auto extra = meta.find("extra")) parts.metadata.extra = extra->json();
  parts.horizon_days = root["horizon_days"].integer<int>(1, 365);

  const auto read_features = [](const JsonReader& section, const std::vector<std::string>& names) {
    const JsonReader features = section["features"];
    const auto got = features.strings();
    if (got != names) {
      features.fail(
          fmt::format("must be the {} features this server computes, in order "
                      "(see docs/model-format.md)",
                      names.size()));
    }
  };
  const JsonReader candidate = root["candidate"];
  candidate.only_keys({"features", "margin_offset", "estimator"});
  read_features(candidate, candidate_feature_names());
  parts.candidate_margin_offset = candidate["margin_offset"].finite_number();
  if (parts.candidate_margin_offset > 0) candidate["margin_offset"].fail("must be <= 0");
  parts.candidate = models::read_estimator(candidate["estimator"], candidate_feature_names());

  const JsonReader propensity = root["propensity"];
  propensity.only_keys({"features", "estimator"});
  read_features(propensity, propensity_feature_names());
  parts.propensity = models::read_estimator(propensity["estimator"], propensity_feature_names());

  const JsonReader ranking = root["ranking"];
  ranking.only_keys({"default", "probability", "expected_value", "buy_again_probability"});
  const JsonReader ranking_default = ranking["default"];
  if (ranking_default.string() != "probability" && ranking_default.string() != "expected_value") {
    ranking_default.fail("must be \"probability\" or \"expected_value\"");
  }
  ranking["probability"].string();
  ranking["expected_value"].string();
  ranking["buy_again_probability"].string();

  const JsonReader market = root["market"];
  market.only_keys({"as_of", "courses", "co_purchase", "touch_purchase", "popular"});
  parts.market_as_of = market["as_of"].string();
  if (!parse_time(parts.market_as_of)) market["as_of"].fail("must be an ISO-8601 UTC time");
  const JsonReader courses = market["courses"];
  for (std::size_t i = 0, n = courses.array_size(0, 100000); i < n; ++i) {
    const JsonReader course = courses[i];
    course.only_keys({"course_id", "purchases_30d", "purchases_90d", "owners", "touchers"});
    CourseMarket figures;
    figures.purchases_30d = course["purchases_30d"].finite_number();
    figures.purchases_90d = course["purchases_90d"].finite_number();
    figures.owners = course["owners"].finite_number();
    figures.touchers = course["touchers"].finite_number();
    for (const auto& [name, value] :
         {std::pair{"purchases_30d", figures.purchases_30d},
          std::pair{"purchases_90d", figures.purchases_90d}, std::pair{"owners", figures.owners},
          std::pair{"touchers", figures.touchers}}) {
      if (value < 0) course[name].fail(fmt::format("must be >= 0, got {}", value));
    }
    const std::string& id = course["course_id"].string();
    for (const auto& existing : parts.courses) {
      if (existing.first == id) course["course_id"].fail(fmt::format("duplicate '{}'", id));
    }
    parts.courses.emplace_back(id, figures);
  }
  const JsonReader pairs = market["co_purchase"];
  for (std::size_t i = 0, n = pairs.array_size(0, 10000000); i < n; ++i) {
    const JsonReader pair = pairs[i];
    pair.array_size(3, 3);
    const double count = pair[2].finite_number();
    if (!(count > 0)) pair[2].fail(fmt::format("must be > 0, got {}", count));
    parts.co_purchase.emplace_back(pair[0].string(), pair[1].string(), count);
  }
  const JsonReader touch_pairs = market["touch_purchase"];
  for (std::size_t i = 0, n = touch_pairs.array_size(0, 10000000); i < n; ++i) {
    const JsonReader pair = touch_pairs[i];
    pair.array_size(3, 3);
    const double count = pair[2].finite_number();
    if (!(count > 0)) pair[2].fail(fmt::format("must be > 0, got {}", count));
    parts.touch_purchase.emplace_back(pair[0].string(), pair[1].string(), count);
  }
  parts.popular = market["popular"].strings();
  try {
    return OfferModel(std::move(parts));
  } catch (const std::invalid_argument& error) {
    root.fail_relative(error.what());
  }
}

std::shared_ptr<const OfferModel> load_offer_model(const std::filesystem::path& file) {
  const nlohmann::json document = models::read_json_file(file, "model file");
  try {
    return std::make_shared<const OfferModel>(OfferModel::from_json(document));
  } catch (const std::exception& error) {
    throw models::ModelLoadError(fmt::format("model file {}: {}", file.string(), error.what()));
  }
}

void save_offer_model(const OfferModel& model, const std::filesystem::path& file) {
  models::write_json_file(model.to_json(), file, "model file");
}

}  // namespace nbo::offers
