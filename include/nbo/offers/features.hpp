// The offers area's one feature pipeline: from a user's time-ordered events and a catalog to the
// rows of the two models, used alike by the trainer (train/offers_trainer) and by the server
// (offers/recommender), so a user gets the same scores in the report and over HTTP.
//
// The time cutoff is strict: summarize() reads only events whose time is before `cutoff`; an
// event at or after it never reaches a feature (tests/offers/features_test.cpp checks this by
// adding future events and comparing the rows bit for bit). Market figures (popularity, trend,
// co-purchases) come from a MarketContext, computed by the trainer from events before the same
// cutoff, or read from the model file when serving.
//
// Units: times in seconds since the epoch (UTC), durations in days, prices in roubles.
// Thread safety: pure functions and immutable value types.
// Failure: std::invalid_argument when spans have the wrong size (a bug of the caller).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "nbo/offers/domain.hpp"

namespace nbo::offers {

// A catalog with the indexes the features need. Courses keep their given order; event course
// indexes refer to it.
class Catalog {
 public:
  Catalog() = default;
  // Throws std::invalid_argument on a duplicate or empty course id.
  explicit Catalog(std::vector<Course> courses);

  const std::vector<Course>& courses() const noexcept { return courses_; }
  std::size_t size() const noexcept { return courses_.size(); }
  const Course& operator[](std::size_t index) const { return courses_[index]; }
  // Index of a course id, or -1.
  std::int32_t find(std::string_view course_id) const;
  // Dense index of each course's direction (0..direction_count()-1).
  std::int32_t direction_of(std::size_t index) const { return direction_[index]; }
  std::size_t direction_count() const noexcept { return direction_count_; }
  // The courses of the same track (the title without its trailing " (...)": "Python-разработчик
  // (с нуля)" and "Python-разработчик (продвинутый)" are one track at two levels), itself
  // included, in catalog order.
  const std::vector<std::int32_t>& track_of(std::size_t index) const {
    return tracks_[static_cast<std::size_t>(track_[index])];
  }

 private:
  std::vector<Course> courses_{};
  std::vector<std::int32_t> direction_{};
  std::size_t direction_count_ = 0;
  std::vector<std::int32_t> track_{};
  std::vector<std::vector<std::int32_t>> tracks_{};
  std::unordered_map<std::string, std::int32_t> by_id_;
};

// Market figures per catalog course, as of a cutoff.
struct MarketContext {
  std::vector<double> purchases_30d;  // purchases in [cutoff - 30 d, cutoff)
  std::vector<double> purchases_90d;  // purchases in [cutoff - 90 d, cutoff)
  std::vector<double> owners{};       // users owning the course at the cutoff
  // co_purchase[a]: (b, users owning both a and b), b != a, ascending b.
  std::vector<std::vector<std::pair<std::int32_t, double>>> co_purchase{};
  std::vector<double> touchers{};  // users who viewed, tried or carted the course
  // touch_purchase[t]: (c, users who touched t and bought c), c != t, ascending c.
  std::vector<std::vector<std::pair<std::int32_t, double>>> touch_purchase{};
  double total_purchases_30d = 0;
};

// Builds a MarketContext from the event logs of many users (each time-ordered, course indexes
// into a catalog of `courses` entries), counting only events before `cutoff`.
MarketContext market_context(std::span<const std::vector<Event>> users, Seconds cutoff,
                             std::size_t courses);

// One user's history before a cutoff, summarized once and shared by all candidate rows.
struct CourseTouch {
  std::int32_t views = 0;
  std::int32_t trials = 0;
  std::int32_t carts = 0;
  std::int32_t studies = 0;
  std::int32_t touches_7d = 0;  // view/trial/cart events in the last 7 days
  std::int32_t touches_30d = 0;
  Seconds first_touch = -1;  // first view/trial/cart; -1: never
  Seconds last_touch = -1;   // last view/trial/cart; -1: never
  Seconds last_cart = -1;
  Seconds last_study = -1;
  bool owned = false;  // bought, or studied (a lesson proves ownership; see school_export.hpp)
};

struct UserState {
  Seconds cutoff = 0;
  Seconds registered_at = -1;  // -1 unknown
  bool allow_email = true;
  int age_band = -1;                   // see age_band()
  std::vector<CourseTouch> courses{};  // one per catalog course
  std::array<std::int32_t, kEventKindCount> events_7d{};
  std::array<std::int32_t, kEventKindCount> events_30d{};
  std::array<std::int32_t, kEventKindCount> events_90d{};
  std::array<std::int32_t, kEventKindCount> events_total{};
  Seconds first_event = -1;
  Seconds last_event = -1;
  Seconds last_purchase = -1;
  std::int32_t purchases = 0;
  double spend_rub = 0;
  std::int32_t owned_count = 0;
  std::int32_t touched_courses = 0;               // distinct courses viewed, tried or carted
  std::int32_t course_touches = 0;                // all view/trial/cart events
  std::vector<std::int32_t> touch_rank{};         // per course: 0 = most recently touched; -1 never
  std::vector<std::int32_t> direction_touches{};  // per direction: view/trial/cart events
  std::vector<std::int32_t> direction_touches_30d{};  // ... in the last 30 days
  std::int32_t last_touch_direction = -1;         // direction of the last touched course; -1 none
  std::int32_t last_purchase_direction = -1;      // direction of the last bought course; -1 none
  std::vector<std::int32_t> direction_owned{};    // per direction: owned courses
  std::vector<std::int32_t> direction_studies{};  // per direction: lessons completed
  // Per direction and level (index direction * 3 + level - 1): owned, lessons completed.
  std::vector<std::int32_t> level_owned{};
  std::vector<std::int32_t> level_studies{};
  bool has_history() const noexcept { return first_event >= 0; }
};

// Summarizes `events` (time-ordered; course indexes into `catalog`, -1 or out of range ignored)
// strictly before `cutoff`.
UserState summarize(std::span<const Event> events, Seconds cutoff, const Catalog& catalog,
                    Seconds registered_at = -1, bool allow_email = true,
                    std::string_view age_group = {});

// The school's age groups as an ordinal: "18-24" 0, "25-34" 1, "35-44" 2, "45-54" 3, "55+" 4;
// -1 for anything else.
int age_band(std::string_view age_group) noexcept;
// The school's eight directions, in the order of the candidate row's direction columns.
inline constexpr std::array<std::string_view, 8> kDirections = {
    "programming", "data", "design", "marketing", "management", "soft", "kids", "english"};

// Columns of a candidate row (user, course), in order.
const std::vector<std::string>& candidate_feature_names();
// Columns of a propensity row (user), in order.
const std::vector<std::string>& propensity_feature_names();

// Fills `out` (candidate_feature_names().size() entries) for course `course`.
// The association of every catalog course with the user's courses (one entry per course):
//   co_purchase(c) = Σ over owned o of co_purchase(o, c) / (owners(o) + 5);
//   touch_purchase(c) = mean over touched t != c of touch_purchase(t, c) / (touchers(t) + 5):
//     how often the users who looked at the same courses as this user bought c.
struct Associations {
  std::vector<double> co_purchase{};
  std::vector<double> touch_purchase{};
};
Associations associations(const UserState& user, const MarketContext& market);

void candidate_row(const UserState& user, const Catalog& catalog, const MarketContext& market,
                   const Associations& associations, std::size_t course, std::span<double> out);

// Fills `out` (propensity_feature_names().size() entries).
void propensity_row(const UserState& user, std::span<double> out);

}  // namespace nbo::offers
