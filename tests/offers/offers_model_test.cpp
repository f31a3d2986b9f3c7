// The offers model: training on a small synthetic export is reproducible byte for byte, the
// file round-trips and is validated at load with the file and JSON path named.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <random>

#include "nbo/models/churn_model.hpp"
#include "nbo/offers/offer_model.hpp"
#include "nbo/train/offers_trainer.hpp"
#include "nbo/train/oulad_export.hpp"
#include "offers/offers_fixture.hpp"
#include "support/temp_dir.hpp"

namespace nbo::train {
namespace {

using ::nbo::test_support::TempDir;
using offers::EventKind;
using offers::kSecondsPerDay;
using offers::Seconds;
using ::testing::HasSubstr;

// A year of a small school: users browse courses of a favourite direction, try and cart some,
// buy some of those, study what they bought and move up a level.
SchoolDataset synthetic_school(std::uint32_t seed) {
  SchoolDataset data;
  std::vector<offers::Course> courses;
  const char* directions[] = {"data", "design"};
  for (int d = 0; d < 2; ++d) {
    for (int level = 1; level <= 3; ++level) {
      courses.push_back({.course_id = fmt::format("C{}{}", d, level),
                         .title = fmt::format("Track {} ({})", d, level),
                         .direction = directions[d],
                         .level = level,
                         .price_rub = 10000.0 * level,
                         .duration_months = 2 * level,
                         .active = true});
    }
  }
  courses.push_back({.course_id = "C90",
                     .title = "Soft",
                     .direction = "soft",
                     .level = 1,
                     .price_rub = 5000,
                     .duration_months = 1,
                     .active = true});
  data.catalog = offers::Catalog(courses);
  const Seconds start = *offers::parse_time("2025-09-01");
  data.report.period_start = start;
  data.report.period_end = start + 365 * kSecondsPerDay;
  std::mt19937 random(seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  for (int u = 0; u < 300; ++u) {
    data.users.push_back({.user_id = fmt::format("U{}", u),
                          .registered_at = start,
                          .age_group = "25-34",
                          .allow_email = true});
    std::vector<offers::Event> events;
    const int favourite = u % 2;
    std::vector<bool> owned(courses.size(), false);
    for (int day = 0; day < 365; day += 1 + static_cast<int>(uniform(random) * 10)) {
      Seconds time = start + day * kSecondsPerDay + 3600;
      int level = 1;
      while (level < 3 && owned[static_cast<std::size_t>(favourite * 3 + level - 1)]) ++level;
      const auto c = uniform(random) < 0.8 ? favourite * 3 + level - 1 : 6;
      const auto course = static_cast<std::int32_t>(c);
      events.push_back({.time = time, .kind = EventKind::kVisit});
      events.push_back({.time = time + 60, .kind = EventKind::kView, .course = course});
      if (owned[static_cast<std::size_t>(c)]) {
        events.push_back({.time = time + 120, .kind = EventKind::kStudy, .course = course});
        continue;
      }
      if (uniform(random) < 0.4) {
        events.push_back({.time = time + 120, .kind = EventKind::kTrial, .course = course});
        if (uniform(random) < 0.5) {
          events.push_back({.time = time + 180, .kind = EventKind::kCart, .course = course});
          if (uniform(random) < 0.5) {
            events.push_back({.time = time + 2 * kSecondsPerDay,
                              .kind = EventKind::kPurchase,
                              .course = course,
                              .amount_rub = courses[static_cast<std::size_t>(c)].price_rub});
            owned[static_cast<std::size_t>(c)] = true;
          }
        }
      }
    }
    std::stable_sort(events.begin(), events.end(),
                     [](const auto& a, const auto& b) { return a.time < b.time; });
    data.events.push_back(std::move(events));
  }
  data.fingerprint = "sha256:synthetic";
  return data;
}

OffersTrainingOptions small_options() {
  OffersTrainingOptions options;
  options.training_cutoffs = 8;
  options.cutoff_step_days = 14;
  options.negative_rate = 0.5;
  options.candidate_params.trees = 20;
  options.candidate_params.max_depth = 3;
  options.propensity_params.trees = 20;
  options.propensity_params.max_depth = 2;
  options.model_version = "test";
  options.trained_at = "2026-09-01T00:00:00Z";
  return options;
}

TEST(OffersTrainer, SameDataAndSeedGiveAByteIdenticalModelThatBeatsPopularity) {
  const auto data = synthetic_school(1);
  const auto first = train_offers_model(data, small_options());
  const auto second = train_offers_model(data, small_options());
  EXPECT_EQ(first.model->to_json().dump(2), second.model->to_json().dump(2));
  const auto& rankers = first.evaluation.rankers;
  ASSERT_EQ(rankers.size(), 4U);
  EXPECT_EQ(rankers[0].name, "global popularity");
  EXPECT_EQ(rankers[3].name, "model");
  EXPECT_GT(rankers[3].users, 10U);
  EXPECT_GT(rankers[3].ndcg_3, rankers[0].ndcg_3);
  EXPECT_GT(first.evaluation.propensity_auc, 0.5);
  // No training label at or after the evaluation cutoff.
  for (const auto& cutoff : first.training_cutoffs) {
    EXPECT_LE(*offers::parse_time(cutoff) + 28 * kSecondsPerDay,
              *offers::parse_time(first.evaluation.cutoff));
  }
  auto other = small_options();
  other.seed = 7;
  EXPECT_NE(train_offers_model(data, other).model->to_json().dump(), first.model->to_json().dump());
}

TEST(OffersTrainer, AValidationRunNeverReadsTheExcludedDays) {
  const auto data = synthetic_school(1);
  auto options = small_options();
  options.exclude_last_days = 28;
  const auto validation = train_offers_model(data, options);
  EXPECT_EQ(validation.evaluation.cutoff,
            offers::format_time(data.report.period_end - 56 * kSecondsPerDay));
  // The same run on an export whose last 28 days are gone, and whose events there are
  // scrambled, gives the same model: nothing of those days was read.
  SchoolDataset cut = data;
  const Seconds end = data.report.period_end - 28 * kSecondsPerDay;
  for (auto& events : cut.events) {
    for (auto& event : events) {
      if (event.time >= end) event.course = (event.course + 3) % 7;
    }
  }
  cut.report.period_end = end;
  auto plain = small_options();
  EXPECT_EQ(train_offers_model(cut, plain).model->to_json().dump(),
            validation.model->to_json().dump().replace(
                validation.model->to_json().dump().find("\"exclude_last_days\":28"),
                std::string("\"exclude_last_days\":28").size(), "\"exclude_last_days\":0"));
  options.exclude_last_days = 181;
  EXPECT_THROW(train_offers_model(data, options), std::invalid_argument);
}

TEST(OffersTrainer, LiftIntervalIsPairedAndHoldsTheObservedRatio) {
  const auto data = synthetic_school(1);
  const auto result = train_offers_model(data, small_options());
  const auto& evaluation = result.evaluation;
  EXPECT_LE(evaluation.ndcg_lift_low, evaluation.ndcg_lift);
  EXPECT_GT(evaluation.ndcg_lift_low, 0.0);
  EXPECT_GE(evaluation.ndcg_lift_high, evaluation.ndcg_lift);
  // Identical rankers have a ratio of exactly 1 in every resample; a constant ratio too.
  const std::vector<double> model = {0.5, 1.0, 0.0, 0.63, 1.0};
  EXPECT_EQ(ratio_interval(model, model, 200, 1), std::make_pair(1.0, 1.0));
  std::vector<double> half = model;
  for (double& value : half) value /= 2;
  const auto [low, high] = ratio_interval(model, half, 200, 1);
  EXPECT_DOUBLE_EQ(low, 2.0);
  EXPECT_DOUBLE_EQ(high, 2.0);
  // Same inputs, same interval; unpaired inputs are refused.
  const std::vector<double> other = {1.0, 0.0, 0.5, 0.3, 0.0};
  EXPECT_EQ(ratio_interval(model, other, 300, 9), ratio_interval(model, other, 300, 9));
  EXPECT_THROW(ratio_interval(model, {1.0}, 10, 1), std::invalid_argument);
}

TEST(OffersModelFile, RoundTripsAndRefusesBadFilesNamingThePath) {
  const auto result = train_offers_model(synthetic_school(2), small_options());
  TempDir dir;
  const auto file = dir / "offers.json";
  offers::save_offer_model(*result.model, file);
  const auto loaded = offers::load_offer_model(file);
  EXPECT_EQ(loaded->to_json().dump(), result.model->to_json().dump());

  const auto refused = [&](const std::function<void(nlohmann::json&)>& change) {
    nlohmann::json document = result.model->to_json();
    change(document);
    offers::testing::write_file(file, document.dump());
    try {
      offers::load_offer_model(file);
    } catch (const models::ModelLoadError& error) {
      return std::string(error.what());
    }
    return std::string("(loaded)");
  };
  EXPECT_THAT(refused([](auto& d) { d["format_version"] = 2; }), HasSubstr("format_version"));
  EXPECT_THAT(refused([](auto& d) { d["candidate"]["features"][0] = "clicks"; }),
              HasSubstr("candidate.features"));
  EXPECT_THAT(refused([](auto& d) { d["market"]["colour"] = 1; }),
              HasSubstr("market.colour: unknown key"));
  EXPECT_THAT(refused([](auto& d) { d["candidate"]["margin_offset"] = 1.5; }),
              HasSubstr("candidate.margin_offset"));
  EXPECT_THAT(refused([](auto& d) { d["market"]["popular"][0] = "nope"; }),
              HasSubstr("market.popular[0]"));
  EXPECT_THAT(refused([](auto& d) { d["horizon_days"] = 0; }), HasSubstr("horizon_days"));
  EXPECT_THAT(refused([](auto& d) { d.erase("propensity"); }),
              HasSubstr("propensity: is required"));
  EXPECT_THAT(refused([](auto&) {}), HasSubstr("(loaded)"));
  const std::string message = refused([](auto& d) { d["horizon_days"] = "28"; });
  EXPECT_THAT(message, HasSubstr(file.string()));
}

TEST(OuladAdapter, MapsRegistrationsAndSubmissionsOntoTheSchoolModel) {
  TempDir dir;
  offers::testing::write_file(
      dir / "studentRegistration.csv",
      "\"code_module\",\"code_presentation\",\"id_student\",\"date_registration\",\"date_"
      "unregistration\"\r\n"
      "\"AAA\",\"2013J\",\"1\",\"-10\",\"\"\r\n"
      "\"BBB\",\"2014B\",\"1\",\"-5\",\"\"\r\n"
      "\"BBB\",\"2014B\",\"2\",\"\",\"\"\r\n");
  offers::testing::write_file(dir / "assessments.csv",
                              "\"code_module\",\"code_presentation\",\"id_assessment\"\r\n"
                              "\"AAA\",\"2013J\",\"7\"\r\n");
  offers::testing::write_file(
      dir / "studentAssessment.csv",
      "\"id_assessment\",\"id_student\",\"date_submitted\",\"is_banked\",\"score\"\r\n"
      "\"7\",\"1\",\"20\",\"0\",\"80\"\r\n"
      "\"9\",\"1\",\"20\",\"0\",\"80\"\r\n");
  const auto data = load_oulad_export(dir.path());
  EXPECT_EQ(data.catalog.size(), 2U);
  ASSERT_EQ(data.users.size(), 1U);
  const auto& events = data.events[0];
  ASSERT_EQ(events.size(), 3U);
  EXPECT_EQ(events[0].kind, EventKind::kPurchase);
  EXPECT_EQ(events[0].time, *offers::parse_time("2013-09-21"));
  EXPECT_EQ(events[1].kind, EventKind::kStudy);
  EXPECT_EQ(events[1].time, *offers::parse_time("2013-10-21"));
  EXPECT_EQ(events[2].course, data.catalog.find("BBB"));
  EXPECT_EQ(events[2].time, *offers::parse_time("2014-01-27"));
  ASSERT_EQ(data.report.rejected.size(), 2U);
  EXPECT_EQ(data.report.rejected[0].column, "date_registration");
  EXPECT_EQ(data.report.rejected[0].line, 4U);
  EXPECT_EQ(data.report.rejected[1].column, "id_assessment");
}

}  // namespace
}  // namespace nbo::train
