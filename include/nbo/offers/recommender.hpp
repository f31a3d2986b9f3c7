// The offer engine: ranks a user's candidate courses with the model and applies the business
// rules a real offer engine applies, in this order, to each course from the best score down:
//   1. eligibility   "owned" (bought, or a lesson studied) and "inactive" (not on sale) courses
//                    are never offered;
//   2. consent       on a channel that needs it (e-mail), a user with allow_email = 0 gets no
//                    offer: every course is suppressed "no_consent" and `notice` says so;
//   3. cool-down     a course offered to the user on the same channel within the channel's
//                    cool-down before `as_of` is suppressed "cool_down";
//   4. cap           at most `max_offers` offers per user per channel within `window_days`
//                    before `as_of`: when the window is full, the rest are suppressed
//                    "cap_reached" (the answer may hold fewer than k offers).
// Cold start: a user with no event before `as_of` gets the most popular eligible courses (the
// model's market order), marked cold_start, with the same rules applied.
// `suppressed` lists the courses skipped while filling the answer (ranked above the last
// offer), at most kMaxSuppressed of them; with no slot at all (no consent, cap reached) it
// lists the best k courses that would otherwise have been offered, with the reason.
//
// Domain code: no HTTP, no SQLite. The caller reads the user, events, catalog and recent offers
// (store/offer_store.hpp) and records the answer.
// Thread safety: pure function of its inputs. Failure: std::invalid_argument on a bad request
// (k out of range); the API validates before calling.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "nbo/offers/domain.hpp"
#include "nbo/offers/features.hpp"
#include "nbo/offers/offer_model.hpp"

namespace nbo::offers {

inline constexpr std::size_t kMaxOffersPerRequest = 20;  // the largest k
inline constexpr std::size_t kMaxSuppressed = 20;

struct ChannelPolicy {
  int cooldown_days = 14;  // a course is not offered again on this channel within this
  int max_offers = 3;      // offers per user on this channel ...
  int window_days = 7;     // ... within this many days
  bool needs_email_consent = false;
};

// Defaults per channel; a deployment overrides them (ServiceLimits::offer_policy).
struct ContactPolicy {
  ChannelPolicy email{
      .cooldown_days = 14, .max_offers = 3, .window_days = 7, .needs_email_consent = true};
  ChannelPolicy crm{
      .cooldown_days = 7, .max_offers = 5, .window_days = 7, .needs_email_consent = false};
  // The policy of a channel name ("email", "crm"); nullptr for another name.
  const ChannelPolicy* find(std::string_view channel) const noexcept;
  // The longest cool-down or window, in days: how far back the offers log must be read.
  int lookback_days() const noexcept;
};
inline constexpr std::string_view kDefaultChannel = "crm";

enum class RankBy { kProbability, kExpectedValue };

struct OfferRequest {
  std::size_t k = 3;  // 1..kMaxOffersPerRequest
  std::string channel = std::string(kDefaultChannel);
  Seconds as_of = 0;
  RankBy rank_by = RankBy::kProbability;
};

struct RecentOffer {
  std::string course_id{};
  std::string channel{};
  Seconds offered_at = 0;
};

struct RankedOffer {
  std::size_t course = 0;  // catalog index
  double score = 0;        // probability, or expected value with RankBy::kExpectedValue
  double probability = 0;  // of buying the course within the model's horizon
  double expected_value_rub = 0;
  std::vector<std::string> reasons{};
};

struct Suppression {
  std::size_t course = 0;
  std::string reason{};  // owned, inactive, no_consent, cool_down, cap_reached
  double score = 0;
};

struct Recommendation {
  std::vector<RankedOffer> offers{};
  std::vector<Suppression> suppressed{};
  double buy_again_probability = 0;
  bool cold_start = false;
  std::string notice{};  // e.g. why there is no offer; empty when nothing to say
};

Recommendation recommend(const OfferModel& model, const Catalog& catalog,
                         const MarketContext& market, const User& user,
                         std::span<const Event> events, std::span<const RecentOffer> recent,
                         const ContactPolicy& policy, const OfferRequest& request);

}  // namespace nbo::offers
