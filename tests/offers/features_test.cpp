// The feature pipeline: a strict time cutoff (nothing at or after it reaches a feature), the
// funnel, level progression and co-purchase signals.
#include "nbo/offers/features.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

namespace nbo::offers {
namespace {

Catalog test_catalog() {
  return Catalog({
      {.course_id = "A1", .title = "a1", .direction = "data", .level = 1, .price_rub = 100},
      {.course_id = "A2", .title = "a2", .direction = "data", .level = 2, .price_rub = 200},
      {.course_id = "B1", .title = "b1", .direction = "design", .level = 1, .price_rub = 150},
  });
}

const Seconds kDay = kSecondsPerDay;
const Seconds kCutoff = 100 * kDay;

std::vector<Event> history() {
  return {
      {.time = 10 * kDay, .kind = EventKind::kVisit},
      {.time = 10 * kDay + 60, .kind = EventKind::kView, .course = 0},
      {.time = 11 * kDay, .kind = EventKind::kPurchase, .course = 0, .amount_rub = 100},
      {.time = 12 * kDay, .kind = EventKind::kStudy, .course = 0},
      {.time = 95 * kDay, .kind = EventKind::kView, .course = 1},
      {.time = 96 * kDay, .kind = EventKind::kTrial, .course = 1},
      {.time = 98 * kDay, .kind = EventKind::kCart, .course = 1},
  };
}

// Every row the models see for this user at the cutoff, flattened.
std::vector<double> all_rows(const std::vector<Event>& events, const Catalog& catalog,
                             const MarketContext& market) {
  const UserState state = summarize(events, kCutoff, catalog, 0, true);
  std::vector<double> out;
  const auto co = associations(state, market);
  std::vector<double> row(candidate_feature_names().size());
  for (std::size_t c = 0; c < catalog.size(); ++c) {
    candidate_row(state, catalog, market, co, c, row);
    out.insert(out.end(), row.begin(), row.end());
  }
  std::vector<double> user(propensity_feature_names().size());
  propensity_row(state, user);
  out.insert(out.end(), user.begin(), user.end());
  return out;
}

TEST(OfferFeatures, NothingAtOrAfterTheCutoffReachesTheFeatures) {
  const Catalog catalog = test_catalog();
  const auto events = history();
  std::vector<std::vector<Event>> users = {events};
  const MarketContext market = market_context(users, kCutoff, catalog.size());
  const auto before = all_rows(events, catalog, market);

  // The same history plus events exactly at the cutoff and after it, of every kind and course.
  auto future = events;
  for (const Seconds time : {kCutoff, kCutoff + 1, kCutoff + 30 * kDay}) {
    future.push_back({.time = time, .kind = EventKind::kVisit});
    for (std::int32_t c = 0; c < 3; ++c) {
      for (const auto kind : {EventKind::kView, EventKind::kTrial, EventKind::kCart,
                              EventKind::kPurchase, EventKind::kStudy}) {
        future.push_back({.time = time, .kind = kind, .course = c, .amount_rub = 1000});
      }
    }
  }
  std::vector<std::vector<Event>> future_users = {future};
  const MarketContext future_market = market_context(future_users, kCutoff, catalog.size());
  const auto after = all_rows(future, catalog, future_market);
  ASSERT_EQ(before.size(), after.size());
  for (std::size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(before[i], after[i]) << "feature value " << i << " changed by future events";
  }
  EXPECT_EQ(market.purchases_30d, future_market.purchases_30d);
  EXPECT_EQ(market.owners, future_market.owners);

  // And an event one second before the cutoff does count.
  auto just_before = events;
  just_before.push_back({.time = kCutoff - 1, .kind = EventKind::kCart, .course = 2});
  EXPECT_NE(all_rows(just_before, catalog, market), before);
}

TEST(OfferFeatures, FunnelRecencyAndLevelProgression) {
  const Catalog catalog = test_catalog();
  const UserState state = summarize(history(), kCutoff, catalog, 0, true);
  EXPECT_TRUE(state.courses[0].owned);
  EXPECT_FALSE(state.courses[1].owned);
  EXPECT_EQ(state.owned_count, 1);
  EXPECT_EQ(state.purchases, 1);
  const MarketContext market =
      market_context(std::vector<std::vector<Event>>{history()}, kCutoff, 3);
  const auto co = associations(state, market);
  std::vector<double> row(candidate_feature_names().size());
  candidate_row(state, catalog, market, co, 1, row);
  const auto& names = candidate_feature_names();
  const auto value = [&](std::string_view name) {
    return row[static_cast<std::size_t>(std::find(names.begin(), names.end(), name) -
                                        names.begin())];
  };
  EXPECT_EQ(value("funnel_depth"), 3);
  EXPECT_EQ(value("carts"), 1);
  EXPECT_DOUBLE_EQ(value("days_since_cart"), 2.0);
  EXPECT_EQ(value("owns_previous_level"), 1);
  EXPECT_EQ(value("studied_previous_level"), 1);
  EXPECT_EQ(value("recency_rank"), 0);
  EXPECT_DOUBLE_EQ(value("price_vs_spend"), std::log(2.0));
  candidate_row(state, catalog, market, co, 2, row);
  EXPECT_EQ(value("funnel_depth"), 0);
  EXPECT_EQ(value("recency_rank"), 50);
  EXPECT_EQ(value("days_since_touch"), 400);
}

TEST(OfferFeatures, CoPurchaseCountsUsersOwningBoth) {
  const Catalog catalog = test_catalog();
  std::vector<std::vector<Event>> users = {
      {{.time = 1, .kind = EventKind::kPurchase, .course = 0},
       {.time = 2, .kind = EventKind::kPurchase, .course = 2}},
      {{.time = 1, .kind = EventKind::kPurchase, .course = 0},
       {.time = 2, .kind = EventKind::kStudy, .course = 2}},
      {{.time = 1, .kind = EventKind::kPurchase, .course = 1}},
  };
  const MarketContext market = market_context(users, kCutoff, catalog.size());
  EXPECT_EQ(market.owners, (std::vector<double>{2, 1, 2}));
  ASSERT_EQ(market.co_purchase[0].size(), 1U);
  EXPECT_EQ(market.co_purchase[0][0], (std::pair<std::int32_t, double>{2, 2.0}));
  const UserState owner_of_a1 = summarize(
      std::vector<Event>{{.time = 5, .kind = EventKind::kPurchase, .course = 0}}, kCutoff, catalog);
  const auto scores = associations(owner_of_a1, market);
  EXPECT_DOUBLE_EQ(scores.co_purchase[2], 2.0 / (2.0 + 5.0));
  EXPECT_DOUBLE_EQ(scores.co_purchase[1], 0.0);
}

TEST(OfferTime, ParsesAndFormatsUtc) {
  EXPECT_EQ(parse_time("1970-01-01"), 0);
  EXPECT_EQ(parse_time("2026-08-31 23:59:59"), parse_time("2026-08-31T23:59:59Z"));
  EXPECT_EQ(parse_time("2026-08-31T23:59:59.123Z"), parse_time("2026-08-31T23:59:59Z"));
  EXPECT_EQ(format_time(*parse_time("2024-02-29T12:34:56Z")), "2024-02-29T12:34:56Z");
  EXPECT_FALSE(parse_time("2025-02-29"));
  EXPECT_FALSE(parse_time("2025-13-01"));
  EXPECT_FALSE(parse_time("2025-01-01 24:00:00"));
  EXPECT_FALSE(parse_time("2025-01-01X"));
  EXPECT_FALSE(parse_time(""));
}

}  // namespace
}  // namespace nbo::offers
