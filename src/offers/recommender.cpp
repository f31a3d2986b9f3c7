#include "nbo/offers/recommender.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace nbo::offers {
namespace {

// Column positions in candidate_feature_names(), looked up once.
struct Columns {
  std::size_t views, trials, carts, days_since_touch, days_since_cart, owns_previous_level,
      direction_owned, co_purchase, popularity, trend;
  Columns() {
    const auto& names = candidate_feature_names();
    const auto at = [&](std::string_view name) {
      return static_cast<std::size_t>(std::find(names.begin(), names.end(), name) - names.begin());
    };
    views = at("views");
    trials = at("trials");
    carts = at("carts");
    days_since_touch = at("days_since_touch");
    days_since_cart = at("days_since_cart");
    owns_previous_level = at("owns_previous_level");
    direction_owned = at("direction_owned");
    co_purchase = at("co_purchase");
    popularity = at("popularity_30d");
    trend = at("trend");
  }
};

const Columns& columns() {
  static const Columns instance;
  return instance;
}

// Up to three readable reasons from the candidate row: the signals the model's features carry,
// strongest funnel step first.
std::vector<std::string> reasons_for(std::span<const double> row, const UserState& user,
                                     const Catalog& catalog, std::size_t index) {
  const Course& course = catalog[index];
  const Columns& c = columns();
  std::vector<std::string> reasons;
  const auto days = [](double value) { return static_cast<long>(value); };
  if (row[c.carts] > 0) {
    reasons.push_back(fmt::format("in the cart ({} days ago)", days(row[c.days_since_cart])));
  }
  if (row[c.trials] > 0) {
    reasons.push_back(fmt::format("tried a free lesson or webinar ({}x)", days(row[c.trials])));
  }
  if (row[c.views] > 0 && reasons.size() < 2) {
    reasons.push_back(fmt::format("viewed {}x, last {} days ago", days(row[c.views]),
                                  days(row[c.days_since_touch])));
  }
  // The owned course of the same track one level below, when there is one.
  std::string previous;
  for (const auto other : catalog.track_of(index)) {
    const auto o = static_cast<std::size_t>(other);
    if (user.courses[o].owned && catalog[o].level == course.level - 1) previous = catalog[o].title;
  }
  if (!previous.empty()) {
    reasons.push_back(fmt::format("next level after \"{}\" (owned)", previous));
  } else if (row[c.owns_previous_level] > 0) {
    reasons.push_back(fmt::format("next level after an owned {} course", course.direction));
  } else if (row[c.direction_owned] > 0) {
    reasons.push_back(
        fmt::format("owns {} other {} course(s)", days(row[c.direction_owned]), course.direction));
  }
  if (row[c.co_purchase] >= 0.05) reasons.push_back("often bought with courses the user owns");
  if (row[c.trend] >= 1.3) reasons.push_back("demand rising this month");
  if (row[c.popularity] >= 0.02) reasons.push_back("among the most bought courses this month");
  if (reasons.empty()) reasons.push_back("model score");
  if (reasons.size() > 3) reasons.resize(3);
  return reasons;
}

}  // namespace

const ChannelPolicy* ContactPolicy::find(std::string_view channel) const noexcept {
  if (channel == "email") return &email;
  if (channel == "crm") return &crm;
  return nullptr;
}

int ContactPolicy::lookback_days() const noexcept {
  return std::max({email.cooldown_days, email.window_days, crm.cooldown_days, crm.window_days});
}

Recommendation recommend(const OfferModel& model, const Catalog& catalog,
                         const MarketContext& market, const User& user,
                         std::span<const Event> events, std::span<const RecentOffer> recent,
                         const ContactPolicy& policy, const OfferRequest& request) {
  if (request.k < 1 || request.k > kMaxOffersPerRequest) {
    throw std::invalid_argument(fmt::format("k: must be in [1, {}]", kMaxOffersPerRequest));
  }
  const ChannelPolicy* channel = policy.find(request.channel);
  if (channel == nullptr) throw std::invalid_argument("channel: unknown");
  Recommendation answer;
  const UserState state = summarize(events, request.as_of, catalog, user.registered_at,
                                    user.allow_email, user.age_group);
  answer.cold_start = !state.has_history();
  {
    std::vector<double> row(propensity_feature_names().size());
    propensity_row(state, row);
    answer.buy_again_probability = model.buy_again_probability(row);
  }

  // Every course is scored, so suppressed ones can be ranked too.
  const std::size_t n = catalog.size();
  const std::size_t width = candidate_feature_names().size();
  std::vector<double> rows(n * width);
  const auto co = associations(state, market);
  for (std::size_t c = 0; c < n; ++c) {
    candidate_row(state, catalog, market, co, c, std::span<double>(rows).subspan(c * width, width));
  }
  std::vector<double> probability(n);
  if (n > 0) model.candidate_probabilities(rows, probability);
  std::vector<double> score(n);
  for (std::size_t c = 0; c < n; ++c) {
    score[c] = request.rank_by == RankBy::kExpectedValue ? probability[c] * catalog[c].price_rub
                                                         : probability[c];
  }
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  if (answer.cold_start) {
    // Popularity as the model's market saw it; courses it does not know come last.
    std::vector<std::size_t> rank(n, model.popular().size());
    for (std::size_t i = 0; i < model.popular().size(); ++i) {
      const auto c = catalog.find(model.popular()[i]);
      if (c >= 0) rank[static_cast<std::size_t>(c)] = i;
    }
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return rank[a] < rank[b]; });
  } else {
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return score[a] > score[b]; });
  }

  // Contact history on this channel.
  const Seconds cooldown_start = request.as_of - channel->cooldown_days * kSecondsPerDay;
  const Seconds window_start = request.as_of - channel->window_days * kSecondsPerDay;
  std::size_t in_window = 0;
  std::vector<char> cooling(n, 0);
  for (const auto& offer : recent) {
    // An offer made in the same second as this request (as_of = now) counts: two quick calls
    // must not both fill the cap. A replay is given only offers before its as_of.
    if (offer.channel != request.channel || offer.offered_at > request.as_of) continue;
    if (offer.offered_at >= window_start) ++in_window;
    if (offer.offered_at >= cooldown_start) {
      const auto c = catalog.find(offer.course_id);
      if (c >= 0) cooling[static_cast<std::size_t>(c)] = 1;
    }
  }
  const bool consent = !channel->needs_email_consent || user.allow_email;
  const std::size_t cap_left = in_window >= static_cast<std::size_t>(channel->max_offers)
                                   ? 0
                                   : static_cast<std::size_t>(channel->max_offers) - in_window;
  const std::size_t slots = consent ? std::min(request.k, cap_left) : 0;
  if (!consent) {
    answer.notice = "the user refused e-mail (allow_email = 0): no e-mail offers";
  } else if (cap_left == 0) {
    answer.notice = fmt::format("contact cap reached: {} {} offers in the last {} days", in_window,
                                request.channel, channel->window_days);
  }

  // Courses held back by consent or the cap count towards k, so the answer shows what would
  // have been offered.
  std::size_t blocked = 0;
  for (const std::size_t c : order) {
    if (answer.offers.size() + blocked >= request.k) break;
    const auto suppress = [&](std::string reason) {
      if (answer.suppressed.size() < kMaxSuppressed) {
        answer.suppressed.push_back({.course = c, .reason = std::move(reason), .score = score[c]});
      }
    };
    if (state.courses[c].owned) {
      suppress("owned");
      continue;
    }
    if (!catalog[c].active) {
      suppress("inactive");
      continue;
    }
    if (!consent) {
      suppress("no_consent");
      ++blocked;
      continue;
    }
    if (cooling[c]) {
      suppress("cool_down");
      continue;
    }
    if (answer.offers.size() >= slots) {
      suppress("cap_reached");
      ++blocked;
      continue;
    }
    RankedOffer offer;
    offer.course = c;
    offer.score = score[c];
    offer.probability = probability[c];
    offer.expected_value_rub = probability[c] * catalog[c].price_rub;
    if (answer.cold_start) {
      offer.reasons = {"cold start: no history before as_of; popular course"};
    } else {
      offer.reasons =
          reasons_for(std::span<const double>(rows).subspan(c * width, width), state, catalog, c);
    }
    answer.offers.push_back(std::move(offer));
  }
  if (answer.offers.empty() && answer.notice.empty()) {
    answer.notice = "no eligible course left to offer";
  }
  return answer;
}

}  // namespace nbo::offers
