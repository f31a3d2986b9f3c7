// The OULAD adapter (../shared/data/oulad, see its SOURCE.md): real enrolments of a distance-
// learning university mapped onto the school's data model (school_export.hpp), so the offers
// trainer and features run on real behaviour unchanged.
//
// Mapping:
//   course    = code_module (AAA..GGG): one catalog entry each, all active, direction "oulad",
//               level 1, a nominal price of 1000 roubles (OULAD has no prices);
//   user      = id_student (registered_at = the first registration, allow_email 1);
//   purchase  = a studentRegistration row, at run start + date_registration, where run start is
//               approximated as YYYY-02-01 (presentation "B") or YYYY-10-01 ("J"). A retake of a
//               module is kept as a purchase (it is buying again);
//   study     = a studentAssessment row (lesson_completed), at run start + date_submitted of its
//               assessment's run.
// Rows that cannot be placed are rejected with file, line and column (a registration without
// date_registration, a submission of an unknown assessment or without date_submitted).
//
// evaluate_oulad() trains the offers models on a time split of it and compares them with the
// simple baselines SOURCE.md suggests: buy-again ROC-AUC against recency and count of past
// registrations, next-new-module HitRate@1 against the most common next module after the
// student's last one.
//
// Thread safety: reentrant. Failure: DataError for malformed files.
#pragma once

#include <filesystem>
#include <string>

#include "nbo/offers/domain.hpp"
#include "nbo/train/school_export.hpp"

namespace nbo::train {

// Run start of a presentation code ("2013B" -> 2013-02-01, "2014J" -> 2014-10-01); nullopt for
// another shape.
std::optional<offers::Seconds> oulad_run_start(std::string_view presentation);

SchoolDataset load_oulad_export(const std::filesystem::path& dir);

struct OuladEvaluation {
  std::string cutoff{};
  int horizon_days = 0;
  double propensity_auc = 0;  // the trained buy-again model
  double baseline_auc = 0;    // recency and count of past registrations
  std::size_t users = 0;      // with history before the cutoff
  double positive_rate = 0;
  double model_hit_rate_1 = 0;     // next new module, the trained candidate model
  double baseline_hit_rate_1 = 0;  // most common next module after the student's last one
  std::size_t next_course_users = 0;
};

// Time split at `cutoff` (default 2014-06-01) with a `horizon_days` window (default 213, to
// 2014-12-31): training cutoffs before it, monthly, whose windows end at or before it.
OuladEvaluation evaluate_oulad(const SchoolDataset& data,
                               offers::Seconds cutoff = 1401580800 /* 2014-06-01 */,
                               int horizon_days = 213);

}  // namespace nbo::train
