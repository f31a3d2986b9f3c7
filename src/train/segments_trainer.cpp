#include "nbo/train/segments_trainer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>
#include <variant>

#include "nbo/train/churn_trainer.hpp"
#include "nbo/train/decision_rule.hpp"
#include "nbo/train/evaluation.hpp"

namespace nbo::train {
namespace {

using features::FieldId;
using segments::Condition;
using segments::Operator;

// The default actions catalogue: what the published analyses of this store recommend for each
// behaviour (more promotions for promotion buyers, more product cards per page, a rethought
// premium subscription), plus one action per cell of the grid. Marketing edits the file's copy.
std::vector<segments::Action> default_actions() {
  return {
      {"personal_promotions", "Personal promotions",
       "More promotions and personal discounts in the customer's favourite category: these "
       "customers buy mostly on promotion."},
      {"category_offers", "Offers in the favourite category",
       "New arrivals, bundles and accessories from the category the customer buys most."},
      {"more_cards_per_page", "More product cards per page",
       "Show more product cards and personal recommendations on each page: these customers see "
       "few pages and categories per visit."},
      {"premium_review", "Rethink the premium subscription",
       "Remind premium subscribers what premium gives them, or add a benefit: premium customers "
       "at risk are not getting enough from it."},
      {"more_contacts", "More marketing contact",
       "More frequent marketing communication (e-mail, push, calls) where the customer allows "
       "messages."},
      {"cart_reminders", "Reminders of unpaid items",
       "Remind the customer of items left unpaid in the cart, with a time-limited discount."},
      {"retention_offer", "Personal retention offer",
       "A personal offer (loyalty bonus, free delivery) for a valuable customer whose activity "
       "is likely to decline."},
      {"automated_reactivation", "Automated reactivation mailing",
       "A low-cost automated reactivation mailing: each customer is worth little on their own."},
      {"record_profit", "Record the customer's profit",
       "No profit is on record for this customer: record it to place them in a value segment; "
       "meanwhile treat them as at risk."},
      {"loyalty_programme", "Keep in the loyalty programme",
       "No discount needed: keep these valuable customers engaged with the loyalty programme and "
       "new arrivals."},
      {"no_action", "No campaign", "Activity is stable: no campaign is needed."},
  };
}

// A behaviour a sub-group may be defined by.
struct Behaviour {
  Condition condition;
  std::string tag;     // part of the segment id
  std::string phrase;  // part of the segment name
  std::string action;  // the action it calls for
};

// A numeric behaviour for the action triggers: the field and its risky direction.
struct NumericBehaviour {
  FieldId field;
  bool risky_high;  // true: a high value is the risky behaviour
  std::string tag;
  std::string phrase;
  std::string action;
};

const std::vector<NumericBehaviour>& numeric_behaviours() {
  static const std::vector<NumericBehaviour> behaviours{
      {FieldId::kPromoShare, true, "promo", "a high promo share", "personal_promotions"},
      {FieldId::kMarketingActivity6m, false, "few_contacts", "few marketing contacts",
       "more_contacts"},
      {FieldId::kPagesPerVisit, false, "few_pages", "few pages per visit", "more_cards_per_page"},
      {FieldId::kAvgCategoriesPerVisit, false, "narrow_browsing", "few categories per visit",
       "more_cards_per_page"},
      {FieldId::kUnpaidItemsQuarter, true, "unpaid_items", "many unpaid items", "cart_reminders"},
  };
  return behaviours;
}

// Ids for the export's category levels (the segment id must be [a-z0-9_]).
std::string category_tag(std::string_view level, std::size_t index) {
  static const std::map<std::string_view, std::string_view> tags{
      {"Товары для детей", "kids_goods"},
      {"Домашний текстиль", "home_textiles"},
      {"Косметика и аксесуары", "cosmetics"},
      {"Техника для красоты и здоровья", "beauty_tech"},
      {"Мелкая бытовая техника и электроника", "electronics"},
      {"Кухонная посуда", "kitchenware"},
  };
  const auto found = tags.find(level);
  return found != tags.end() ? std::string(found->second) : fmt::format("category_{}", index);
}

std::string api_name(FieldId field) {
  return std::string(features::store_field(field).api_name);
}

struct Row {
  const features::RawCustomer* customer = nullptr;
  double probability = 0.0;
  std::optional<double> profit;
  double value_at_risk = 0.0;  // 0 without profit (for sums only)
  int declined = 0;
};

bool all_hold(const std::vector<Condition>& rule, const Row& row) {
  return std::all_of(rule.begin(), rule.end(), [&](const Condition& condition) {
    return segments::holds(condition, row.probability, *row.customer);
  });
}

// The churn model's out-of-fold probabilities, reproduced (step 1 of the header).
ChurnTrainingResult reproduce_out_of_fold(const MarketDataset& data,
                                          const models::ChurnModel& churn,
                                          const SegmentTrainingOptions& options,
                                          const ProgressCallback& progress) {
  const auto& meta = churn.metadata();
  if (meta.training_data_fingerprint != data.fingerprint) {
    throw std::invalid_argument(fmt::format(
        "the churn model '{}' was trained on export {} but this export is {}: train the churn "
        "model on this export first (nbo train churn), so that its out-of-fold probabilities "
        "exist for these customers",
        meta.version, meta.training_data_fingerprint, data.fingerprint));
  }
  const auto seed = meta.extra.find("seed");
  const auto chosen = meta.extra.find("chosen_candidate");
  if (seed == meta.extra.end() || !seed->is_number_unsigned() || chosen == meta.extra.end() ||
      !chosen->is_string()) {
    throw std::invalid_argument(
        "the churn model's metadata.extra lacks 'seed' or 'chosen_candidate': it was not written "
        "by nbo train churn, so its cross-validation cannot be reproduced");
  }
  ChurnTrainingOptions churn_options;
  churn_options.seed = seed->get<std::uint64_t>();
  churn_options.candidate = chosen->get<std::string>();
  if (churn_options.candidate != "ensemble") churn_options.families = {churn_options.candidate};
  churn_options.model_version = meta.version;
  churn_options.trained_at = meta.trained_at;
  churn_options.threads = options.threads;
  ChurnTrainingResult result = train_churn_model(data, churn_options, progress);
  const nlohmann::json expected = churn.to_json();
  const nlohmann::json reproduced = result.model->to_json();
  if (expected.at("estimator") != reproduced.at("estimator") ||
      expected.at("calibration") != reproduced.at("calibration")) {
    throw std::invalid_argument(fmt::format(
        "cross-validating the churn model's chosen candidate '{}' (seed {}) on this export did "
        "not reproduce the model file's estimator: the model was trained with other options or "
        "code; retrain it with nbo train churn",
        churn_options.candidate, churn_options.seed));
  }
  return result;
}

std::string percent(double fraction) {
  return fmt::format("{:.0f}%", 100.0 * fraction);
}

// How a numeric field's values compare between a group and the rest.
struct Comparison {
  double group_mean = 0.0;
  double others_mean = 0.0;
  double standardized = 0.0;
};

Comparison compare(const std::vector<Row>& rows, const std::vector<char>& in_group, FieldId field) {
  double sum_in = 0.0;
  double sum_out = 0.0;
  double sum_all = 0.0;
  double squares_all = 0.0;
  std::size_t n_in = 0;
  std::size_t n_out = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (!rows[i].customer->has(field)) continue;
    const double value = rows[i].customer->number(field);
    (in_group[i] ? sum_in : sum_out) += value;
    ++(in_group[i] ? n_in : n_out);
    sum_all += value;
    squares_all += value * value;
  }
  Comparison comparison;
  const std::size_t n = n_in + n_out;
  if (n_in == 0 || n_out == 0 || n < 2) return comparison;
  comparison.group_mean = sum_in / static_cast<double>(n_in);
  comparison.others_mean = sum_out / static_cast<double>(n_out);
  const double mean = sum_all / static_cast<double>(n);
  const double variance = std::max(0.0, squares_all / static_cast<double>(n) - mean * mean) *
                          static_cast<double>(n) / static_cast<double>(n - 1);
  if (variance > 0.0) {
    comparison.standardized =
        (comparison.group_mean - comparison.others_mean) / std::sqrt(variance);
  }
  return comparison;
}

// The numbers of the model inputs that are numbers (integers and booleans included).
std::vector<FieldId> numeric_inputs() {
  std::vector<FieldId> fields;
  for (const auto& field : features::store_fields()) {
    if (field.model_input && field.type != features::FieldType::kCategory) {
      fields.push_back(field.id);
    }
  }
  return fields;
}

std::string condition_text(const Condition& condition) {
  if (condition.op == Operator::kMissing) return fmt::format("{} missing", condition.input);
  if (!condition.level.empty()) {
    return fmt::format("{} {} «{}»", condition.input, segments::operator_name(condition.op),
                       condition.level);
  }
  return fmt::format("{} {} {:.4g}", condition.input, segments::operator_name(condition.op),
                     condition.number);
}

// A segment under construction: its rule and where it came from.
struct Draft {
  segments::Segment segment;
  const Behaviour* behaviour = nullptr;  // the sub-group's defining behaviour
  std::string behaviour_evidence;
  std::string cell_action;  // "retention_offer", ...
  bool at_risk = false;
};

}  // namespace

NaturalBreak natural_break(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  if (values.size() < 2 || values.front() == values.back()) {
    throw std::invalid_argument("a natural break needs at least two distinct values");
  }
  const std::size_t n = values.size();
  double total = 0.0;
  for (const double v : values) total += v;
  const double mean = total / static_cast<double>(n);
  double total_ss = 0.0;
  for (const double v : values) total_ss += (v - mean) * (v - mean);
  NaturalBreak best;
  double best_between = -1.0;
  double prefix = 0.0;
  for (std::size_t i = 0; i + 1 < n; ++i) {
    prefix += values[i];
    if (values[i] == values[i + 1]) continue;  // cut only between distinct values
    const auto low = static_cast<double>(i + 1);
    const auto high = static_cast<double>(n - i - 1);
    const double low_mean = prefix / low;
    const double high_mean = (total - prefix) / high;
    const double between = low * (low_mean - mean) * (low_mean - mean) +
                           high * (high_mean - mean) * (high_mean - mean);
    if (between > best_between) {
      best_between = between;
      best = {(values[i] + values[i + 1]) / 2.0,        low_mean, high_mean, i + 1, n - i - 1,
              total_ss > 0.0 ? between / total_ss : 0.0};
    }
  }
  return best;
}

SegmentTrainingResult train_segments(const MarketDataset& data, const models::ChurnModel& churn,
                                     const SegmentTrainingOptions& options,
                                     const ProgressCallback& progress) {
  const auto started = std::chrono::steady_clock::now();
  if (options.version.empty()) throw std::invalid_argument("a segments version is required");
  const auto say = [&](const std::string& line) {
    if (progress) progress(line);
  };

  // 1. Out-of-fold probabilities.
  say("cross-validating the churn model's candidate again for out-of-fold probabilities");
  const ChurnTrainingResult cv = reproduce_out_of_fold(data, churn, options, progress);
  const std::vector<double>& oof = cv.out_of_fold;
  const std::vector<int>& labels = cv.labels;
  SegmentTrainingResult result;
  result.out_of_fold_auc = roc_auc(oof, labels);
  result.churn_candidate = cv.candidates[cv.chosen].name;

  std::vector<Row> rows(data.customers.size());
  std::vector<double> profits;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& customer = data.customers[i].customer;
    rows[i].customer = &customer;
    rows[i].probability = oof[i];
    rows[i].declined = labels[i];
    if (customer.has(FieldId::kProfit)) {
      rows[i].profit = customer.number(FieldId::kProfit);
      rows[i].value_at_risk = oof[i] * *rows[i].profit;
      profits.push_back(*rows[i].profit);
    }
  }
  if (profits.size() < 10) {
    throw std::invalid_argument(fmt::format(
        "only {} customers have a profit: too few to learn a profit threshold", profits.size()));
  }

  // 2. The grid's thresholds.
  const ThresholdChoice f1 = max_f1_threshold(oof, labels);
  const models::Decision bands = risk_band_decision(
      oof, labels, f1, {options.at_risk_rate, std::min(0.99, options.at_risk_rate + 0.3)});
  const double p_cut = bands.bands.front().upper;
  std::size_t above = 0;
  std::size_t above_declined = 0;
  std::size_t below_declined = 0;
  for (const Row& row : rows) {
    if (row.probability >= p_cut) {
      ++above;
      above_declined += static_cast<std::size_t>(row.declined);
    } else {
      below_declined += static_cast<std::size_t>(row.declined);
    }
  }
  const std::size_t below = rows.size() - above;
  segments::Threshold probability_threshold{
      p_cut,
      fmt::format(
          "at risk from probability {:.4f}: there the observed decline rate (isotonic fit "
          "of the labels over the out-of-fold probabilities) reaches {}, so customers "
          "from it on are more likely than not to decline; {} customers are at or above "
          "it ({} of them declined), {} below ({} declined)",
          p_cut, percent(options.at_risk_rate), above,
          percent(above ? static_cast<double>(above_declined) / static_cast<double>(above) : 0.0),
          below,
          percent(below ? static_cast<double>(below_declined) / static_cast<double>(below) : 0.0))};
  const NaturalBreak profit_break = natural_break(profits);
  segments::Threshold profit_threshold{
      profit_break.threshold,
      fmt::format("high value from profit {:.4f}: the natural break of profit over {} customers "
                  "(two classes, the cut with the largest between-class variance: {} of the "
                  "variance); mean profit {:.2f} below it ({} customers), {:.2f} from it on ({})",
                  profit_break.threshold, profits.size(), percent(profit_break.explained),
                  profit_break.low_mean, profit_break.low_count, profit_break.high_mean,
                  profit_break.high_count)};
  say(fmt::format("thresholds: probability {:.4f}, profit {:.4f}", p_cut, profit_break.threshold));

  const Condition at_risk{std::string(segments::kProbabilityInput), Operator::kGreaterEqual, p_cut,
                          ""};
  const Condition stable{std::string(segments::kProbabilityInput), Operator::kLess, p_cut, ""};
  const Condition high_value{api_name(FieldId::kProfit), Operator::kGreaterEqual,
                             profit_break.threshold, ""};
  const Condition low_value{api_name(FieldId::kProfit), Operator::kLess, profit_break.threshold,
                            ""};
  const Condition no_profit{api_name(FieldId::kProfit), Operator::kMissing, 0.0, ""};

  // 3. Candidate behaviours, cut at their natural breaks over all customers.
  std::vector<Behaviour> behaviours;
  for (const NumericBehaviour& numeric : numeric_behaviours()) {
    std::vector<double> values;
    for (const Row& row : rows) {
      if (row.customer->has(numeric.field)) values.push_back(row.customer->number(numeric.field));
    }
    const NaturalBreak cut = natural_break(values);
    behaviours.push_back({Condition{api_name(numeric.field),
                                    numeric.risky_high ? Operator::kGreaterEqual : Operator::kLess,
                                    cut.threshold, ""},
                          numeric.tag, numeric.phrase, numeric.action});
  }
  behaviours.push_back(
      {Condition{api_name(FieldId::kServiceType), Operator::kEqual, 0.0, "премиум"}, "premium",
       "premium subscribers", "premium_review"});
  {
    const auto levels = features::category_levels(FieldId::kPopularCategory);
    for (std::size_t i = 0; i < levels.size(); ++i) {
      behaviours.push_back({Condition{api_name(FieldId::kPopularCategory), Operator::kEqual, 0.0,
                                      std::string(levels[i])},
                            category_tag(levels[i], i), fmt::format("mostly buy «{}»", levels[i]),
                            "category_offers"});
    }
  }

  std::size_t stable_count = 0;
  for (const Row& row : rows) stable_count += row.probability < p_cut ? 1 : 0;
  const auto share_among_stable = [&](const Condition& condition) {
    std::size_t matched = 0;
    for (const Row& row : rows) {
      if (row.probability < p_cut && segments::holds(condition, row.probability, *row.customer)) {
        ++matched;
      }
    }
    return stable_count ? static_cast<double>(matched) / static_cast<double>(stable_count) : 0.0;
  };

  std::vector<Draft> drafts;
  // Sub-groups of one at-risk cell, then the cell's remainder.
  const auto split_cell = [&](const std::vector<Condition>& cell_rule, const std::string& cell_id,
                              const std::string& cell_name, const std::string& cell_action) {
    std::vector<std::size_t> cell;
    double cell_value = 0.0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (all_hold(cell_rule, rows[i])) {
        cell.push_back(i);
        cell_value += rows[i].value_at_risk;
      }
    }
    std::vector<char> taken(rows.size(), 0);
    std::vector<char> used(behaviours.size(), 0);
    const std::size_t min_size = std::max(
        options.min_subgroup, static_cast<std::size_t>(std::ceil(
                                  options.min_subgroup_share * static_cast<double>(cell.size()))));
    for (int round = 0; round < options.max_subgroups; ++round) {
      std::optional<std::size_t> best;
      double best_value = 0.0;
      std::string best_evidence;
      for (std::size_t b = 0; b < behaviours.size(); ++b) {
        if (used[b]) continue;
        const Condition& condition = behaviours[b].condition;
        std::size_t in_cell = 0;
        std::size_t matched = 0;
        double matched_value = 0.0;
        for (const std::size_t i : cell) {
          if (!segments::holds(condition, rows[i].probability, *rows[i].customer)) continue;
          ++in_cell;
          if (taken[i]) continue;
          ++matched;
          matched_value += rows[i].value_at_risk;
        }
        if (matched < min_size || cell.empty()) continue;
        const double cell_share = static_cast<double>(in_cell) / static_cast<double>(cell.size());
        if (cell_share > options.max_subgroup_share) continue;
        const double stable_share = share_among_stable(condition);
        const double lift = stable_share > 0.0 ? cell_share / stable_share
                                               : std::numeric_limits<double>::infinity();
        if (lift < options.min_lift) continue;
        if (!best || matched_value > best_value) {
          best = b;
          best_value = matched_value;
          best_evidence = fmt::format(
              "{}: {} of this cell vs {} of the customers not at risk ({:.1f}x); these {} "
              "customers hold {} of the cell's value at risk",
              condition_text(condition), percent(cell_share), percent(stable_share),
              std::isfinite(lift) ? lift : 99.0, matched,
              percent(cell_value > 0.0 ? matched_value / cell_value : 0.0));
        }
      }
      if (!best) break;
      used[*best] = 1;
      for (const std::size_t i : cell) {
        if (segments::holds(behaviours[*best].condition, rows[i].probability, *rows[i].customer)) {
          taken[i] = 1;
        }
      }
      Draft draft;
      draft.segment.id = cell_id + "_" + behaviours[*best].tag;
      draft.segment.name = cell_name + ": " + behaviours[*best].phrase;
      draft.segment.rule = cell_rule;
      draft.segment.rule.push_back(behaviours[*best].condition);
      draft.behaviour = &behaviours[*best];
      draft.behaviour_evidence = best_evidence;
      draft.cell_action = cell_action;
      draft.at_risk = true;
      say(fmt::format("sub-group {}: {}", draft.segment.id, best_evidence));
      drafts.push_back(std::move(draft));
    }
    Draft rest;
    rest.segment.id = cell_id;
    rest.segment.name = cell_name;
    rest.segment.rule = cell_rule;
    rest.cell_action = cell_action;
    rest.at_risk = true;
    drafts.push_back(std::move(rest));
  };
  split_cell({at_risk, high_value}, "high_value_at_risk", "High-value at risk", "retention_offer");
  split_cell({at_risk, low_value}, "low_value_at_risk", "Lower-value at risk",
             "automated_reactivation");
  {
    Draft unknown;
    unknown.segment.id = "at_risk_profit_unknown";
    unknown.segment.name = "At risk, profit unknown";
    unknown.segment.rule = {at_risk, no_profit};
    unknown.cell_action = "record_profit";
    unknown.at_risk = true;
    drafts.push_back(std::move(unknown));
    Draft loyal;
    loyal.segment.id = "high_value_stable";
    loyal.segment.name = "High-value, stable";
    loyal.segment.rule = {stable, high_value};
    loyal.cell_action = "loyalty_programme";
    drafts.push_back(std::move(loyal));
    Draft rest;
    rest.segment.id = "stable";
    rest.segment.name = "Stable";
    rest.cell_action = "no_action";
    drafts.push_back(std::move(rest));
  }

  // 5. (before 4: the evidence is computed on the customers the finished rules assign)
  segments::SegmentMetadata metadata{options.version, options.trained_at, data.fingerprint,
                                     options.trainer, churn.metadata().version};
  std::vector<segments::Segment> rules;
  for (const Draft& draft : drafts) rules.push_back(draft.segment);
  const segments::SegmentModel provisional(metadata, probability_threshold, profit_threshold,
                                           default_actions(), rules);
  std::vector<std::size_t> assigned(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    assigned[i] = provisional.assign_index(rows[i].probability, *rows[i].customer);
  }

  // The served model's explanations: which reasons dominate in each segment.
  say("explaining every customer with the churn model");
  std::vector<std::vector<FieldId>> reasons(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    for (const auto& reason : churn.predict(*rows[i].customer, 3).reasons) {
      reasons[i].push_back(reason.field);
    }
  }

  const std::vector<FieldId> numeric = numeric_inputs();
  double store_value_mean = 0.0;
  {
    double sum = 0.0;
    std::size_t n = 0;
    for (const Row& row : rows) {
      if (row.profit) {
        sum += row.value_at_risk;
        ++n;
      }
    }
    store_value_mean = n ? sum / static_cast<double>(n) : 0.0;
  }
  for (std::size_t s = 0; s < drafts.size(); ++s) {
    Draft& draft = drafts[s];
    segments::SegmentStats& stats = draft.segment.stats;
    std::vector<char> in_group(rows.size(), 0);
    std::size_t with_profit = 0;
    double profit_sum = 0.0;
    double probability_sum = 0.0;
    std::size_t declined = 0;
    std::map<FieldId, std::size_t> reason_counts;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (assigned[i] != s) continue;
      in_group[i] = 1;
      ++stats.customers;
      probability_sum += rows[i].probability;
      declined += static_cast<std::size_t>(rows[i].declined);
      if (rows[i].profit) {
        ++with_profit;
        profit_sum += *rows[i].profit;
        stats.value_at_risk_total += rows[i].value_at_risk;
      }
      for (const FieldId field : reasons[i]) ++reason_counts[field];
    }
    const auto n = static_cast<double>(stats.customers);
    stats.share = n / static_cast<double>(rows.size());
    if (stats.customers > 0) {
      stats.decline_rate = static_cast<double>(declined) / n;
      stats.mean_probability = probability_sum / n;
    }
    if (with_profit > 0) {
      stats.mean_profit = profit_sum / static_cast<double>(with_profit);
      stats.value_at_risk_mean = stats.value_at_risk_total / static_cast<double>(with_profit);
    }
    std::vector<std::pair<FieldId, std::size_t>> ranked(reason_counts.begin(), reason_counts.end());
    std::stable_sort(ranked.begin(), ranked.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    for (std::size_t r = 0; r < ranked.size() && r < 3; ++r) {
      stats.top_reasons.push_back(
          {api_name(ranked[r].first), static_cast<double>(ranked[r].second) / n});
    }
    std::map<FieldId, Comparison> comparisons;
    if (stats.customers > 0 && stats.customers < rows.size()) {
      for (const FieldId field : numeric) comparisons[field] = compare(rows, in_group, field);
      std::vector<segments::FieldDifference> differences;
      for (const auto& [field, comparison] : comparisons) {
        differences.push_back({api_name(field), comparison.group_mean, comparison.others_mean,
                               comparison.standardized});
      }
      std::stable_sort(differences.begin(), differences.end(), [](const auto& a, const auto& b) {
        return std::abs(a.standardized) > std::abs(b.standardized);
      });
      if (differences.size() > 5) differences.resize(5);
      stats.differences = std::move(differences);
    }

    // 4. Actions with their evidence.
    auto& actions = draft.segment.actions;
    const auto has_action = [&](std::string_view id) {
      return std::any_of(actions.begin(), actions.end(),
                         [&](const auto& action) { return action.action == id; });
    };
    if (draft.behaviour) actions.push_back({draft.behaviour->action, draft.behaviour_evidence});
    if (draft.at_risk && !comparisons.empty()) {
      for (const NumericBehaviour& behaviour : numeric_behaviours()) {
        const Comparison& c = comparisons[behaviour.field];
        const double risky = behaviour.risky_high ? c.standardized : -c.standardized;
        if (risky < options.min_difference || has_action(behaviour.action)) continue;
        actions.push_back(
            {behaviour.action,
             fmt::format("{} {:.2f} here vs {:.2f} among the other customers ({:+.2f} standard "
                         "deviations): {}",
                         api_name(behaviour.field), c.group_mean, c.others_mean, c.standardized,
                         behaviour.phrase)});
      }
    }
    if (!has_action(draft.cell_action)) {
      std::string evidence;
      if (draft.cell_action == "retention_offer" || draft.cell_action == "automated_reactivation") {
        evidence = fmt::format(
            "mean value at risk {:.2f} per month, {:.1f}x the store's mean of {:.2f}; observed "
            "decline rate {}",
            stats.value_at_risk_mean,
            store_value_mean > 0 ? stats.value_at_risk_mean / store_value_mean : 0.0,
            store_value_mean, percent(stats.decline_rate));
      } else if (draft.cell_action == "record_profit") {
        evidence = "no profit on record, so no value at risk can be computed";
      } else {
        evidence = fmt::format("observed decline rate {}, mean profit {:.2f}",
                               percent(stats.decline_rate), stats.mean_profit);
      }
      actions.push_back({draft.cell_action, std::move(evidence)});
    }
    if (actions.size() > 4) actions.resize(4);

    // A description a marketer reads: the rule in words and the figures.
    std::string rule_text;
    for (const Condition& condition : draft.segment.rule) {
      rule_text += (rule_text.empty() ? "" : " and ") + condition_text(condition);
    }
    draft.segment.description = fmt::format(
        "{} ({}); {} customers, observed decline rate {}, total value at risk {:.1f} per month",
        draft.segment.name, rule_text.empty() ? "every other customer" : rule_text, stats.customers,
        percent(stats.decline_rate), stats.value_at_risk_total);
  }

  std::vector<segments::Segment> final_segments;
  for (Draft& draft : drafts) final_segments.push_back(std::move(draft.segment));
  result.model = std::make_shared<const segments::SegmentModel>(
      std::move(metadata), std::move(probability_threshold), std::move(profit_threshold),
      default_actions(), std::move(final_segments));

  std::vector<const features::RawCustomer*> all_customers;
  for (const Row& row : rows) all_customers.push_back(row.customer);
  const auto served = churn.predict_many(all_customers);
  result.customers.resize(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto* prediction = std::get_if<models::Prediction>(&served[i]);
    if (prediction == nullptr) {
      throw std::invalid_argument(
          fmt::format("the churn model cannot score customer {}: {}", data.customers[i].customer_id,
                      std::get<features::ValidationError>(served[i]).what()));
    }
    result.customers[i].served_probability = prediction->probability;
    result.customers[i].served_segment =
        result.model->assign_index(prediction->probability, *rows[i].customer);
    SegmentedCustomer& out = result.customers[i];
    out.customer_id = data.customers[i].customer_id;
    out.probability = rows[i].probability;
    out.profit = rows[i].profit;
    if (rows[i].profit) out.value_at_risk = rows[i].value_at_risk;
    out.declined = rows[i].declined;
    out.segment = result.model->assign_index(rows[i].probability, *rows[i].customer);
  }
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

}  // namespace nbo::train
