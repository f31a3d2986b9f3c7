// POST /admin/reload over real HTTP: a good reload publishes the new files (GET /models shows
// their versions and load time), a broken file keeps the old set and is named with its JSON path,
// each outcome is counted in /metrics, and scoring requests running beside reloads (a broken one
// included) are all answered 2xx, each by one model set from start to end.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/api_harness.hpp"
#include "nbo/offers/domain.hpp"
#include "nbo/store/offer_store.hpp"
#include "support/prometheus_text.hpp"

namespace nbo::api::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// A writable copy of the committed models directory, and variants of its files: the same churn
// model under another version with its calibration shifted (so it answers other probabilities),
// the segments file re-derived from it, and files that fail to load.
class ModelFiles {
 public:
  ModelFiles() : dir_(temp_.path() / "models") {
    std::filesystem::create_directories(dir_);
    for (const auto* name : {"churn.json", "segments.json", "offers.json"}) {
      std::filesystem::copy_file(models_dir() / name, dir_ / name);
    }
    churn_ = Json::parse(read_text(dir_ / "churn.json"));
    segments_ = Json::parse(read_text(dir_ / "segments.json"));
  }

  const std::filesystem::path& dir() const { return dir_; }
  std::string original_version() const { return churn_["metadata"]["version"]; }
  std::string variant_version() const { return original_version() + "-reloaded"; }

  // Writes the original churn and segments files (`variant` false) or the shifted variant.
  void write(bool variant) const {
    Json churn = churn_;
    Json segments = segments_;
    if (variant) {
      churn["metadata"]["version"] = variant_version();
      churn["calibration"]["offset"] = churn_["calibration"]["offset"].get<double>() + 1.0;
      segments["metadata"]["churn_model_version"] = variant_version();
    }
    replace(dir_ / "churn.json", churn.dump());
    replace(dir_ / "segments.json", segments.dump());
  }

  // A churn file whose decision threshold is a string: valid JSON, invalid model.
  void write_bad_threshold() const {
    Json churn = churn_;
    churn["decision"]["threshold"] = "high";
    replace(dir_ / "churn.json", churn.dump());
  }

  void write_raw(const std::string& name, std::string_view text) const {
    replace(dir_ / name, text);
  }

 private:
  // Written beside the target and renamed over it, as a deployment would, so a reload never
  // reads a half-written file.
  static void replace(const std::filesystem::path& file, std::string_view text) {
    const auto temporary = std::filesystem::path(file.string() + ".tmp");
    write_text(temporary, text);
    std::filesystem::rename(temporary, file);
  }

  TempDir temp_;
  std::filesystem::path dir_;
  Json churn_;
  Json segments_;
};

HarnessOptions options_for(const ModelFiles& files) {
  HarnessOptions options;
  options.models_directory = files.dir();
  options.threads = 2;
  options.max_body_bytes = 1 << 20;  // the batches below
  options.client_timeout = 30s;
  return options;
}

std::optional<double> reloads(ApiHarness& harness, std::string_view result) {
  const auto metrics = harness.get("/metrics");
  EXPECT_EQ(metrics.status, 200U);
  return nbo::test::parse_prometheus_text(metrics.body)
      .value("nbo_model_reloads_total", {{"result", std::string(result)}});
}

// The model entries of GET /models by kind.
std::map<std::string, Json> models_by_kind(ApiHarness& harness) {
  const auto response = harness.get("/models");
  EXPECT_EQ(response.status, 200U) << response.body;
  std::map<std::string, Json> out;
  const Json body = json_body(response);
  for (const auto& model : body["models"]) out[model.value("kind", "")] = model;
  return out;
}

TEST(ApiReload, ReloadPublishesTheNewFilesAndModelsShowsWhenTheyWereLoaded) {
  ModelFiles files;
  ApiHarness harness(options_for(files));
  const auto before = models_by_kind(harness);
  ASSERT_EQ(before.size(), 3U);
  const std::string first_loaded_at = before.at("churn").value("loaded_at", "");
  ASSERT_EQ(first_loaded_at.size(), std::string("2026-11-30T04:00:00.000Z").size())
      << first_loaded_at;
  for (const auto& [kind, model] : before) {
    EXPECT_EQ(model.value("loaded_at", ""), first_loaded_at) << kind;
  }
  EXPECT_EQ(before.at("churn").value("version", ""), files.original_version());

  files.write(true);
  std::this_thread::sleep_for(5ms);  // loaded_at has milliseconds
  const auto response = harness.post_json("/admin/reload", Json::object(), "reload-1");
  ASSERT_EQ(response.status, 200U) << response.body;
  EXPECT_EQ(response.header("X-Request-Id"), "reload-1");
  const Json body = json_body(response);
  EXPECT_EQ(body.value("status", ""), "reloaded");
  const std::string reloaded_at = body.value("loaded_at", "");
  EXPECT_GT(reloaded_at, first_loaded_at);
  ASSERT_EQ(body["models"].size(), 3U) << response.body;
  EXPECT_EQ(body["models"][0].value("version", ""), files.variant_version());

  const auto after = models_by_kind(harness);
  EXPECT_EQ(after.at("churn").value("version", ""), files.variant_version());
  EXPECT_EQ(after.at("segments").value("churn_model_version", ""), files.variant_version());
  for (const auto& [kind, model] : after) {
    EXPECT_EQ(model.value("loaded_at", ""), reloaded_at) << kind;
  }
  EXPECT_EQ(harness.churn_model()->metadata().version, files.variant_version());

  // Without a body too.
  files.write(false);
  const auto again = harness.request("POST", "/admin/reload");
  ASSERT_EQ(again.status, 200U) << again.body;
  EXPECT_EQ(models_by_kind(harness).at("churn").value("version", ""), files.original_version());
  EXPECT_EQ(reloads(harness, "ok"), std::optional<double>(2));
  EXPECT_EQ(reloads(harness, "failed"), std::optional<double>(0));
}

TEST(ApiReload, ABrokenFileKeepsTheLoadedSetAndIsNamedWithItsJsonPath) {
  ModelFiles files;
  ApiHarness harness(options_for(files));
  const auto loaded = harness.models().current();

  files.write(true);  // a good churn file beside the bad one below: nothing is published
  files.write_bad_threshold();
  auto response = harness.post_json("/admin/reload", Json::object(), "reload-bad-1");
  expect_error(response, 422, "reload_failed", "", "reload-bad-1");
  EXPECT_THAT(json_body(response)["error"].value("message", ""),
              HasSubstr((files.dir() / "churn.json").string()));
  EXPECT_THAT(json_body(response)["error"].value("message", ""), HasSubstr("decision.threshold"));
  EXPECT_EQ(harness.models().current(), loaded);

  // A good churn model with a segments file that is not JSON: the whole set is refused.
  files.write(true);
  files.write_raw("segments.json", "{\"format\": ");
  response = harness.post_json("/admin/reload", Json::object());
  expect_error(response, 422, "reload_failed", "");
  EXPECT_THAT(json_body(response)["error"].value("message", ""),
              HasSubstr((files.dir() / "segments.json").string()));
  EXPECT_EQ(harness.models().current(), loaded);

  // An offers file with a misspelt member, named by its path.
  files.write(false);
  Json offers = Json::parse(read_text(models_dir() / "offers.json"));
  offers["metadata"]["versoin"] = "x";
  files.write_raw("offers.json", offers.dump());
  response = harness.post_json("/admin/reload", Json::object());
  expect_error(response, 422, "reload_failed", "");
  EXPECT_THAT(json_body(response)["error"].value("message", ""),
              HasSubstr((files.dir() / "offers.json").string()));
  EXPECT_THAT(json_body(response)["error"].value("message", ""), HasSubstr("metadata"));
  EXPECT_EQ(harness.models().current(), loaded);

  // The missing required file.
  std::filesystem::remove(files.dir() / "churn.json");
  response = harness.post_json("/admin/reload", Json::object());
  expect_error(response, 422, "reload_failed", "");
  EXPECT_THAT(json_body(response)["error"].value("message", ""), HasSubstr("churn.json"));

  EXPECT_EQ(harness.models().current(), loaded);
  EXPECT_EQ(models_by_kind(harness).at("churn").value("version", ""), files.original_version());
  EXPECT_EQ(harness.get("/ready").status, 200U);
  EXPECT_EQ(reloads(harness, "failed"), std::optional<double>(4));
  EXPECT_EQ(reloads(harness, "ok"), std::optional<double>(0));
}

TEST(ApiReload, TakesNoParameters) {
  ModelFiles files;
  ApiHarness harness(options_for(files));
  expect_error(harness.post_json("/admin/reload", Json{{"directory", "/tmp"}}), 422,
               "unknown_field", "directory");
  expect_error(harness.post_json("/admin/reload", Json::array()), 422, "invalid_type", "");
  expect_error(harness.send_json("POST", "/admin/reload", "{"), 400, "invalid_json", "");
  expect_error(harness.get("/admin/reload"), 405, "method_not_allowed", "");
  EXPECT_EQ(reloads(harness, "ok"), std::optional<double>(0));
  EXPECT_EQ(reloads(harness, "failed"), std::optional<double>(0));
}

// A catalog and one user with a short history, for /next-best-offer replays (as_of given, so
// nothing is written and every answer is computed the same way).
void seed_school(ApiHarness& harness) {
  const offers::Seconds t = *offers::parse_time("2026-08-20T12:00:00Z");
  const offers::Catalog catalog({
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
      {.course_id = "C1030",
       .title = "Дизайн (с нуля)",
       .direction = "design",
       .level = 1,
       .price_rub = 20000,
       .duration_months = 3,
       .active = true},
  });
  const std::vector<offers::User> users = {{.user_id = "buyer",
                                            .registered_at = t - 200 * offers::kSecondsPerDay,
                                            .age_group = "25-34",
                                            .region = "Москва",
                                            .allow_email = true}};
  const auto day = [t](int d) { return t - d * offers::kSecondsPerDay; };
  const std::vector<std::vector<offers::Event>> events = {{
      {.time = day(60), .kind = offers::EventKind::kView, .course = 0},
      {.time = day(59), .kind = offers::EventKind::kPurchase, .course = 0, .amount_rub = 25200},
      {.time = day(10), .kind = offers::EventKind::kView, .course = 1},
  }};
  harness.offer_store().import(catalog, users, events);
}

TEST(ApiReload, ScoringRequestsBesideReloadsAreAllAnsweredEachByOneModelSet) {
  ModelFiles files;
  ApiHarness harness(options_for(files));
  seed_school(harness);

  const Json customer = fixture_customer("215349");
  Json batch{{"customers", Json::array()}};
  for (int i = 0; i < 40; ++i) batch["customers"].push_back(customer);
  const std::string single_body = customer.dump();
  const std::string batch_body = batch.dump();
  const std::string offer_body =
      Json{{"user_id", "buyer"}, {"k", 2}, {"as_of", "2026-08-20T12:00:00Z"}}.dump();

  std::atomic<bool> reloading{true};
  std::mutex mutex;
  std::vector<std::string> failures;
  std::map<std::string, double> probability_of_version;  // one probability per model version
  std::atomic<int> answered{0};
  const auto fail = [&](std::string what) {
    std::lock_guard lock(mutex);
    failures.push_back(std::move(what));
  };
  // Each answer must come from one model set: every item of a batch has the probability of the
  // version the answer names, and a version always gives the same probability.
  const auto check_probability = [&](const std::string& version, double probability) {
    std::lock_guard lock(mutex);
    const auto [it, inserted] = probability_of_version.emplace(version, probability);
    if (!inserted && it->second != probability) {
      failures.push_back("version " + version + " answered " + std::to_string(probability) +
                         " and " + std::to_string(it->second));
    }
  };

  const auto client_loop = [&](int client_index) {
    test::HttpClient client("127.0.0.1", harness.port(), 30s);
    const nbo::test::HttpHeaders json_type{{"Content-Type", "application/json"}};
    for (int i = 0; reloading.load() || i < 3; ++i) {
      try {
        const int kind = (i + client_index) % 3;
        if (kind == 0) {
          const auto response = client.request("POST", "/predict", single_body, json_type);
          if (response.status != 200) {
            fail("/predict " + std::to_string(response.status) + " " + response.body);
            continue;
          }
          const Json body = Json::parse(response.body);
          check_probability(body["model"]["version"], body["probability"]);
        } else if (kind == 1) {
          const auto response = client.request("POST", "/predict", batch_body, json_type);
          if (response.status != 200) {
            fail("/predict batch " + std::to_string(response.status) + " " + response.body);
            continue;
          }
          const Json body = Json::parse(response.body);
          const std::string version = body["model"]["version"];
          for (const auto& item : body["results"]) check_probability(version, item["probability"]);
        } else {
          const auto response = client.request("POST", "/next-best-offer", offer_body, json_type);
          if (response.status != 200) {
            fail("/next-best-offer " + std::to_string(response.status) + " " + response.body);
            continue;
          }
        }
        answered.fetch_add(1);
      } catch (const std::exception& error) {
        fail(std::string("request failed: ") + error.what());
      }
    }
  };

  std::vector<std::thread> clients;
  for (int c = 0; c < 3; ++c) clients.emplace_back(client_loop, c);

  // Good reloads alternating the two versions, and broken ones between them.
  test::HttpClient admin("127.0.0.1", harness.port(), 30s);
  int ok = 0;
  int failed = 0;
  for (int round = 0; round < 8; ++round) {
    const bool broken = round % 3 == 2;
    if (broken) {
      files.write_bad_threshold();
    } else {
      files.write(round % 2 == 0);
    }
    const auto response = admin.request("POST", "/admin/reload");
    if (broken) {
      EXPECT_EQ(response.status, 422U) << response.body;
      ++failed;
    } else {
      EXPECT_EQ(response.status, 200U) << response.body;
      ++ok;
    }
    std::this_thread::sleep_for(20ms);
  }
  reloading = false;
  for (auto& client : clients) client.join();

  EXPECT_TRUE(failures.empty()) << failures.size() << " failures, the first: " << failures.front();
  EXPECT_GT(answered.load(), 30);
  // Both versions answered, with different probabilities.
  ASSERT_EQ(probability_of_version.size(), 2U);
  EXPECT_NE(probability_of_version.at(files.original_version()),
            probability_of_version.at(files.variant_version()));
  EXPECT_EQ(reloads(harness, "ok"), std::optional<double>(ok));
  EXPECT_EQ(reloads(harness, "failed"), std::optional<double>(failed));
}

}  // namespace
}  // namespace nbo::api::testing
