// The offers area's routes: the next best offer for a school user, responses to offers, the
// user's event feed and the course catalog. All of them touch the database, so they run on the
// workers. Every body is validated completely before anything is written: a bad request writes
// nothing.
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <mutex>

#include "nbo/api/errors.hpp"
#include "nbo/json/writer.hpp"
#include "nbo/models/registry.hpp"
#include "nbo/offers/recommender.hpp"
#include "nbo/store/offer_store.hpp"
#include "service_context.hpp"

namespace nbo::api {
namespace {

using offers::Seconds;

Seconds now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void expect_object(json::Value body) {
  if (!body.is_object()) throw ApiError(errors::kInvalidType, "", "the body must be a JSON object");
}

std::string string_field(json::Value value, const std::string& field) {
  if (!value.is_string()) {
    throw ApiError(errors::kInvalidType, field,
                   fmt::format("'{}' must be a string, got {}", field, value.type_name()));
  }
  return std::string(value.string());
}

long long integer_field(json::Value value, const std::string& field, long long min, long long max) {
  if (!value.is_number()) {
    throw ApiError(errors::kInvalidType, field,
                   fmt::format("'{}' must be an integer, got {}", field, value.type_name()));
  }
  const double number = value.number();
  if (std::floor(number) != number) {
    throw ApiError(errors::kInvalidType, field,
                   fmt::format("'{}' must be an integer, got {}", field, number));
  }
  if (number < static_cast<double>(min) || number > static_cast<double>(max)) {
    throw ApiError(errors::kOutOfRange, field,
                   fmt::format("'{}' must be in [{}, {}], got {}", field, min, max, number));
  }
  return static_cast<long long>(number);
}

double positive_number(json::Value value, const std::string& field) {
  if (!value.is_number()) {
    throw ApiError(errors::kInvalidType, field,
                   fmt::format("'{}' must be a number, got {}", field, value.type_name()));
  }
  const double number = value.number();
  if (!(number > 0) || !std::isfinite(number)) {
    throw ApiError(errors::kOutOfRange, field,
                   fmt::format("'{}' must be a number > 0, got {}", field, number));
  }
  return number;
}

Seconds time_field(json::Value value, const std::string& field) {
  const std::string text = string_field(value, field);
  const auto time = offers::parse_time(text);
  if (!time) {
    throw ApiError(errors::kInvalidValue, field,
                   fmt::format("'{}' is not an ISO-8601 UTC time like 2026-08-01T12:00:00Z", text));
  }
  return *time;
}

// ---- POST /next-best-offer

struct NextBestOfferBody {
  std::string user_id;
  offers::OfferRequest request;
  bool replay = false;
};

NextBestOfferBody read_next_best_offer(json::Value body, const offers::ContactPolicy& policy) {
  expect_object(body);
  NextBestOfferBody parsed;
  bool has_user = false;
  const Seconds now = now_seconds();
  parsed.request.as_of = now;
  body.for_each_member([&](std::string_view key, json::Value value) {
    if (key == "user_id") {
      parsed.user_id = validated_customer_id(string_field(value, "user_id"), "user_id");
      has_user = true;
    } else if (key == "k") {
      parsed.request.k = static_cast<std::size_t>(
          integer_field(value, "k", 1, static_cast<long long>(offers::kMaxOffersPerRequest)));
    } else if (key == "channel") {
      parsed.request.channel = string_field(value, "channel");
      if (policy.find(parsed.request.channel) == nullptr) {
        throw ApiError(
            errors::kUnknownCategory, "channel",
            fmt::format("channel '{}' is not one of \"email\", \"crm\"", parsed.request.channel));
      }
    } else if (key == "as_of") {
      parsed.request.as_of = time_field(value, "as_of");
      if (parsed.request.as_of > now + 60) {
        throw ApiError(errors::kOutOfRange, "as_of",
                       "as_of is in the future; a replay looks at a past moment");
      }
      parsed.replay = true;
    } else if (key == "rank_by") {
      const std::string rank_by = string_field(value, "rank_by");
      if (rank_by == "probability") {
        parsed.request.rank_by = offers::RankBy::kProbability;
      } else if (rank_by == "expected_value") {
        parsed.request.rank_by = offers::RankBy::kExpectedValue;
      } else {
        throw ApiError(errors::kUnknownCategory, "rank_by",
                       fmt::format("rank_by '{}' is not one of \"probability\", "
                                   "\"expected_value\"",
                                   rank_by));
      }
    } else {
      throw ApiError(errors::kUnknownField, std::string(key),
                     fmt::format("unknown field '{}' (allowed: user_id, k, channel, as_of, "
                                 "rank_by)",
                                 key));
    }
  });
  if (!has_user) throw ApiError(errors::kMissingField, "user_id", "'user_id' is required");
  return parsed;
}

// The market figures of a model mapped onto a catalog, kept while both stay the same: mapping
// costs a hash lookup per co-purchase pair, too much to repeat on every request.
class MarketCache {
 public:
  std::shared_ptr<const offers::MarketContext> get(
      const std::shared_ptr<const offers::OfferModel>& model,
      const std::shared_ptr<const offers::Catalog>& catalog) {
    std::lock_guard lock(mutex_);
    if (model != model_ || catalog != catalog_) {
      market_ = std::make_shared<const offers::MarketContext>(model->market_for(*catalog));
      model_ = model;
      catalog_ = catalog;
    }
    return market_;
  }

 private:
  std::mutex mutex_;
  std::shared_ptr<const offers::OfferModel> model_;
  std::shared_ptr<const offers::Catalog> catalog_;
  std::shared_ptr<const offers::MarketContext> market_;
};

std::string_view rank_by_name(offers::RankBy rank_by) {
  return rank_by == offers::RankBy::kExpectedValue ? "expected_value" : "probability";
}

http::Response next_best_offer(const ServiceContext& ctx, MarketCache& cache,
                               const http::Request& request) {
  const auto body = read_json_body(request, ctx.limits.max_json_depth);
  const NextBestOfferBody parsed = read_next_best_offer(body.root(), ctx.limits.offer_policy);
  const auto set = ctx.model_set();
  if (!set->offers) {
    throw ApiError(errors::kModelNotLoaded, "",
                   "the next-best-offer model (models/offers.json) is not loaded");
  }
  const auto& model = *set->offers;
  auto& store = ctx.deps.offers;
  const auto user = store.find_user(parsed.user_id);
  if (!user) {
    throw ApiError(errors::kUserNotFound, "user_id",
                   fmt::format("no school user '{}' (import the export or post the user's "
                               "events first)",
                               parsed.user_id));
  }
  const auto catalog = store.catalog();
  const auto market = cache.get(set->offers, catalog);
  const offers::Seconds as_of = parsed.request.as_of;
  const auto events =
      store.events_before(parsed.user_id, as_of, *catalog, ctx.limits.max_user_events);
  const auto lookback = ctx.limits.offer_policy.lookback_days() * offers::kSecondsPerDay;
  std::vector<offers::RecentOffer> recent;
  // Live requests see the offers made up to this second; a replay only those before as_of.
  const Seconds log_end = parsed.replay ? as_of : as_of + 1;
  for (auto& record : store.offers_between(parsed.user_id, as_of - lookback, log_end)) {
    recent.push_back({.course_id = std::move(record.course_id),
                      .channel = std::move(record.channel),
                      .offered_at = record.offered_at});
  }
  const offers::Recommendation answer = offers::recommend(
      model, *catalog, *market, *user, events, recent, ctx.limits.offer_policy, parsed.request);
  std::vector<std::string> offer_ids;
  if (!parsed.replay) {
    std::vector<store::NewOffer> records;
    for (std::size_t i = 0; i < answer.offers.size(); ++i) {
      records.push_back({.course_id = (*catalog)[answer.offers[i].course].course_id,
                         .rank = static_cast<int>(i + 1),
                         .score = answer.offers[i].score});
    }
    offer_ids = store.record_offers(request.request_id, parsed.user_id, parsed.request.channel,
                                    as_of, model.metadata().version, records);
  }

  std::string text;
  json::Writer writer(text);
  writer.begin_object();
  writer.member("user_id", parsed.user_id);
  writer.member("as_of", offers::format_time(as_of));
  writer.member("channel", parsed.request.channel);
  writer.member("rank_by", rank_by_name(parsed.request.rank_by));
  writer.member("replay", parsed.replay);
  writer.member("cold_start", answer.cold_start);
  writer.key("offers");
  writer.begin_array();
  for (std::size_t i = 0; i < answer.offers.size(); ++i) {
    const auto& offer = answer.offers[i];
    const auto& course = (*catalog)[offer.course];
    writer.begin_object();
    writer.key("offer_id");
    if (parsed.replay) {
      writer.null();
    } else {
      writer.string(offer_ids[i]);
    }
    writer.member("course_id", course.course_id);
    writer.member("title", course.title);
    writer.member("score", offer.score);
    writer.member("probability", offer.probability);
    writer.member("expected_value_rub", offer.expected_value_rub);
    writer.member("price_rub", course.price_rub);
    writer.key("reasons");
    writer.begin_array();
    for (const auto& reason : offer.reasons) writer.string(reason);
    writer.end_array();
    writer.end_object();
  }
  writer.end_array();
  writer.key("suppressed");
  writer.begin_array();
  for (const auto& suppression : answer.suppressed) {
    writer.begin_object();
    writer.member("course_id", (*catalog)[suppression.course].course_id);
    writer.member("reason", suppression.reason);
    writer.member("score", suppression.score);
    writer.end_object();
  }
  writer.end_array();
  writer.member("buy_again_probability", answer.buy_again_probability);
  if (!answer.notice.empty()) writer.member("notice", answer.notice);
  writer.key("model");
  writer.begin_object();
  writer.member("name", model.metadata().name);
  writer.member("version", model.metadata().version);
  writer.member_integer("horizon_days", model.horizon_days());
  writer.end_object();
  writer.end_object();
  return json_response(200, std::move(text));
}

// ---- POST /users/{id}/events

std::vector<store::NewEvent> read_events(json::Value body, const offers::Catalog& catalog,
                                         std::size_t max_batch) {
  expect_object(body);
  std::optional<json::Value> list;
  body.for_each_member([&](std::string_view key, json::Value value) {
    if (key != "events") {
      throw ApiError(errors::kUnknownField, std::string(key),
                     fmt::format("unknown field '{}'; the body is {{\"events\": [...]}}", key));
    }
    list = value;
  });
  if (!list) throw ApiError(errors::kMissingField, "events", "'events' is required");
  if (!list->is_array()) {
    throw ApiError(errors::kInvalidType, "events",
                   fmt::format("'events' must be an array, got {}", list->type_name()));
  }
  if (list->size() == 0) throw ApiError(errors::kOutOfRange, "events", "'events' is empty");
  if (list->size() > max_batch) {
    throw ApiError(errors::kBatchTooLarge, "events",
                   fmt::format("{} events in one call; at most {}", list->size(), max_batch));
  }
  std::vector<store::NewEvent> events;
  list->for_each_element([&](std::size_t index, json::Value item) {
    const std::string at = fmt::format("events[{}]", index);
    if (!item.is_object()) {
      throw ApiError(errors::kInvalidType, at, fmt::format("'{}' must be an object", at));
    }
    store::NewEvent event;
    std::optional<std::string> type;
    std::optional<Seconds> time;
    std::optional<json::Value> amount;
    item.for_each_member([&](std::string_view key, json::Value value) {
      const std::string field = fmt::format("{}.{}", at, key);
      if (key == "type") {
        type = string_field(value, field);
      } else if (key == "time") {
        time = time_field(value, field);
      } else if (key == "course_id") {
        event.course_id = string_field(value, field);
      } else if (key == "amount_rub") {
        amount = value;
      } else {
        throw ApiError(errors::kUnknownField, field,
                       fmt::format("unknown field '{}' (allowed: type, time, course_id, "
                                   "amount_rub)",
                                   key));
      }
    });
    if (!type) throw ApiError(errors::kMissingField, at + ".type", "'type' is required");
    if (!time) throw ApiError(errors::kMissingField, at + ".time", "'time' is required");
    const auto kind = offers::kind_from_export_type(*type);
    if (!kind) {
      throw ApiError(errors::kUnknownCategory, at + ".type",
                     fmt::format("'{}' is not one of page_view, course_view, free_lesson, "
                                 "webinar, add_to_cart, purchase, lesson_completed",
                                 *type));
    }
    event.kind = *kind;
    event.time = *time;
    if (offers::kind_has_course(*kind)) {
      if (event.course_id.empty()) {
        throw ApiError(errors::kMissingField, at + ".course_id",
                       fmt::format("a {} event needs 'course_id'", *type));
      }
      const auto course = catalog.find(event.course_id);
      if (course < 0) {
        throw ApiError(errors::kUnknownCourse, at + ".course_id",
                       fmt::format("course '{}' is not in the catalog", event.course_id));
      }
      event.amount_rub = catalog[static_cast<std::size_t>(course)].price_rub;
    } else if (!event.course_id.empty()) {
      throw ApiError(errors::kInvalidValue, at + ".course_id",
                     "a page_view event has no course_id");
    }
    if (amount) {
      if (*kind != offers::EventKind::kPurchase) {
        throw ApiError(errors::kInvalidValue, at + ".amount_rub",
                       "only a purchase has an amount_rub");
      }
      event.amount_rub = positive_number(*amount, at + ".amount_rub");
    }
    events.push_back(std::move(event));
  });
  return events;
}

// ---- PUT /courses/{id}

offers::Course read_course(json::Value body, std::string id) {
  expect_object(body);
  offers::Course course;
  course.course_id = std::move(id);
  bool title = false, direction = false, level = false, price = false, duration = false,
       active = false;
  body.for_each_member([&](std::string_view key, json::Value value) {
    if (key == "title") {
      course.title = string_field(value, "title");
      if (course.title.empty() || course.title.size() > 500) {
        throw ApiError(errors::kInvalidValue, "title", "'title' must have 1..500 bytes");
      }
      title = true;
    } else if (key == "direction") {
      course.direction = string_field(value, "direction");
      if (course.direction.empty() || course.direction.size() > 100) {
        throw ApiError(errors::kInvalidValue, "direction", "'direction' must have 1..100 bytes");
      }
      direction = true;
    } else if (key == "level") {
      course.level =
          static_cast<int>(integer_field(value, "level", offers::kMinLevel, offers::kMaxLevel));
      level = true;
    } else if (key == "price_rub") {
      course.price_rub = positive_number(value, "price_rub");
      price = true;
    } else if (key == "duration_months") {
      course.duration_months = static_cast<int>(integer_field(value, "duration_months", 1, 120));
      duration = true;
    } else if (key == "active") {
      if (!value.is_boolean()) {
        throw ApiError(errors::kInvalidType, "active",
                       fmt::format("'active' must be true or false, got {}", value.type_name()));
      }
      course.active = value.boolean();
      active = true;
    } else {
      throw ApiError(errors::kUnknownField, std::string(key),
                     fmt::format("unknown field '{}' (allowed: title, direction, level, "
                                 "price_rub, duration_months, active)",
                                 key));
    }
  });
  for (const auto& [present, name] :
       {std::pair{title, "title"}, std::pair{direction, "direction"}, std::pair{level, "level"},
        std::pair{price, "price_rub"}, std::pair{duration, "duration_months"},
        std::pair{active, "active"}}) {
    if (!present)
      throw ApiError(errors::kMissingField, name, fmt::format("'{}' is required", name));
  }
  return course;
}

// ---- PUT /users/{id}

store::UserProfile read_user_profile(json::Value body) {
  expect_object(body);
  store::UserProfile profile;
  bool allow_email = false;
  body.for_each_member([&](std::string_view key, json::Value value) {
    if (key == "allow_email") {
      if (!value.is_boolean()) {
        throw ApiError(
            errors::kInvalidType, "allow_email",
            fmt::format("'allow_email' must be true or false, got {}", value.type_name()));
      }
      profile.allow_email = value.boolean();
      allow_email = true;
    } else if (key == "registered_at") {
      const Seconds time = time_field(value, "registered_at");
      profile.registered_at = time - time % offers::kSecondsPerDay;
    } else if (key == "age_group") {
      profile.age_group = string_field(value, "age_group");
      if (!profile.age_group->empty() && offers::age_band(*profile.age_group) < 0) {
        throw ApiError(errors::kUnknownCategory, "age_group",
                       fmt::format("'{}' is not one of \"18-24\", \"25-34\", \"35-44\", "
                                   "\"45-54\", \"55+\", \"\"",
                                   *profile.age_group));
      }
    } else if (key == "region") {
      profile.region = string_field(value, "region");
      if (profile.region->size() > 100) {
        throw ApiError(errors::kInvalidValue, "region", "'region' must have at most 100 bytes");
      }
    } else {
      throw ApiError(errors::kUnknownField, std::string(key),
                     fmt::format("unknown field '{}' (allowed: allow_email, registered_at, "
                                 "age_group, region)",
                                 key));
    }
  });
  if (!allow_email) {
    throw ApiError(errors::kMissingField, "allow_email", "'allow_email' is required");
  }
  return profile;
}

}  // namespace

void add_offers_routes(RouteTable& table, const ServiceContext& context) {
  const ServiceContext* ctx = &context;
  auto cache = std::make_shared<MarketCache>();
  table.add({.method = "POST",
             .path = "/next-best-offer",
             .handler =
                 [ctx, cache](const http::Request& request, const PathParameters&) {
                   return next_best_offer(*ctx, *cache, request);
                 },
             .dispatch = always(http::Dispatch::kWorker),
             .summary = "the ranked, policy-checked course offers for a school user",
             .access = auth::Access::kScorer});
  table.add(
      {.method = "POST",
       .path = "/offers/{offer_id}/response",
       .handler =
           [ctx](const http::Request& request, const PathParameters& parameters) {
             const std::string offer_id =
                 validated_customer_id(parameters.get("offer_id"), "offer_id");
             const auto body = read_json_body(request, ctx->limits.max_json_depth);
             const json::Value root = body.root();
             expect_object(root);
             std::optional<std::string> response;
             Seconds at = now_seconds();
             root.for_each_member([&](std::string_view key, json::Value value) {
               if (key == "response") {
                 response = string_field(value, "response");
                 if (*response != "opened" && *response != "clicked" && *response != "bought") {
                   throw ApiError(errors::kUnknownCategory, "response",
                                  fmt::format("response '{}' is not one of \"opened\", "
                                              "\"clicked\", \"bought\"",
                                              *response));
                 }
               } else if (key == "at") {
                 at = time_field(value, "at");
               } else {
                 throw ApiError(errors::kUnknownField, std::string(key),
                                fmt::format("unknown field '{}' (allowed: response, at)", key));
               }
             });
             if (!response) {
               throw ApiError(errors::kMissingField, "response", "'response' is required");
             }
             if (!ctx->deps.offers.record_response(offer_id, *response, at)) {
               throw ApiError(errors::kOfferNotFound, "offer_id",
                              fmt::format("no offer '{}'", offer_id));
             }
             std::string text;
             json::Writer writer(text);
             writer.begin_object();
             writer.member("offer_id", offer_id);
             writer.member("response", *response);
             writer.member("at", offers::format_time(at));
             writer.member("recorded", true);
             writer.end_object();
             return json_response(200, std::move(text));
           },
       .dispatch = always(http::Dispatch::kWorker),
       .summary = "record what the user did with an offer (opened, clicked, bought)",
       .access = auth::Access::kWriter});
  table.add({.method = "POST",
             .path = "/users/{id}/events",
             .handler =
                 [ctx](const http::Request& request, const PathParameters& parameters) {
                   const std::string id = validated_customer_id(parameters.get("id"), "user_id");
                   const auto body = read_json_body(request, ctx->limits.max_json_depth);
                   const auto catalog = ctx->deps.offers.catalog();
                   const auto events =
                       read_events(body.root(), *catalog, ctx->limits.max_event_batch);
                   const std::size_t appended = ctx->deps.offers.append_events(id, events);
                   std::string text;
                   json::Writer writer(text);
                   writer.begin_object();
                   writer.member("user_id", id);
                   writer.member_integer("appended", static_cast<std::int64_t>(appended));
                   writer.end_object();
                   return json_response(200, std::move(text));
                 },
             .dispatch = always(http::Dispatch::kWorker),
             .summary = "append a batch of a user's site events",
             .access = auth::Access::kWriter});
  table.add({.method = "PUT",
             .path = "/users/{id}",
             .handler =
                 [ctx](const http::Request& request, const PathParameters& parameters) {
                   const std::string id = validated_customer_id(parameters.get("id"), "user_id");
                   const auto body = read_json_body(request, ctx->limits.max_json_depth);
                   const store::UserProfile profile = read_user_profile(body.root());
                   const auto [user, created] =
                       ctx->deps.offers.put_user(id, profile, now_seconds());
                   std::string text;
                   json::Writer writer(text);
                   writer.begin_object();
                   writer.member("user_id", user.user_id);
                   writer.member("registered_at", offers::format_time(user.registered_at));
                   writer.member("age_group", user.age_group);
                   writer.member("region", user.region);
                   writer.member("allow_email", user.allow_email);
                   writer.member("created", created);
                   writer.end_object();
                   return json_response(created ? 201 : 200, std::move(text));
                 },
             .dispatch = always(http::Dispatch::kWorker),
             .summary = "create or update a school user's profile and e-mail consent",
             .access = auth::Access::kWriter});
  table.add({.method = "PUT",
             .path = "/courses/{id}",
             .handler =
                 [ctx](const http::Request& request, const PathParameters& parameters) {
                   std::string id = validated_customer_id(parameters.get("id"), "course_id");
                   const auto body = read_json_body(request, ctx->limits.max_json_depth);
                   const offers::Course course = read_course(body.root(), std::move(id));
                   const std::string updated_at = ctx->deps.offers.upsert_course(course);
                   std::string text;
                   json::Writer writer(text);
                   writer.begin_object();
                   writer.member("course_id", course.course_id);
                   writer.member("title", course.title);
                   writer.member("direction", course.direction);
                   writer.member_integer("level", course.level);
                   writer.member("price_rub", course.price_rub);
                   writer.member_integer("duration_months", course.duration_months);
                   writer.member("active", course.active);
                   writer.member("updated_at", updated_at);
                   writer.end_object();
                   return json_response(200, std::move(text));
                 },
             .dispatch = always(http::Dispatch::kWorker),
             .summary = "create or replace a course of the catalog",
             .access = auth::Access::kWriter});
}

}  // namespace nbo::api
