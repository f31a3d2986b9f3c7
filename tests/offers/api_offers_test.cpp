// The offers routes through the real server: each policy rule at its boundary, cold start,
// replay writing nothing, the offers log and responses, and bad input on every route.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "api/api_harness.hpp"
#include "nbo/offers/domain.hpp"
#include "nbo/store/offer_store.hpp"

namespace nbo::api::testing {
namespace {

using offers::kSecondsPerDay;
using offers::Seconds;
using ::testing::HasSubstr;

const Seconds kT = *offers::parse_time("2026-08-20T12:00:00Z");

// A small catalog whose ids the committed model knows: a Python track (beginner owned by the
// test users), a design course, and an inactive DevOps course.
offers::Catalog test_catalog() {
  return offers::Catalog({
      {.course_id = "C1001",
       .title = "Python (с нуля)",
       .direction = "programming",
       .level = 1,
       .price_rub = 25200,
       .duration_months = 3,
       .active = true},
      {.course_id = "C1002",
       .title = "Python (продвинутый)",
       .direction = "programming",
       .level = 2,
       .price_rub = 69200,
       .duration_months = 4,
       .active = true},
      {.course_id = "C1012",
       .title = "DevOps (с нуля)",
       .direction = "programming",
       .level = 1,
       .price_rub = 30000,
       .duration_months = 3,
       .active = false},
      {.course_id = "C1030",
       .title = "Дизайн (с нуля)",
       .direction = "design",
       .level = 1,
       .price_rub = 20000,
       .duration_months = 3,
       .active = true},
      {.course_id = "C1050",
       .title = "Маркетинг (с нуля)",
       .direction = "marketing",
       .level = 1,
       .price_rub = 90000,
       .duration_months = 5,
       .active = true},
  });
}

// Users: "buyer" (consents to e-mail) owns C1001, studied it, looked at C1002 and C1012;
// "quiet" (refused e-mail) has the same history; "newcomer" has none.
void seed(ApiHarness& harness) {
  const auto catalog = test_catalog();
  std::vector<offers::User> users = {
      {.user_id = "buyer",
       .registered_at = kT - 200 * kSecondsPerDay,
       .age_group = "25-34",
       .region = "Москва",
       .allow_email = true},
      {.user_id = "quiet",
       .registered_at = kT - 200 * kSecondsPerDay,
       .age_group = "25-34",
       .region = "Москва",
       .allow_email = false},
      {.user_id = "newcomer",
       .registered_at = kT - 1 * kSecondsPerDay,
       .age_group = "18-24",
       .region = "Казань",
       .allow_email = true},
  };
  const auto day = [](int d) { return kT - d * kSecondsPerDay; };
  std::vector<offers::Event> history = {
      {.time = day(60), .kind = offers::EventKind::kView, .course = 0},
      {.time = day(59), .kind = offers::EventKind::kPurchase, .course = 0, .amount_rub = 25200},
      {.time = day(58), .kind = offers::EventKind::kStudy, .course = 0},
      {.time = day(10), .kind = offers::EventKind::kView, .course = 1},
      {.time = day(9), .kind = offers::EventKind::kTrial, .course = 1},
      {.time = day(8), .kind = offers::EventKind::kView, .course = 2},
  };
  std::vector<std::vector<offers::Event>> events = {history, history, {}};
  harness.offer_store().import(catalog, users, events);
}

HarnessOptions options() {
  HarnessOptions options;
  options.limits.offer_policy.email = {
      .cooldown_days = 14, .max_offers = 3, .window_days = 7, .needs_email_consent = true};
  options.limits.offer_policy.crm = {
      .cooldown_days = 7, .max_offers = 5, .window_days = 7, .needs_email_consent = false};
  return options;
}

Json body_of(const HttpResponse& response) {
  return Json::parse(response.body);
}

std::vector<std::string> offered(const Json& answer) {
  std::vector<std::string> ids;
  for (const auto& offer : answer["offers"]) ids.push_back(offer["course_id"]);
  return ids;
}

std::string suppression(const Json& answer, std::string_view course) {
  for (const auto& entry : answer["suppressed"]) {
    if (entry["course_id"] == course) return entry["reason"];
  }
  return "";
}

struct OfferRows {
  std::int64_t offers = 0;
  std::int64_t responses = 0;
  std::int64_t events = 0;
  std::int64_t courses = 0;
  std::int64_t users = 0;
  bool operator==(const OfferRows&) const = default;
};

OfferRows rows(ApiHarness& harness) {
  auto& store = harness.offer_store();
  return {store.count("offer_log"), store.count("offer_responses"), store.count("school_events"),
          store.count("school_courses"), store.count("school_users")};
}

// A replay at kT (writes nothing).
Json replay(ApiHarness& harness, const std::string& user, const std::string& channel, int k = 3) {
  const auto response = harness.post_json(
      "/next-best-offer",
      Json{{"user_id", user}, {"k", k}, {"channel", channel}, {"as_of", offers::format_time(kT)}});
  EXPECT_EQ(response.status, 200) << response.body;
  return body_of(response);
}

void record(ApiHarness& harness, const std::string& user, const std::string& course,
            const std::string& channel, Seconds at) {
  const store::NewOffer offer{.course_id = course, .rank = 1, .score = 0.5};
  harness.offer_store().record_offers("seed", user, channel, at, "test",
                                      std::span<const store::NewOffer>(&offer, 1));
}

class OffersApi : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(models_dir() / "offers.json")) {
      GTEST_SKIP() << "models/offers.json is not there";
    }
    seed(harness);
  }
  ApiHarness harness{options()};
};

TEST_F(OffersApi, OffersAreRankedRecordedWithTheRequestIdAndExplained) {
  const auto response = harness.post_json("/next-best-offer", Json{{"user_id", "buyer"}}, "req-1");
  ASSERT_EQ(response.status, 200) << response.body;
  const Json answer = body_of(response);
  EXPECT_EQ(answer["user_id"], "buyer");
  EXPECT_EQ(answer["channel"], "crm");
  EXPECT_EQ(answer["replay"], false);
  EXPECT_EQ(answer["cold_start"], false);
  ASSERT_EQ(answer["offers"].size(), 3U);
  double previous = 1.0;
  for (const auto& offer : answer["offers"]) {
    EXPECT_TRUE(offer["offer_id"].is_string());
    EXPECT_LE(offer["score"].get<double>(), previous);
    previous = offer["score"].get<double>();
    EXPECT_GT(offer["probability"].get<double>(), 0.0);
    EXPECT_FALSE(offer["reasons"].empty());
  }
  EXPECT_GT(answer["buy_again_probability"].get<double>(), 0.0);
  EXPECT_LT(answer["buy_again_probability"].get<double>(), 1.0);
  EXPECT_EQ(answer["model"]["name"], "offers");
  // Recorded: one row per offer, with the request id.
  auto db = harness.inspect();
  auto select = db.prepare(
      "SELECT offer_id, course_id, channel, rank FROM offer_log WHERE request_id = 'req-1' "
      "ORDER BY rank");
  for (std::size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(select.step());
    EXPECT_EQ(select.column_text(0), answer["offers"][i]["offer_id"]);
    EXPECT_EQ(select.column_text(1), answer["offers"][i]["course_id"]);
    EXPECT_EQ(select.column_text(2), "crm");
    EXPECT_EQ(select.column_int64(3), static_cast<std::int64_t>(i + 1));
  }
  EXPECT_FALSE(select.step());
}

TEST_F(OffersApi, BackToBackLiveRequestsSeeEachOthersOffers) {
  // crm: cap 5 per 7 days, 7-day cool-down; the buyer has three eligible courses.
  const Json first =
      body_of(harness.post_json("/next-best-offer", Json{{"user_id", "buyer"}, {"k", 2}}));
  const Json second =
      body_of(harness.post_json("/next-best-offer", Json{{"user_id", "buyer"}, {"k", 2}}));
  ASSERT_EQ(first["offers"].size(), 2U);
  ASSERT_EQ(second["offers"].size(), 1U);  // the third course; the first two cool down
  for (const auto& offer : first["offers"]) {
    EXPECT_EQ(suppression(second, offer["course_id"].get<std::string>()), "cool_down");
    EXPECT_NE(second["offers"][0]["course_id"], offer["course_id"]);
  }
  const Json third = body_of(harness.post_json("/next-best-offer", Json{{"user_id", "buyer"}}));
  EXPECT_TRUE(third["offers"].empty());
  EXPECT_EQ(harness.offer_store().count("offer_log"), 3);
}

TEST_F(OffersApi, OwnedAndInactiveCoursesAreNeverOffered) {
  const Json answer = replay(harness, "buyer", "crm", 5);
  const auto ids = offered(answer);
  EXPECT_THAT(ids, ::testing::Not(::testing::Contains("C1001")));
  EXPECT_THAT(ids, ::testing::Not(::testing::Contains("C1012")));
  EXPECT_EQ(ids.size(), 3U);  // five courses, one owned, one inactive
  EXPECT_EQ(suppression(answer, "C1001"), "owned");
  EXPECT_EQ(suppression(answer, "C1012"), "inactive");
  // Deactivating a course through the catalog route takes it out at once.
  const auto put = harness.put_json("/courses/C1002", Json{{"title", "Python (продвинутый)"},
                                                           {"direction", "programming"},
                                                           {"level", 2},
                                                           {"price_rub", 69200},
                                                           {"duration_months", 4},
                                                           {"active", false}});
  ASSERT_EQ(put.status, 200) << put.body;
  const Json after = replay(harness, "buyer", "crm", 5);
  EXPECT_THAT(offered(after), ::testing::Not(::testing::Contains("C1002")));
  EXPECT_EQ(suppression(after, "C1002"), "inactive");
}

TEST_F(OffersApi, ColdStartGivesPopularEligibleCoursesMarked) {
  const Json answer = replay(harness, "newcomer", "crm", 2);
  EXPECT_EQ(answer["cold_start"], true);
  ASSERT_EQ(answer["offers"].size(), 2U);
  for (const auto& offer : answer["offers"]) {
    EXPECT_NE(offer["course_id"], "C1012");
    EXPECT_THAT(offer["reasons"][0].get<std::string>(), HasSubstr("cold start"));
  }
}

TEST_F(OffersApi, ReplayCountsOnlyEarlierEventsAndWritesNothing) {
  const OfferRows before = rows(harness);
  // As of the day of the purchase, C1001 is not owned yet: it may be offered.
  const auto response = harness.post_json(
      "/next-best-offer", Json{{"user_id", "buyer"},
                               {"k", 5},
                               {"as_of", offers::format_time(kT - 59 * kSecondsPerDay)}});
  ASSERT_EQ(response.status, 200) << response.body;
  const Json answer = body_of(response);
  EXPECT_EQ(answer["replay"], true);
  EXPECT_THAT(offered(answer), ::testing::Contains("C1001"));
  for (const auto& offer : answer["offers"]) EXPECT_TRUE(offer["offer_id"].is_null());
  // Before any event at all: a cold start.
  const Json earliest = body_of(harness.post_json(
      "/next-best-offer",
      Json{{"user_id", "buyer"}, {"as_of", offers::format_time(kT - 100 * kSecondsPerDay)}}));
  EXPECT_EQ(earliest["cold_start"], true);
  EXPECT_EQ(rows(harness), before);
}

TEST_F(OffersApi, CoolDownHoldsUntilItsLastSecondAndExpiresAfter) {
  // Offered by e-mail exactly 14 days before kT: still cooling down at kT.
  record(harness, "buyer", "C1030", "email", kT - 14 * kSecondsPerDay);
  Json answer = replay(harness, "buyer", "email", 5);
  EXPECT_THAT(offered(answer), ::testing::Not(::testing::Contains("C1030")));
  EXPECT_EQ(suppression(answer, "C1030"), "cool_down");
  // The other channel has its own contact history.
  EXPECT_THAT(offered(replay(harness, "buyer", "crm", 5)), ::testing::Contains("C1030"));
  // One second earlier, the cool-down has expired.
  ApiHarness fresh{options()};
  seed(fresh);
  record(fresh, "buyer", "C1030", "email", kT - 14 * kSecondsPerDay - 1);
  answer = replay(fresh, "buyer", "email", 5);
  EXPECT_THAT(offered(answer), ::testing::Contains("C1030"));
}

TEST_F(OffersApi, CapPerWindowCountsOffersAtItsBoundary) {
  // Three e-mail offers within the last 7 days (the oldest exactly 7 days back): cap reached.
  record(harness, "buyer", "C1050", "email", kT - 7 * kSecondsPerDay);
  record(harness, "buyer", "C1050", "email", kT - 3 * kSecondsPerDay + 1);
  record(harness, "buyer", "C1050", "email", kT - 60);
  Json answer = replay(harness, "buyer", "email", 3);
  EXPECT_TRUE(answer["offers"].empty());
  EXPECT_THAT(answer["notice"].get<std::string>(), HasSubstr("cap"));
  EXPECT_EQ(suppression(answer, "C1030"), "cap_reached");

  // With the oldest one a second outside the window, one slot is left.
  ApiHarness fresh{options()};
  seed(fresh);
  record(fresh, "buyer", "C1050", "email", kT - 7 * kSecondsPerDay - 1);
  record(fresh, "buyer", "C1050", "email", kT - 3 * kSecondsPerDay);
  record(fresh, "buyer", "C1050", "email", kT - 60);
  answer = replay(fresh, "buyer", "email", 3);
  ASSERT_EQ(answer["offers"].size(), 1U);
  EXPECT_NE(answer["offers"][0]["course_id"], "C1050");  // still cooling down
  EXPECT_EQ(suppression(answer, "C1050"), "cool_down");
}

TEST_F(OffersApi, NoEmailOffersWithoutConsentAndTheAnswerSaysSo) {
  const Json answer = replay(harness, "quiet", "email", 3);
  EXPECT_TRUE(answer["offers"].empty());
  EXPECT_THAT(answer["notice"].get<std::string>(), HasSubstr("allow_email = 0"));
  EXPECT_EQ(suppression(answer, "C1030"), "no_consent");
  EXPECT_EQ(offered(replay(harness, "quiet", "crm", 3)).size(), 3U);
  EXPECT_EQ(offered(replay(harness, "buyer", "email", 3)).size(), 3U);
}

TEST_F(OffersApi, RankByExpectedValueWeighsThePrice) {
  const Json answer =
      body_of(harness.post_json("/next-best-offer", Json{{"user_id", "buyer"},
                                                         {"k", 3},
                                                         {"rank_by", "expected_value"},
                                                         {"as_of", offers::format_time(kT)}}));
  EXPECT_EQ(answer["rank_by"], "expected_value");
  double previous = 1e18;
  for (const auto& offer : answer["offers"]) {
    const double value = offer["score"].get<double>();
    EXPECT_NEAR(value, offer["probability"].get<double>() * offer["price_rub"].get<double>(),
                1e-6 * value);
    EXPECT_LE(value, previous);
    previous = value;
  }
}

TEST_F(OffersApi, ResponsesAreRecordedForKnownOffersOnly) {
  const Json answer = body_of(harness.post_json("/next-best-offer", Json{{"user_id", "buyer"}}));
  const std::string offer_id = answer["offers"][0]["offer_id"];
  const auto response =
      harness.post_json("/offers/" + offer_id + "/response",
                        Json{{"response", "clicked"}, {"at", "2026-08-21T10:00:00Z"}});
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(body_of(response)["recorded"], true);
  auto db = harness.inspect();
  auto select =
      db.prepare("SELECT response, responded_at FROM offer_responses WHERE offer_id = ?1");
  select.bind(1, offer_id);
  ASSERT_TRUE(select.step());
  EXPECT_EQ(select.column_text(0), "clicked");
  EXPECT_EQ(select.column_int64(1), *offers::parse_time("2026-08-21T10:00:00Z"));

  const OfferRows before = rows(harness);
  const auto unknown = harness.post_json("/offers/of_nope/response", Json{{"response", "opened"}});
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(body_of(unknown)["error"]["code"], "offer_not_found");
  EXPECT_EQ(rows(harness), before);
}

TEST_F(OffersApi, EventsAreAppendedAsABatchAndCountForTheNextOffer) {
  const auto response = harness.post_json(
      "/users/newcomer/events",
      Json{{"events",
            {{{"type", "course_view"}, {"time", "2026-08-19T10:00:00Z"}, {"course_id", "C1050"}},
             {{"type", "add_to_cart"}, {"time", "2026-08-19T10:05:00Z"}, {"course_id", "C1050"}},
             {{"type", "page_view"}, {"time", "2026-08-19T10:06:00Z"}}}}});
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(body_of(response)["appended"], 3);
  const Json answer = replay(harness, "newcomer", "crm", 1);
  EXPECT_EQ(answer["cold_start"], false);
  // A purchase makes the course owned.
  ASSERT_EQ(harness
                .post_json("/users/newcomer/events", Json{{"events",
                                                           {{{"type", "purchase"},
                                                             {"time", "2026-08-19T11:00:00Z"},
                                                             {"course_id", "C1050"}}}}})
                .status,
            200);
  EXPECT_EQ(suppression(replay(harness, "newcomer", "crm", 5), "C1050"), "owned");
  // An unknown user is created (without e-mail consent) by its first events.
  ASSERT_EQ(
      harness
          .post_json("/users/stranger/events",
                     Json{{"events", {{{"type", "page_view"}, {"time", "2026-08-19T11:00:00Z"}}}}})
          .status,
      200);
  const auto user = harness.offer_store().find_user("stranger");
  ASSERT_TRUE(user.has_value());
  EXPECT_FALSE(user->allow_email);
}

TEST_F(OffersApi, ConsentGivenThroughPutUsersOpensTheEmailChannel) {
  // A user created by its events has no consent: no e-mail offer, and the answer says so.
  ASSERT_EQ(harness
                .post_json("/users/walker/events", Json{{"events",
                                                         {{{"type", "course_view"},
                                                           {"time", "2026-08-19T10:00:00Z"},
                                                           {"course_id", "C1050"}}}}})
                .status,
            200);
  Json answer = replay(harness, "walker", "email", 2);
  EXPECT_TRUE(answer["offers"].empty());
  EXPECT_THAT(answer["notice"].get<std::string>(), HasSubstr("allow_email = 0"));

  auto response = harness.send_json("PUT", "/users/walker", R"({"allow_email": true})");
  ASSERT_EQ(response.status, 200) << response.body;
  Json stored = body_of(response);
  EXPECT_EQ(stored["created"], false);
  EXPECT_EQ(stored["allow_email"], true);
  EXPECT_EQ(stored["registered_at"], "2026-08-19T00:00:00Z");  // kept: the first event's day
  EXPECT_EQ(offered(replay(harness, "walker", "email", 2)).size(), 2U);

  // Withdrawn consent closes it again; the other fields given replace the stored ones.
  response = harness.send_json(
      "PUT", "/users/walker",
      R"({"allow_email": false, "age_group": "35-44", "region": "Казань", "registered_at": "2026-01-15"})");
  ASSERT_EQ(response.status, 200) << response.body;
  const auto user = harness.offer_store().find_user("walker");
  ASSERT_TRUE(user.has_value());
  EXPECT_FALSE(user->allow_email);
  EXPECT_EQ(user->age_group, "35-44");
  EXPECT_EQ(user->region, "Казань");
  EXPECT_EQ(user->registered_at, *offers::parse_time("2026-01-15"));
  EXPECT_TRUE(replay(harness, "walker", "email", 2)["offers"].empty());

  // A new user: 201, registered today unless told; no events, so a cold start.
  response = harness.send_json("PUT", "/users/signup", R"({"allow_email": true})");
  ASSERT_EQ(response.status, 201) << response.body;
  EXPECT_EQ(body_of(response)["created"], true);
  EXPECT_EQ(rows(harness).users, 5);
}

TEST_F(OffersApi, UnknownUserIs404) {
  const auto response = harness.post_json("/next-best-offer", Json{{"user_id", "ghost"}});
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(body_of(response)["error"]["code"], "user_not_found");
  EXPECT_EQ(body_of(response)["error"]["field"], "user_id");
}

struct BadRequest {
  std::string method;
  std::string target;
  std::string body;
  int status;
  std::string code;
  std::string field;
};

TEST_F(OffersApi, BadInputOnEveryRouteIsA4xxJsonErrorAndWritesNothing) {
  const Json answer = body_of(harness.post_json("/next-best-offer", Json{{"user_id", "buyer"}}));
  const std::string offer =
      "/offers/" + answer["offers"][0]["offer_id"].get<std::string>() + "/response";
  const std::vector<BadRequest> cases = {
      {"POST", "/next-best-offer", "", 400, "empty_body", ""},
      {"POST", "/next-best-offer", "{", 400, "invalid_json", ""},
      {"POST", "/next-best-offer", "[]", 422, "invalid_type", ""},
      {"POST", "/next-best-offer", "{}", 422, "missing_field", "user_id"},
      {"POST", "/next-best-offer", R"({"user_id": 7})", 422, "invalid_type", "user_id"},
      {"POST", "/next-best-offer", R"({"user_id": "buyer", "k": 0})", 422, "out_of_range", "k"},
      {"POST", "/next-best-offer", R"({"user_id": "buyer", "k": 21})", 422, "out_of_range", "k"},
      {"POST", "/next-best-offer", R"({"user_id": "buyer", "k": 2.5})", 422, "invalid_type", "k"},
      {"POST", "/next-best-offer", R"({"user_id": "buyer", "channel": "sms"})", 422,
       "unknown_category", "channel"},
      {"POST", "/next-best-offer", R"({"user_id": "buyer", "as_of": "yesterday"})", 422,
       "invalid_value", "as_of"},
      {"POST", "/next-best-offer", R"({"user_id": "buyer", "as_of": "2999-01-01T00:00:00Z"})", 422,
       "out_of_range", "as_of"},
      {"POST", "/next-best-offer", R"({"user_id": "buyer", "rank_by": "price"})", 422,
       "unknown_category", "rank_by"},
      {"POST", "/next-best-offer", R"({"user_id": "buyer", "kk": 1})", 422, "unknown_field", "kk"},
      {"POST", offer, "{}", 422, "missing_field", "response"},
      {"POST", offer, R"({"response": "liked"})", 422, "unknown_category", "response"},
      {"POST", offer, R"({"response": "opened", "at": 5})", 422, "invalid_type", "at"},
      {"POST", offer, R"({"response": "opened", "x": 1})", 422, "unknown_field", "x"},
      {"POST", "/users/buyer/events", "{}", 422, "missing_field", "events"},
      {"POST", "/users/buyer/events", R"({"events": []})", 422, "out_of_range", "events"},
      {"POST", "/users/buyer/events", R"({"events": {}})", 422, "invalid_type", "events"},
      {"POST", "/users/buyer/events",
       R"({"events": [{"type": "page_view", "time": "2026-08-19T10:00:00Z"},
                      {"type": "course_view", "time": "2026-08-19T10:00:00Z", "course_id": "C9999"}]})",
       422, "unknown_course", "events[1].course_id"},
      {"POST", "/users/buyer/events",
       R"({"events": [{"type": "scroll", "time": "2026-08-19T10:00:00Z"}]})", 422,
       "unknown_category", "events[0].type"},
      {"POST", "/users/buyer/events",
       R"({"events": [{"type": "course_view", "time": "2026-08-19T10:00:00Z"}]})", 422,
       "missing_field", "events[0].course_id"},
      {"POST", "/users/buyer/events",
       R"({"events": [{"type": "course_view", "course_id": "C1002"}]})", 422, "missing_field",
       "events[0].time"},
      {"POST", "/users/buyer/events",
       R"({"events": [{"type": "course_view", "time": "2026-02-30T10:00:00Z", "course_id": "C1002"}]})",
       422, "invalid_value", "events[0].time"},
      {"POST", "/users/buyer/events",
       R"({"events": [{"type": "course_view", "time": "2026-08-19T10:00:00Z", "course_id": "C1002", "amount_rub": 5}]})",
       422, "invalid_value", "events[0].amount_rub"},
      {"POST", "/users/buyer/events",
       R"({"events": [{"type": "purchase", "time": "2026-08-19T10:00:00Z", "course_id": "C1002", "amount_rub": -5}]})",
       422, "out_of_range", "events[0].amount_rub"},
      {"POST", "/users/buyer/events",
       R"({"events": [{"type": "page_view", "time": "2026-08-19T10:00:00Z", "extra": 1}]})", 422,
       "unknown_field", "events[0].extra"},
      {"PUT", "/users/buyer", "{}", 422, "missing_field", "allow_email"},
      {"PUT", "/users/buyer", R"({"allow_email": 1})", 422, "invalid_type", "allow_email"},
      {"PUT", "/users/buyer", R"({"allow_email": true, "age_group": "teen"})", 422,
       "unknown_category", "age_group"},
      {"PUT", "/users/buyer", R"({"allow_email": true, "registered_at": "soon"})", 422,
       "invalid_value", "registered_at"},
      {"PUT", "/users/buyer", R"({"allow_email": true, "email": "a@b"})", 422, "unknown_field",
       "email"},
      {"PUT", "/users/new-one", R"({"allow_email": true, "region": 5})", 422, "invalid_type",
       "region"},
      {"PUT", "/courses/C2000", "{}", 422, "missing_field", "title"},
      {"PUT", "/courses/C2000",
       R"({"title": "t", "direction": "data", "level": 4, "price_rub": 1, "duration_months": 1, "active": true})",
       422, "out_of_range", "level"},
      {"PUT", "/courses/C2000",
       R"({"title": "t", "direction": "data", "level": 1, "price_rub": 0, "duration_months": 1, "active": true})",
       422, "out_of_range", "price_rub"},
      {"PUT", "/courses/C2000",
       R"({"title": "t", "direction": "data", "level": 1, "price_rub": 1, "duration_months": 1, "active": 1})",
       422, "invalid_type", "active"},
      {"PUT", "/courses/C2000",
       R"({"title": "t", "direction": "data", "level": 1, "price_rub": 1, "duration_months": 1, "active": true, "color": "red"})",
       422, "unknown_field", "color"},
  };
  const OfferRows before = rows(harness);
  for (const auto& bad : cases) {
    const auto response = harness.send_json(bad.method, bad.target, bad.body);
    EXPECT_EQ(response.status, bad.status)
        << bad.method << ' ' << bad.target << ' ' << bad.body << " -> " << response.body;
    const Json error = Json::parse(response.body, nullptr, false);
    ASSERT_TRUE(error.is_object()) << response.body;
    EXPECT_EQ(error["error"]["code"], bad.code) << bad.body;
    if (!bad.field.empty()) {
      EXPECT_EQ(error["error"]["field"], bad.field) << bad.body;
    }
    EXPECT_TRUE(error.contains("request_id")) << response.body;
  }
  EXPECT_EQ(rows(harness), before);
}

TEST(OffersApiWithoutModel, NextBestOfferIs503AndChurnStillServes) {
  TempDir models;
  std::filesystem::copy_file(models_dir() / "churn.json", models / "churn.json");
  HarnessOptions harness_options;
  harness_options.models_directory = models.path();
  ApiHarness harness(harness_options);
  seed(harness);
  const auto response = harness.post_json("/next-best-offer", Json{{"user_id", "buyer"}});
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(Json::parse(response.body)["error"]["code"], "model_not_loaded");
  EXPECT_THAT(response.body, HasSubstr("offers.json"));
  EXPECT_EQ(harness.get("/ready").status, 200);
  EXPECT_EQ(harness.offer_store().count("offer_log"), 0);
}

}  // namespace
}  // namespace nbo::api::testing

namespace nbo::api::testing {
namespace {

// A reload publishes a new offers model through the same registry as churn; requests after it
// answer with the new version, and a bad offers file leaves the published set untouched.
TEST(OffersApiReload, OffersModelIsHotSwappedThroughTheRegistry) {
  if (!std::filesystem::exists(models_dir() / "offers.json")) {
    GTEST_SKIP() << "models/offers.json is not there";
  }
  ApiHarness harness;
  seed(harness);
  const auto version_of = [&] {
    const auto response = harness.post_json("/next-best-offer", Json{{"user_id", "buyer"}});
    EXPECT_EQ(response.status, 200) << response.body;
    return Json::parse(response.body)["model"]["version"].get<std::string>();
  };
  const std::string before = version_of();
  TempDir swapped_dir;
  std::filesystem::copy_file(models_dir() / "churn.json", swapped_dir / "churn.json");
  Json document = Json::parse(read_text(models_dir() / "offers.json"));
  document["metadata"]["version"] = "swapped";
  write_text(swapped_dir / "offers.json", document.dump());
  harness.models().load_directory(swapped_dir.path());
  EXPECT_EQ(version_of(), "swapped");

  document["candidate"]["margin_offset"] = "x";
  write_text(swapped_dir / "offers.json", document.dump());
  EXPECT_THROW(harness.models().load_directory(swapped_dir.path()), models::ModelLoadError);
  EXPECT_EQ(version_of(), "swapped");
  EXPECT_NE(before, "swapped");
}

}  // namespace
}  // namespace nbo::api::testing
