#include "nbo/offers/features.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace nbo::offers {
namespace {

// Days for "never": longer than the export's year, so trees can tell it from any real gap.
constexpr double kNeverDays = 400.0;

double days_between(Seconds earlier, Seconds later) {
  if (earlier < 0) return kNeverDays;
  return std::min(kNeverDays, static_cast<double>(later - earlier) / kSecondsPerDay);
}

std::size_t level_slot(std::int32_t direction, int level) {
  return static_cast<std::size_t>(direction) * kMaxLevel +
         static_cast<std::size_t>(std::clamp(level, kMinLevel, kMaxLevel) - kMinLevel);
}

constexpr std::size_t kind_index(EventKind kind) {
  return static_cast<std::size_t>(kind);
}

}  // namespace

Catalog::Catalog(std::vector<Course> courses) : courses_(std::move(courses)) {
  std::unordered_map<std::string, std::int32_t> directions;
  direction_.reserve(courses_.size());
  for (std::size_t i = 0; i < courses_.size(); ++i) {
    const auto& course = courses_[i];
    if (course.course_id.empty()) throw std::invalid_argument("catalog: empty course id");
    if (!by_id_.emplace(course.course_id, static_cast<std::int32_t>(i)).second) {
      throw std::invalid_argument(fmt::format("catalog: duplicate course id {}", course.course_id));
    }
    const auto [it, added] =
        directions.emplace(course.direction, static_cast<std::int32_t>(directions.size()));
    direction_.push_back(it->second);
  }
  direction_count_ = directions.size();
  std::unordered_map<std::string, std::int32_t> tracks;
  for (const auto& course : courses_) {
    std::string name = course.title;
    if (const auto open = name.rfind(" ("); open != std::string::npos && name.ends_with(")")) {
      name.resize(open);
    }
    const auto [it, added] =
        tracks.emplace(course.direction + "\n" + name, static_cast<std::int32_t>(tracks_.size()));
    if (added) tracks_.emplace_back();
    tracks_[static_cast<std::size_t>(it->second)].push_back(
        static_cast<std::int32_t>(track_.size()));
    track_.push_back(it->second);
  }
}

std::int32_t Catalog::find(std::string_view course_id) const {
  const auto found = by_id_.find(std::string(course_id));
  return found == by_id_.end() ? -1 : found->second;
}

MarketContext market_context(std::span<const std::vector<Event>> users, Seconds cutoff,
                             std::size_t courses) {
  MarketContext market;
  market.purchases_30d.assign(courses, 0.0);
  market.purchases_90d.assign(courses, 0.0);
  market.owners.assign(courses, 0.0);
  std::vector<std::vector<double>> pairs(courses, std::vector<double>(courses, 0.0));
  market.touchers.assign(courses, 0.0);
  std::vector<std::vector<double>> touch_pairs(courses, std::vector<double>(courses, 0.0));
  std::vector<char> owned(courses, 0);
  std::vector<char> touched(courses, 0);
  std::vector<std::int32_t> owned_list;
  std::vector<std::int32_t> touched_list;
  for (const auto& events : users) {
    std::fill(owned.begin(), owned.end(), 0);
    std::fill(touched.begin(), touched.end(), 0);
    owned_list.clear();
    touched_list.clear();
    for (const auto& event : events) {
      if (event.time >= cutoff) break;
      if (event.course < 0 || static_cast<std::size_t>(event.course) >= courses) continue;
      const auto c = static_cast<std::size_t>(event.course);
      if (event.kind == EventKind::kPurchase) {
        if (event.time >= cutoff - 30 * kSecondsPerDay) {
          market.purchases_30d[c] += 1;
          market.total_purchases_30d += 1;
        }
        if (event.time >= cutoff - 90 * kSecondsPerDay) market.purchases_90d[c] += 1;
      }
      if ((event.kind == EventKind::kPurchase || event.kind == EventKind::kStudy) && !owned[c]) {
        owned[c] = 1;
        owned_list.push_back(event.course);
      }
      if ((event.kind == EventKind::kView || event.kind == EventKind::kTrial ||
           event.kind == EventKind::kCart) &&
          !touched[c]) {
        touched[c] = 1;
        touched_list.push_back(event.course);
      }
    }
    for (const auto t : touched_list) {
      market.touchers[static_cast<std::size_t>(t)] += 1;
      for (const auto b : owned_list) {
        if (t != b) touch_pairs[static_cast<std::size_t>(t)][static_cast<std::size_t>(b)] += 1;
      }
    }
    for (const auto a : owned_list) {
      market.owners[static_cast<std::size_t>(a)] += 1;
      for (const auto b : owned_list) {
        if (a != b) pairs[static_cast<std::size_t>(a)][static_cast<std::size_t>(b)] += 1;
      }
    }
  }
  market.co_purchase.resize(courses);
  market.touch_purchase.resize(courses);
  for (std::size_t a = 0; a < courses; ++a) {
    for (std::size_t b = 0; b < courses; ++b) {
      if (touch_pairs[a][b] > 0) {
        market.touch_purchase[a].emplace_back(static_cast<std::int32_t>(b), touch_pairs[a][b]);
      }
      if (pairs[a][b] > 0)
        market.co_purchase[a].emplace_back(static_cast<std::int32_t>(b), pairs[a][b]);
    }
  }
  return market;
}

int age_band(std::string_view age_group) noexcept {
  static constexpr std::string_view kBands[] = {"18-24", "25-34", "35-44", "45-54", "55+"};
  for (std::size_t i = 0; i < std::size(kBands); ++i) {
    if (kBands[i] == age_group) return static_cast<int>(i);
  }
  return -1;
}

UserState summarize(std::span<const Event> events, Seconds cutoff, const Catalog& catalog,
                    Seconds registered_at, bool allow_email, std::string_view age_group) {
  UserState user;
  user.age_band = age_band(age_group);
  user.cutoff = cutoff;
  user.registered_at = registered_at;
  user.allow_email = allow_email;
  const std::size_t n = catalog.size();
  user.courses.assign(n, CourseTouch{});
  user.direction_touches.assign(catalog.direction_count(), 0);
  user.direction_touches_30d.assign(catalog.direction_count(), 0);
  user.direction_owned.assign(catalog.direction_count(), 0);
  user.direction_studies.assign(catalog.direction_count(), 0);
  user.level_owned.assign(catalog.direction_count() * kMaxLevel, 0);
  user.level_studies.assign(catalog.direction_count() * kMaxLevel, 0);
  const Seconds day7 = cutoff - 7 * kSecondsPerDay;
  const Seconds day30 = cutoff - 30 * kSecondsPerDay;
  const Seconds day90 = cutoff - 90 * kSecondsPerDay;
  for (const auto& event : events) {
    // The strict cutoff: events are time-ordered, so nothing after this one counts either.
    if (event.time >= cutoff) break;
    const auto k = kind_index(event.kind);
    if (user.first_event < 0) user.first_event = event.time;
    user.last_event = event.time;
    ++user.events_total[k];
    if (event.time >= day90) ++user.events_90d[k];
    if (event.time >= day30) ++user.events_30d[k];
    if (event.time >= day7) ++user.events_7d[k];
    if (event.kind == EventKind::kPurchase) {
      ++user.purchases;
      user.spend_rub += event.amount_rub;
      user.last_purchase = event.time;
    }
    if (event.course < 0 || static_cast<std::size_t>(event.course) >= n) continue;
    const auto c = static_cast<std::size_t>(event.course);
    auto& touch = user.courses[c];
    const auto direction = static_cast<std::size_t>(catalog.direction_of(c));
    switch (event.kind) {
      case EventKind::kView:
        ++touch.views;
        break;
      case EventKind::kTrial:
        ++touch.trials;
        break;
      case EventKind::kCart:
        ++touch.carts;
        touch.last_cart = event.time;
        break;
      case EventKind::kStudy:
        ++touch.studies;
        touch.last_study = event.time;
        ++user.direction_studies[direction];
        ++user.level_studies[level_slot(static_cast<std::int32_t>(direction), catalog[c].level)];
        break;
      default:
        break;
    }
    if (event.kind == EventKind::kView || event.kind == EventKind::kTrial ||
        event.kind == EventKind::kCart) {
      if (touch.first_touch < 0) touch.first_touch = event.time;
      touch.last_touch = event.time;
      ++user.course_touches;
      ++user.direction_touches[direction];
      user.last_touch_direction = static_cast<std::int32_t>(direction);
      if (event.time >= day30) {
        ++touch.touches_30d;
        ++user.direction_touches_30d[direction];
      }
      if (event.time >= day7) ++touch.touches_7d;
    }
    if (event.kind == EventKind::kPurchase) {
      user.last_purchase_direction = static_cast<std::int32_t>(direction);
    }
    if ((event.kind == EventKind::kPurchase || event.kind == EventKind::kStudy) && !touch.owned) {
      touch.owned = true;
      ++user.owned_count;
      ++user.direction_owned[direction];
      ++user.level_owned[level_slot(static_cast<std::int32_t>(direction), catalog[c].level)];
    }
  }
  // Recency rank of the touched courses: 0 for the most recently touched one.
  std::vector<std::pair<Seconds, std::int32_t>> touched;
  for (std::size_t c = 0; c < n; ++c) {
    if (user.courses[c].last_touch >= 0) {
      touched.emplace_back(user.courses[c].last_touch, static_cast<std::int32_t>(c));
    }
  }
  std::sort(touched.begin(), touched.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  user.touch_rank.assign(n, -1);
  for (std::size_t r = 0; r < touched.size(); ++r) {
    user.touch_rank[static_cast<std::size_t>(touched[r].second)] = static_cast<std::int32_t>(r);
  }
  user.touched_courses = static_cast<std::int32_t>(touched.size());
  return user;
}

const std::vector<std::string>& candidate_feature_names() {
  static const std::vector<std::string> names = {
      "views",                    // course_view events on this course
      "trials",                   // free lessons and webinars of it
      "carts",                    // times put in the cart
      "funnel_depth",             // 0 untouched, 1 viewed, 2 tried, 3 in the cart
      "days_since_touch",         // since the last view/trial/cart of it (400: never)
      "days_since_cart",          // since it was last put in the cart (400: never)
      "touches_7d",               // its view/trial/cart events in the last 7 days
      "touches_30d",              // ... in the last 30 days
      "touch_share",              // its share of all the user's course touches
      "recency_rank",             // 0: the most recently touched course; 50: never touched
      "direction_touches",        // touches of other courses of its direction
      "direction_owned",          // owned courses of its direction
      "owns_previous_level",      // owns a course of its direction one level below
      "studied_previous_level",   // lessons completed in that lower level
      "owns_same_level",          // owns another course of its direction and level
      "co_purchase",              // association with the owned courses (see associations())
      "popularity_30d",           // its share of all purchases in the last 30 days
      "trend",                    // (purchases 30 d + 1) / (purchases 90 d / 3 + 1)
      "log_price",                // log(price in roubles)
      "price_vs_spend",           // log(price / the user's mean purchase), 0 without purchases
      "level",                    // 1 beginner, 2 advanced, 3 profession
      "duration_months",          // course length
      "owned_count",              // courses the user owns
      "days_since_last_event",    // user's last action of any kind (400: never)
      "user_events_30d",          // user's actions in the last 30 days
      "lessons_30d",              // lessons completed in the last 30 days
      "track_owned_below",        // owned courses of its track at a lower level
      "track_lessons_below",      // lessons completed in those
      "track_owned_above",        // owned courses of its track at a higher level
      "track_days_since_lesson",  // since the last lesson in another course of its track
      "track_touches",            // view/trial/cart events on other courses of its track
      "direction_share",          // share of the user's course touches in its direction
      "age_band",                 // 0 for 18-24 ... 4 for 55+, -1 unknown
      "direction=programming",    // its direction, one column per direction of kDirections
      "direction=data",
      "direction=design",
      "direction=marketing",
      "direction=management",
      "direction=soft",
      "direction=kids",
      "direction=english",
      "touch_purchase",           // bought by users who looked at the user's courses (associations)
      "direction_touches_30d",    // touches of other courses of its direction in the last 30 days
      "last_touch_direction",     // 1 when the user's last touched course is of its direction
      "last_purchase_direction",  // 1 when the user's last bought course is of its direction
      "days_since_first_touch",   // since the first view/trial/cart of it (400: never)
  };
  return names;
}

const std::vector<std::string>& propensity_feature_names() {
  static const std::vector<std::string> names = {
      "events_7d",                 // actions of any kind in the last 7 days
      "events_30d",                // ... 30 days
      "events_90d",                // ... 90 days
      "views_30d",                 // course views in the last 30 days
      "trials_30d",                // free lessons and webinars in the last 30 days
      "carts_30d",                 // cart additions in the last 30 days
      "open_carts",                // courses in the cart and not owned
      "lessons_30d",               // lessons completed in the last 30 days
      "lessons_total",             // lessons completed ever
      "purchases",                 // purchases before the cutoff
      "log_spend",                 // log(1 + roubles spent)
      "days_since_last_event",     // 400: never
      "days_since_last_purchase",  // 400: never
      "tenure_days",               // since registration (or the first event)
      "allow_email",               // 1 when the user accepts e-mail
      "touched_courses_30d",       // distinct courses viewed, tried or carted in 30 days
  };
  return names;
}

Associations associations(const UserState& user, const MarketContext& market) {
  Associations out;
  const std::size_t n = user.courses.size();
  out.co_purchase.assign(n, 0.0);
  out.touch_purchase.assign(n, 0.0);
  for (std::size_t o = 0; o < n && o < market.co_purchase.size(); ++o) {
    if (!user.courses[o].owned) continue;
    const double denominator = market.owners[o] + 5.0;
    for (const auto& [c, count] : market.co_purchase[o]) {
      if (static_cast<std::size_t>(c) < n)
        out.co_purchase[static_cast<std::size_t>(c)] += count / denominator;
    }
  }
  double touched = 0;
  for (std::size_t t = 0; t < n && t < market.touch_purchase.size(); ++t) {
    if (user.courses[t].last_touch < 0) continue;
    touched += 1;
    const double denominator = market.touchers[t] + 5.0;
    for (const auto& [c, count] : market.touch_purchase[t]) {
      if (static_cast<std::size_t>(c) < n) {
        out.touch_purchase[static_cast<std::size_t>(c)] += count / denominator;
      }
    }
  }
  if (touched > 0) {
    for (auto& value : out.touch_purchase) value /= touched;
  }
  return out;
}

void candidate_row(const UserState& user, const Catalog& catalog, const MarketContext& market,
                   const Associations& associations, std::size_t course, std::span<double> out) {
  if (out.size() != candidate_feature_names().size() || course >= catalog.size() ||
      associations.co_purchase.size() != catalog.size() ||
      associations.touch_purchase.size() != catalog.size() ||
      user.courses.size() != catalog.size()) {
    throw std::invalid_argument("candidate_row: sizes do not match the catalog");
  }
  const auto& touch = user.courses[course];
  const Course& info = catalog[course];
  const auto direction = catalog.direction_of(course);
  const auto d = static_cast<std::size_t>(direction);
  const int funnel = touch.carts > 0 ? 3 : touch.trials > 0 ? 2 : touch.views > 0 ? 1 : 0;
  const int touches = touch.views + touch.trials + touch.carts;
  double previous_owned = 0;
  double previous_studied = 0;
  if (info.level > kMinLevel) {
    previous_owned = user.level_owned[level_slot(direction, info.level - 1)];
    previous_studied = user.level_studies[level_slot(direction, info.level - 1)];
  }
  const double same_level =
      user.level_owned[level_slot(direction, info.level)] - (touch.owned ? 1.0 : 0.0);
  const bool known = course < market.purchases_30d.size();
  const double p30 = known ? market.purchases_30d[course] : 0.0;
  const double p90 = known ? market.purchases_90d[course] : 0.0;
  const double mean_spend = user.purchases > 0 ? user.spend_rub / user.purchases : 0.0;
  std::size_t i = 0;
  out[i++] = touch.views;
  out[i++] = touch.trials;
  out[i++] = touch.carts;
  out[i++] = funnel;
  out[i++] = days_between(touch.last_touch, user.cutoff);
  out[i++] = days_between(touch.last_cart, user.cutoff);
  out[i++] = touch.touches_7d;
  out[i++] = touch.touches_30d;
  out[i++] = user.course_touches > 0 ? static_cast<double>(touches) / user.course_touches : 0.0;
  out[i++] = touch.last_touch >= 0 ? std::min(50, user.touch_rank[course]) : 50;
  out[i++] = user.direction_touches[d] - touches;
  out[i++] = user.direction_owned[d] - (touch.owned ? 1 : 0);
  out[i++] = previous_owned;
  out[i++] = previous_studied;
  out[i++] = same_level;
  out[i++] = associations.co_purchase[course];
  out[i++] = market.total_purchases_30d > 0 ? p30 / market.total_purchases_30d : 0.0;
  out[i++] = (p30 + 1.0) / (p90 / 3.0 + 1.0);
  out[i++] = std::log(std::max(1.0, info.price_rub));
  out[i++] = mean_spend > 0 ? std::log(std::max(1.0, info.price_rub) / mean_spend) : 0.0;
  out[i++] = info.level;
  out[i++] = info.duration_months;
  out[i++] = user.owned_count;
  out[i++] = days_between(user.last_event, user.cutoff);
  std::int32_t events_30d = 0;
  for (const auto count : user.events_30d) events_30d += count;
  out[i++] = events_30d;
  out[i++] = user.events_30d[kind_index(EventKind::kStudy)];
  double owned_below = 0;
  double lessons_below = 0;
  double owned_above = 0;
  double track_touches = 0;
  Seconds last_lesson = -1;
  for (const auto other : catalog.track_of(course)) {
    const auto o = static_cast<std::size_t>(other);
    if (o == course) continue;
    const auto& t = user.courses[o];
    if (t.owned && catalog[o].level < info.level) {
      owned_below += 1;
      lessons_below += t.studies;
    }
    if (t.owned && catalog[o].level > info.level) owned_above += 1;
    track_touches += t.views + t.trials + t.carts;
    last_lesson = std::max(last_lesson, t.last_study);
  }
  out[i++] = owned_below;
  out[i++] = lessons_below;
  out[i++] = owned_above;
  out[i++] = days_between(last_lesson, user.cutoff);
  out[i++] = track_touches;
  out[i++] = user.course_touches > 0
                 ? static_cast<double>(user.direction_touches[d]) / user.course_touches
                 : 0.0;
  out[i++] = user.age_band;
  for (const auto name : kDirections) out[i++] = info.direction == name ? 1.0 : 0.0;
  out[i++] = associations.touch_purchase[course];
  out[i++] = user.direction_touches_30d[d] - touch.touches_30d;
  out[i++] = user.last_touch_direction == direction ? 1.0 : 0.0;
  out[i++] = user.last_purchase_direction == direction ? 1.0 : 0.0;
  out[i++] = days_between(touch.first_touch, user.cutoff);
}

void propensity_row(const UserState& user, std::span<double> out) {
  if (out.size() != propensity_feature_names().size()) {
    throw std::invalid_argument("propensity_row: wrong row size");
  }
  const auto total = [](const std::array<std::int32_t, kEventKindCount>& counts) {
    std::int32_t sum = 0;
    for (const auto count : counts) sum += count;
    return static_cast<double>(sum);
  };
  int open_carts = 0;
  int touched_30d = 0;
  for (const auto& touch : user.courses) {
    if (touch.carts > 0 && !touch.owned) ++open_carts;
    if (touch.touches_30d > 0) ++touched_30d;
  }
  const Seconds start = user.registered_at >= 0 ? user.registered_at : user.first_event;
  std::size_t i = 0;
  out[i++] = total(user.events_7d);
  out[i++] = total(user.events_30d);
  out[i++] = total(user.events_90d);
  out[i++] = user.events_30d[kind_index(EventKind::kView)];
  out[i++] = user.events_30d[kind_index(EventKind::kTrial)];
  out[i++] = user.events_30d[kind_index(EventKind::kCart)];
  out[i++] = open_carts;
  out[i++] = user.events_30d[kind_index(EventKind::kStudy)];
  out[i++] = user.events_total[kind_index(EventKind::kStudy)];
  out[i++] = user.purchases;
  out[i++] = std::log1p(std::max(0.0, user.spend_rub));
  out[i++] = days_between(user.last_event, user.cutoff);
  out[i++] = days_between(user.last_purchase, user.cutoff);
  out[i++] =
      start >= 0 ? std::max(0.0, static_cast<double>(user.cutoff - start) / kSecondsPerDay) : 0.0;
  out[i++] = user.allow_email ? 1.0 : 0.0;
  out[i++] = touched_30d;
}

}  // namespace nbo::offers
