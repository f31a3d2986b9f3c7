#include "nbo/models/registry.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "models/model_test_util.hpp"

namespace nbo::models {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;
using test::TempDir;

// Writes the fixture model with metadata.version = `version` to `<dir>/churn.json`.
void write_model(const std::filesystem::path& dir, const std::string& version,
                 double intercept = -0.6) {
  json model = test::valid_model_json();
  model["metadata"]["version"] = version;
  model["estimator"]["intercept"] = intercept;
  std::filesystem::create_directories(dir);
  test::write_text(dir / "churn.json", model.dump(2));
}

// A set holding only `churn`, as a reload would publish it.
std::shared_ptr<const ModelSet> set_of(std::shared_ptr<const ChurnModel> churn) {
  auto set = std::make_shared<ModelSet>();
  set->churn = std::move(churn);
  return set;
}

features::RawCustomer some_customer() {
  return features::customer_from_json(json{{"service_type", "премиум"},
                                           {"promo_share", 0.5},
                                           {"popular_category", "Кухонная посуда"},
                                           {"revenue_this_month", 5000.0},
                                           {"minutes_this_month", 10},
                                           {"allow_messages", true}});
}

TEST(ModelRegistryTest, EmptyUntilFirstLoad) {
  ModelRegistry registry;
  ASSERT_NE(registry.current(), nullptr);
  EXPECT_EQ(registry.current()->churn, nullptr);
  EXPECT_FALSE(registry.ready());
}

TEST(ModelRegistryTest, PublishSwapsButOldSnapshotsStayValid) {
  TempDir dir;
  write_model(dir.path() / "a", "v1", -0.6);
  write_model(dir.path() / "b", "v2", 2.0);
  ModelRegistry registry;
  registry.load_directory(dir.path() / "a");
  ASSERT_TRUE(registry.ready());
  auto snapshot = registry.current()->churn;
  ASSERT_NE(snapshot, nullptr);
  EXPECT_EQ(snapshot->metadata().version, "v1");
  const double before = snapshot->predict(some_customer()).probability;

  registry.publish(set_of(load_churn_model(dir.path() / "b" / "churn.json")));
  EXPECT_EQ(registry.current()->churn->metadata().version, "v2");
  EXPECT_NE(registry.current()->churn.get(), snapshot.get());
  EXPECT_GT(registry.current()->churn->predict(some_customer()).probability, before);
  // The request that started with v1 keeps scoring with v1, and the model is still alive.
  EXPECT_EQ(snapshot->metadata().version, "v1");
  EXPECT_EQ(snapshot->predict(some_customer()).probability, before);
  EXPECT_EQ(snapshot.use_count(), 1);  // the registry no longer holds it; we do
}

TEST(ModelRegistryTest, FailedLoadLeavesThePreviousModelPublished) {
  TempDir dir;
  write_model(dir.path() / "good", "good-1");
  ModelRegistry registry;
  registry.load_directory(dir.path() / "good");
  const auto published = registry.current()->churn;

  // A broken model file.
  std::filesystem::create_directories(dir.path() / "broken");
  json model = test::valid_model_json();
  model["decision"]["threshold"] = 1.5;
  test::write_text(dir.path() / "broken" / "churn.json", model.dump());
  try {
    registry.load_directory(dir.path() / "broken");
    ADD_FAILURE() << "broken model published";
  } catch (const ModelLoadError& error) {
    EXPECT_THAT(error.what(), HasSubstr((dir.path() / "broken" / "churn.json").string()));
    EXPECT_THAT(error.what(), HasSubstr("decision.threshold"));
  }
  EXPECT_EQ(registry.current()->churn, published);

  // Not JSON, and a directory without churn.json.
  std::filesystem::create_directories(dir.path() / "garbage");
  test::write_text(dir.path() / "garbage" / "churn.json", "not json");
  EXPECT_THROW(registry.load_directory(dir.path() / "garbage"), ModelLoadError);
  EXPECT_THROW(registry.load_directory(dir.path() / "empty"), ModelLoadError);
  EXPECT_EQ(registry.current()->churn, published);
  EXPECT_TRUE(registry.ready());

  // A failed first load leaves a fresh registry not ready.
  ModelRegistry fresh;
  EXPECT_THROW(fresh.load_directory(dir.path() / "broken"), ModelLoadError);
  EXPECT_FALSE(fresh.ready());
}

TEST(ModelRegistryTest, LoadedSetRecordsItsDirectoryAndTime) {
  TempDir dir;
  write_model(dir.path() / "a", "v1");
  ModelRegistry registry;
  const auto set = registry.load_directory(dir.path() / "a");
  EXPECT_EQ(registry.current(), set);
  EXPECT_EQ(set->directory, dir.path() / "a");
  ASSERT_EQ(set->loaded_at.size(), std::string("2026-11-30T04:00:00.000Z").size())
      << set->loaded_at;
  EXPECT_EQ(set->loaded_at[10], 'T') << set->loaded_at;
  EXPECT_EQ(set->loaded_at[19], '.') << set->loaded_at;
  EXPECT_EQ(set->loaded_at.back(), 'Z');
}

TEST(ModelRegistryTest, ConcurrentReadersAlwaysSeeACompleteModel) {
  TempDir dir;
  write_model(dir.path() / "a", "v1", -0.6);
  write_model(dir.path() / "b", "v2", 2.0);
  const auto a = load_churn_model(dir.path() / "a" / "churn.json");
  const auto b = load_churn_model(dir.path() / "b" / "churn.json");
  const double pa = a->predict(some_customer()).probability;
  const double pb = b->predict(some_customer()).probability;
  ModelRegistry registry;
  registry.publish(set_of(a));
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      const auto customer = some_customer();
      while (!stop.load()) {
        const auto model = registry.current()->churn;
        const double p = model->predict(customer).probability;
        const bool ok = (model->metadata().version == "v1" && p == pa) ||
                        (model->metadata().version == "v2" && p == pb);
        if (!ok) bad.fetch_add(1);
      }
    });
  }
  const auto set_a = set_of(a);
  const auto set_b = set_of(b);
  for (int i = 0; i < 2000; ++i) registry.publish(i % 2 == 0 ? set_b : set_a);
  stop = true;
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace nbo::models
