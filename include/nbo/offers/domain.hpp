// The online school's data model, shared by training (train/school_export, train/offers_trainer),
// the store (store/offer_store) and serving (offers/recommender): a course catalog, users and a
// time-ordered event log per user.
//
// Event kinds. The school's export names seven event types; the model sees six kinds, the
// documented small set (docs/model-format.md, "Event kinds"):
//   export type        kind       what it means for an offer
//   page_view          visit      the user was on the site (no course)
//   course_view        view       looked at a course's page
//   free_lesson        trial      tried the course: a free lesson ...
//   webinar            trial      ... or its webinar (both are the funnel's middle step)
//   add_to_cart        cart       put the course in the cart
//   purchase           purchase   bought it (amount_rub is the price paid)
//   lesson_completed   study      finished a lesson of an owned course
// The API's POST /users/{id}/events takes the export's type names, so the CRM speaks the site's
// own vocabulary, and maps them the same way.
//
// Times are whole seconds since the Unix epoch, UTC (std::int64_t), everywhere in this area.
//
// Thread safety: plain value types and pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace nbo::offers {

using Seconds = std::int64_t;  // seconds since 1970-01-01T00:00:00Z
inline constexpr Seconds kSecondsPerDay = 86400;

enum class EventKind : std::uint8_t { kVisit, kView, kTrial, kCart, kPurchase, kStudy };
inline constexpr std::size_t kEventKindCount = 6;

// "visit", "view", "trial", "cart", "purchase", "study".
std::string_view kind_name(EventKind kind) noexcept;
std::optional<EventKind> kind_from_name(std::string_view name) noexcept;

// The export's (and the API's) event type names mapped onto kinds; nullopt for another name.
std::optional<EventKind> kind_from_export_type(std::string_view type) noexcept;
// Whether an event of this kind names a course (every kind but visit).
constexpr bool kind_has_course(EventKind kind) noexcept {
  return kind != EventKind::kVisit;
}

// Course levels of the catalog: 1 beginner, 2 advanced, 3 full profession.
inline constexpr int kMinLevel = 1;
inline constexpr int kMaxLevel = 3;

struct Course {
  std::string course_id{};
  std::string title{};
  std::string direction{};  // programming, data, design, ...
  int level = 1;          // kMinLevel..kMaxLevel
  double price_rub = 0;   // > 0
  int duration_months = 1;
  bool active = true;  // on sale now; inactive courses are never offered
};

struct User {
  std::string user_id{};
  Seconds registered_at = 0;  // midnight UTC of the registration day
  std::string age_group{};
  std::string region{};
  bool allow_email = false;  // consent to e-mail offers
};

struct Event {
  Seconds time = 0;
  EventKind kind = EventKind::kVisit;
  std::int32_t course = -1;  // index into the catalog the events were read against; -1: none
  double amount_rub = 0;     // purchases only
};

// Time parsing and formatting (UTC only; no time zones, no leap seconds).
// Accepts "YYYY-MM-DD", "YYYY-MM-DD HH:MM:SS", "YYYY-MM-DDTHH:MM:SS" optionally followed by a
// fraction ".d..." (dropped) and/or "Z". nullopt for anything else, including impossible dates
// (2026-02-30) and years outside 1970..9999.
std::optional<Seconds> parse_time(std::string_view text) noexcept;
// "YYYY-MM-DDTHH:MM:SSZ".
std::string format_time(Seconds time);
// Days since the epoch of a civil date (proleptic Gregorian).
std::int64_t days_from_civil(int year, unsigned month, unsigned day) noexcept;

}  // namespace nbo::offers
