#include "nbo/train/offers_trainer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <tuple>

#include "nbo/models/tree_ensemble.hpp"
#include "nbo/train/evaluation.hpp"

namespace nbo::train {
namespace {

using offers::Catalog;
using offers::EventKind;
using offers::MarketContext;
using offers::Seconds;
using offers::UserState;

// A uniform number in [0, 1) from (seed, user, course, cutoff): which negatives are kept does
// not depend on the order rows are built in.
double keep_draw(std::uint64_t seed, std::size_t user, std::size_t course, Seconds cutoff) {
  std::uint64_t x = seed ^ (static_cast<std::uint64_t>(user) * 0x9E3779B97F4A7C15ULL) ^
                    (static_cast<std::uint64_t>(course) << 40U) ^
                    static_cast<std::uint64_t>(cutoff);
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30U)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27U)) * 0x94D049BB133111EBULL;
  x ^= x >> 31U;
  return static_cast<double>(x >> 11U) * 0x1.0p-53;
}

// First purchases in [from, to): one flag per catalog course.
std::vector<char> purchases_in(const std::vector<offers::Event>& events, Seconds from, Seconds to,
                               std::size_t courses) {
  std::vector<char> bought(courses, 0);
  for (const auto& event : events) {
    if (event.time < from) continue;
    if (event.time >= to) break;
    if (event.kind == EventKind::kPurchase && event.course >= 0) {
      bought[static_cast<std::size_t>(event.course)] = 1;
    }
  }
  return bought;
}

// Eligible = on sale and not owned at the cutoff.
bool eligible(const UserState& user, const Catalog& catalog, std::size_t course) {
  return catalog[course].active && !user.courses[course].owned;
}

// Courses of `candidates` ordered by score, best first; ties by the catalog order.
std::vector<std::int32_t> ranked(const std::vector<std::int32_t>& candidates,
                                 const std::vector<double>& score) {
  std::vector<std::int32_t> order = candidates;
  std::stable_sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) {
    return score[static_cast<std::size_t>(a)] > score[static_cast<std::size_t>(b)];
  });
  return order;
}

std::vector<double> feature_cover(const models::TreeEnsemble& ensemble) {
  std::vector<double> cover(ensemble.column_count(), 0.0);
  for (const auto& tree : ensemble.trees()) {
    for (const auto& node : tree.nodes) {
      if (node.feature >= 0) cover[static_cast<std::size_t>(node.feature)] += node.cover;
    }
  }
  return cover;
}

nlohmann::json params_json(const XgboostParams& params) {
  return {{"mode", params.mode},
          {"trees", params.trees},
          {"max_depth", params.max_depth},
          {"learning_rate", params.learning_rate},
          {"subsample", params.subsample},
          {"colsample_bynode", params.colsample_bynode},
          {"min_child_weight", params.min_child_weight},
          {"reg_lambda", params.reg_lambda},
          {"seed", params.seed}};
}

}  // namespace

void RankingAccumulator::add(const std::vector<std::int32_t>& ranking,
                             const std::vector<std::int32_t>& bought) {
  if (bought.empty()) return;
  const auto relevant = [&](std::int32_t course) {
    return std::find(bought.begin(), bought.end(), course) != bought.end();
  };
  const std::size_t depth = std::min<std::size_t>(3, ranking.size());
  double dcg = 0;
  double precision_sum = 0;
  std::size_t hits = 0;
  bool hit1 = false;
  for (std::size_t i = 0; i < depth; ++i) {
    if (!relevant(ranking[i])) continue;
    if (i == 0) hit1 = true;
    ++hits;
    dcg += 1.0 / std::log2(static_cast<double>(i) + 2.0);
    precision_sum += static_cast<double>(hits) / static_cast<double>(i + 1);
  }
  const std::size_t ideal = std::min<std::size_t>(3, bought.size());
  double idcg = 0;
  for (std::size_t i = 0; i < ideal; ++i) idcg += 1.0 / std::log2(static_cast<double>(i) + 2.0);
  metrics_.hit_rate_1 += hit1 ? 1.0 : 0.0;
  metrics_.hit_rate_3 += hits > 0 ? 1.0 : 0.0;
  metrics_.ndcg_3 += dcg / idcg;
  user_ndcg_.push_back(dcg / idcg);
  metrics_.map_3 += precision_sum / static_cast<double>(ideal);
  ++metrics_.users;
}

RankingMetrics RankingAccumulator::result() const {
  RankingMetrics out = metrics_;
  if (out.users > 0) {
    const auto n = static_cast<double>(out.users);
    out.hit_rate_1 /= n;
    out.hit_rate_3 /= n;
    out.ndcg_3 /= n;
    out.map_3 /= n;
  }
  return out;
}

std::pair<double, double> ratio_interval(const std::vector<double>& model,
                                         const std::vector<double>& baseline, std::size_t resamples,
                                         std::uint64_t seed) {
  if (model.size() != baseline.size() || model.empty() || resamples == 0) {
    throw std::invalid_argument("ratio_interval: needs paired, non-empty samples");
  }
  const std::size_t n = model.size();
  std::vector<double> ratios;
  ratios.reserve(resamples);
  for (std::size_t b = 0; b < resamples; ++b) {
    double model_sum = 0;
    double baseline_sum = 0;
    for (std::size_t i = 0; i < n; ++i) {
      // keep_draw as a seeded uniform: the interval does not depend on a library's generator.
      const auto pick = static_cast<std::size_t>(
          keep_draw(seed + b, i, 0x5A5A, static_cast<Seconds>(b)) * static_cast<double>(n));
      model_sum += model[std::min(pick, n - 1)];
      baseline_sum += baseline[std::min(pick, n - 1)];
    }
    ratios.push_back(baseline_sum > 0 ? model_sum / baseline_sum : 0.0);
  }
  std::sort(ratios.begin(), ratios.end());
  const auto at = [&](double q) {
    return ratios[std::min(resamples - 1,
                           static_cast<std::size_t>(q * static_cast<double>(resamples)))];
  };
  return {at(0.025), at(0.975)};
}

OffersTrainingResult train_offers_model(const SchoolDataset& data,
                                        const OffersTrainingOptions& options,
                                        const std::function<void(const std::string&)>& log) {
  const auto say = [&](const std::string& line) {
    if (log) log(line);
  };
  if (options.horizon_days < 1 || options.horizon_days > 365) {
    throw std::invalid_argument("horizon_days: must be in [1, 365]");
  }
  if (options.training_cutoffs < 1 || options.training_cutoffs > 24) {
    throw std::invalid_argument("training_cutoffs: must be in [1, 24]");
  }
  if (!(options.negative_rate > 0 && options.negative_rate <= 1)) {
    throw std::invalid_argument("negative_rate: must be in (0, 1]");
  }
  if (options.model_version.empty() || options.trained_at.empty()) {
    throw std::invalid_argument("model_version and trained_at are required");
  }
  const Catalog& catalog = data.catalog;
  const std::size_t courses = catalog.size();
  const std::size_t users = data.users.size();
  const Seconds horizon = options.horizon_days * offers::kSecondsPerDay;
  if (options.exclude_last_days < 0 || options.exclude_last_days > 180) {
    throw std::invalid_argument("exclude_last_days: must be in [0, 180]");
  }
  const Seconds end = data.report.period_end - options.exclude_last_days * offers::kSecondsPerDay;
  const Seconds evaluation_cutoff = end - horizon;
  std::vector<Seconds> cutoffs;
  if (options.cutoff_step_days < 1 || options.cutoff_step_days > 180) {
    throw std::invalid_argument("cutoff_step_days: must be in [1, 180]");
  }
  const Seconds step = options.cutoff_step_days * offers::kSecondsPerDay;
  for (int i = 0; i < options.training_cutoffs; ++i) {
    const Seconds cutoff = evaluation_cutoff - horizon - i * step;
    if (cutoff <= data.report.period_start + horizon) break;
    cutoffs.push_back(cutoff);
  }
  if (cutoffs.empty()) throw std::invalid_argument("the export's period is too short to train");

  OffersTrainingResult result;
  const std::size_t candidate_columns = offers::candidate_feature_names().size();
  const std::size_t propensity_columns = offers::propensity_feature_names().size();
  std::vector<double> candidate_x;
  std::vector<double> candidate_y;
  std::vector<double> propensity_x;
  std::vector<double> propensity_y;
  std::vector<double> row(candidate_columns);
  std::vector<double> user_row(propensity_columns);
  for (const Seconds cutoff : cutoffs) {
    result.training_cutoffs.push_back(offers::format_time(cutoff));
    const MarketContext market = offers::market_context(data.events, cutoff, courses);
    for (std::size_t u = 0; u < users; ++u) {
      const UserState state =
          offers::summarize(data.events[u], cutoff, catalog, data.users[u].registered_at,
                            data.users[u].allow_email, data.users[u].age_group);
      if (!state.has_history()) continue;
      const auto bought = purchases_in(data.events[u], cutoff, cutoff + horizon, courses);
      const bool buys = std::any_of(bought.begin(), bought.end(), [](char b) { return b != 0; });
      offers::propensity_row(state, user_row);
      propensity_x.insert(propensity_x.end(), user_row.begin(), user_row.end());
      propensity_y.push_back(buys ? 1.0 : 0.0);
      const auto co = offers::associations(state, market);
      for (std::size_t c = 0; c < courses; ++c) {
        if (!eligible(state, catalog, c)) continue;
        const bool positive = bought[c] != 0;
        if (!positive && keep_draw(options.seed, u, c, cutoff) >= options.negative_rate) continue;
        offers::candidate_row(state, catalog, market, co, c, row);
        candidate_x.insert(candidate_x.end(), row.begin(), row.end());
        candidate_y.push_back(positive ? 1.0 : 0.0);
      }
    }
    say(fmt::format("cutoff {}: {} candidate rows, {} user rows so far",
                    offers::format_time(cutoff), candidate_y.size(), propensity_y.size()));
  }
  result.candidate_rows = candidate_y.size();
  result.candidate_positives =
      static_cast<std::size_t>(std::accumulate(candidate_y.begin(), candidate_y.end(), 0.0));
  result.propensity_rows = propensity_y.size();
  result.propensity_positives =
      static_cast<std::size_t>(std::accumulate(propensity_y.begin(), propensity_y.end(), 0.0));

  const auto as_matrix = [](const std::vector<double>& flat, std::size_t columns) {
    const auto rows = static_cast<Eigen::Index>(flat.size() / columns);
    Eigen::MatrixXd x(rows, static_cast<Eigen::Index>(columns));
    for (Eigen::Index r = 0; r < rows; ++r) {
      for (std::size_t c = 0; c < columns; ++c) {
        x(r, static_cast<Eigen::Index>(c)) = flat[static_cast<std::size_t>(r) * columns + c];
      }
    }
    return x;
  };
  say(fmt::format("fitting the candidate model on {} rows ({} bought)", result.candidate_rows,
                  result.candidate_positives));
  auto candidate =
      fit_xgboost(as_matrix(candidate_x, candidate_columns),
                  Eigen::Map<const Eigen::VectorXd>(candidate_y.data(),
                                                    static_cast<Eigen::Index>(candidate_y.size())),
                  offers::candidate_feature_names(), options.candidate_params);
  {
    const auto cover = feature_cover(*candidate);
    for (std::size_t i = 0; i < cover.size(); ++i) {
      result.candidate_importance.emplace_back(offers::candidate_feature_names()[i], cover[i]);
    }
  }
  candidate_x.clear();
  candidate_x.shrink_to_fit();
  say(fmt::format("fitting the propensity model on {} users ({} bought)", result.propensity_rows,
                  result.propensity_positives));
  auto propensity =
      fit_xgboost(as_matrix(propensity_x, propensity_columns),
                  Eigen::Map<const Eigen::VectorXd>(propensity_y.data(),
                                                    static_cast<Eigen::Index>(propensity_y.size())),
                  offers::propensity_feature_names(), options.propensity_params);

  // The market figures the server uses: as of the end of the export.
  const MarketContext final_market = offers::market_context(data.events, end, courses);
  offers::OfferModelParts parts;
  parts.metadata.name = "offers";
  parts.metadata.version = options.model_version;
  parts.metadata.trained_at = options.trained_at;
  parts.metadata.training_data_fingerprint = data.fingerprint;
  parts.metadata.trainer = options.trainer;
  parts.horizon_days = options.horizon_days;
  parts.market_as_of = offers::format_time(end);
  parts.candidate = std::move(candidate);
  parts.candidate_margin_offset = std::log(options.negative_rate);
  parts.propensity = std::move(propensity);
  std::vector<std::size_t> by_id(courses);
  std::iota(by_id.begin(), by_id.end(), 0);
  std::sort(by_id.begin(), by_id.end(), [&](std::size_t a, std::size_t b) {
    return catalog[a].course_id < catalog[b].course_id;
  });
  for (const std::size_t c : by_id) {
    parts.courses.emplace_back(catalog[c].course_id,
                               offers::CourseMarket{.purchases_30d = final_market.purchases_30d[c],
                                                    .purchases_90d = final_market.purchases_90d[c],
                                                    .owners = final_market.owners[c],
                                                    .touchers = final_market.touchers[c]});
    for (const auto& [b, count] : final_market.touch_purchase[c]) {
      parts.touch_purchase.emplace_back(catalog[c].course_id,
                                        catalog[static_cast<std::size_t>(b)].course_id, count);
    }
    for (const auto& [b, count] : final_market.co_purchase[c]) {
      parts.co_purchase.emplace_back(catalog[c].course_id,
                                     catalog[static_cast<std::size_t>(b)].course_id, count);
    }
  }
  std::sort(parts.co_purchase.begin(), parts.co_purchase.end());
  std::sort(parts.touch_purchase.begin(), parts.touch_purchase.end());
  std::vector<std::size_t> by_popularity = by_id;
  std::stable_sort(by_popularity.begin(), by_popularity.end(), [&](std::size_t a, std::size_t b) {
    if (final_market.purchases_30d[a] != final_market.purchases_30d[b]) {
      return final_market.purchases_30d[a] > final_market.purchases_30d[b];
    }
    return final_market.purchases_90d[a] > final_market.purchases_90d[b];
  });
  for (const std::size_t c : by_popularity) parts.popular.push_back(catalog[c].course_id);

  // Evaluation at T_e with the model as it will be served (same features, same code).
  OffersEvaluation& evaluation = result.evaluation;
  evaluation.cutoff = offers::format_time(evaluation_cutoff);
  const MarketContext market = offers::market_context(data.events, evaluation_cutoff, courses);
  RankingAccumulator popularity("global popularity");
  RankingAccumulator engaged("most-engaged not-owned course");
  RankingAccumulator co_occurrence("item-to-item co-occurrence");
  RankingAccumulator model_ranking("model");
  const auto& candidate_model = *parts.candidate;
  const auto& propensity_model = *parts.propensity;
  std::vector<double> rows;
  std::vector<double> margins;
  for (std::size_t u = 0; u < users; ++u) {
    const UserState state =
        offers::summarize(data.events[u], evaluation_cutoff, catalog, data.users[u].registered_at,
                          data.users[u].allow_email, data.users[u].age_group);
    if (!state.has_history()) continue;
    const auto bought_flags = purchases_in(data.events[u], evaluation_cutoff, end, courses);
    offers::propensity_row(state, user_row);
    evaluation.propensity_scores.push_back(propensity_model.margin(user_row));
    evaluation.recency_scores.push_back(-user_row[11]);
    evaluation.propensity_labels.push_back(
        std::any_of(bought_flags.begin(), bought_flags.end(), [](char b) { return b != 0; }) ? 1
                                                                                             : 0);
    std::vector<std::int32_t> candidates;
    std::vector<std::int32_t> bought;
    for (std::size_t c = 0; c < courses; ++c) {
      if (!eligible(state, catalog, c)) continue;
      candidates.push_back(static_cast<std::int32_t>(c));
      if (bought_flags[c]) bought.push_back(static_cast<std::int32_t>(c));
    }
    if (bought.empty()) continue;
    // Ties of the baselines are broken by popularity: a tiny share of it is added.
    std::vector<double> pop(courses, 0.0);
    std::vector<double> engagement(courses, 0.0);
    std::vector<double> co(courses, 0.0);
    std::vector<double> model(courses, 0.0);
    const double pop_scale = 1.0 / (market.total_purchases_30d + 1.0);
    for (std::size_t c = 0; c < courses; ++c) {
      pop[c] = market.purchases_30d[c] + 1e-3 * market.purchases_90d[c];
      const auto& touch = state.courses[c];
      engagement[c] = touch.views + touch.trials + touch.carts + 0.5 * pop[c] * pop_scale;
    }
    for (std::size_t o = 0; o < courses; ++o) {
      if (!state.courses[o].owned) continue;
      for (const auto& [c, count] : market.co_purchase[o]) co[static_cast<std::size_t>(c)] += count;
    }
    for (std::size_t c = 0; c < courses; ++c) co[c] += 0.5 * pop[c] * pop_scale;
    const auto co_scores = offers::associations(state, market);
    rows.assign(candidates.size() * candidate_columns, 0.0);
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      offers::candidate_row(
          state, catalog, market, co_scores, static_cast<std::size_t>(candidates[i]),
          std::span<double>(rows).subspan(i * candidate_columns, candidate_columns));
    }
    margins.assign(candidates.size(), 0.0);
    candidate_model.margins(rows, margins);
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      model[static_cast<std::size_t>(candidates[i])] = margins[i];
    }
    popularity.add(ranked(candidates, pop), bought);
    engaged.add(ranked(candidates, engagement), bought);
    co_occurrence.add(ranked(candidates, co), bought);
    model_ranking.add(ranked(candidates, model), bought);
  }
  evaluation.rankers = {popularity.result(), engaged.result(), co_occurrence.result(),
                        model_ranking.result()};
  evaluation.propensity_users = evaluation.propensity_labels.size();
  evaluation.propensity_positive_rate =
      evaluation.propensity_users == 0
          ? 0.0
          : static_cast<double>(std::accumulate(evaluation.propensity_labels.begin(),
                                                evaluation.propensity_labels.end(), 0)) /
                static_cast<double>(evaluation.propensity_users);
  evaluation.propensity_auc = roc_auc(evaluation.propensity_scores, evaluation.propensity_labels);
  evaluation.recency_auc = roc_auc(evaluation.recency_scores, evaluation.propensity_labels);
  double best = 0;
  for (std::size_t i = 0; i + 1 < evaluation.rankers.size(); ++i) {
    if (evaluation.rankers[i].ndcg_3 > best) {
      best = evaluation.rankers[i].ndcg_3;
      evaluation.best_baseline = evaluation.rankers[i].name;
    }
  }
  evaluation.ndcg_lift = best > 0 ? evaluation.rankers.back().ndcg_3 / best : 0.0;
  if (best > 0) {
    const RankingAccumulator* baselines[] = {&popularity, &engaged, &co_occurrence};
    for (const RankingAccumulator* baseline : baselines) {
      if (baseline->result().name != evaluation.best_baseline) continue;
      std::tie(evaluation.ndcg_lift_low, evaluation.ndcg_lift_high) =
          ratio_interval(model_ranking.user_ndcg(), baseline->user_ndcg(), 2000, options.seed);
    }
  }

  nlohmann::json table = nlohmann::json::array();
  for (const auto& ranker : evaluation.rankers) {
    table.push_back({{"ranker", ranker.name},
                     {"hit_rate_1", ranker.hit_rate_1},
                     {"hit_rate_3", ranker.hit_rate_3},
                     {"ndcg_3", ranker.ndcg_3},
                     {"map_3", ranker.map_3},
                     {"users", ranker.users}});
  }
  parts.metadata.metrics = {
      {"evaluation_cutoff", evaluation.cutoff},
      {"ranking", table},
      {"ndcg_3_lift_over_best_baseline", evaluation.ndcg_lift},
      {"ndcg_3_lift_95_interval", {evaluation.ndcg_lift_low, evaluation.ndcg_lift_high}},
      {"best_baseline", evaluation.best_baseline},
      {"buy_again_roc_auc", evaluation.propensity_auc},
      {"recency_baseline_roc_auc", evaluation.recency_auc},
      {"buy_again_users", evaluation.propensity_users},
      {"buy_again_positive_rate", evaluation.propensity_positive_rate}};
  parts.metadata.extra = {{"seed", options.seed},
                          {"exclude_last_days", options.exclude_last_days},
                          {"cutoff_step_days", options.cutoff_step_days},
                          {"negative_rate", options.negative_rate},
                          {"training_cutoffs", result.training_cutoffs},
                          {"candidate_rows", result.candidate_rows},
                          {"candidate_positives", result.candidate_positives},
                          {"propensity_rows", result.propensity_rows},
                          {"propensity_positives", result.propensity_positives},
                          {"candidate_params", params_json(options.candidate_params)},
                          {"propensity_params", params_json(options.propensity_params)}};
  result.model = std::make_shared<const offers::OfferModel>(std::move(parts));
  return result;
}

}  // namespace nbo::train
