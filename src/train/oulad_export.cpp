#include "nbo/train/oulad_export.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

#include "nbo/train/evaluation.hpp"
#include "nbo/train/fingerprint.hpp"
#include "nbo/train/offers_trainer.hpp"

namespace nbo::train {
namespace {

using offers::EventKind;
using offers::Seconds;

CsvTable read_table(const std::filesystem::path& dir, std::string_view name,
                    std::vector<std::string> columns, std::string& fingerprint_input) {
  const std::string bytes = read_file_bytes(dir / name);
  fingerprint_input += fmt::format("{}\n{}\n", name, bytes.size());
  fingerprint_input += bytes;
  CsvOptions options;
  options.delimiter = ',';
  options.required_columns = std::move(columns);
  options.allow_extra_columns = true;
  return parse_csv(bytes, std::string(name), options);
}

std::optional<long long> parse_days(std::string_view text) {
  if (text.empty()) return std::nullopt;
  const auto number = parse_number(text);
  if (!number || number->value != static_cast<double>(static_cast<long long>(number->value))) {
    return std::nullopt;
  }
  return static_cast<long long>(number->value);
}

}  // namespace

std::optional<Seconds> oulad_run_start(std::string_view presentation) {
  if (presentation.size() != 5 || (presentation[4] != 'B' && presentation[4] != 'J')) {
    return std::nullopt;
  }
  const auto day = offers::parse_time(
      fmt::format("{}-{}-01", presentation.substr(0, 4), presentation[4] == 'B' ? "02" : "10"));
  return day;
}

SchoolDataset load_oulad_export(const std::filesystem::path& dir) {
  SchoolDataset data;
  auto& report = data.report;
  std::string fingerprint_input;
  const CsvTable registrations = read_table(
      dir, "studentRegistration.csv",
      {"code_module", "code_presentation", "id_student", "date_registration"}, fingerprint_input);
  const CsvTable assessments =
      read_table(dir, "assessments.csv", {"code_module", "code_presentation", "id_assessment"},
                 fingerprint_input);
  const CsvTable submissions =
      read_table(dir, "studentAssessment.csv", {"id_assessment", "id_student", "date_submitted"},
                 fingerprint_input);
  data.fingerprint = "sha256:" + sha256_hex(fingerprint_input);

  const auto reject = [&](const CsvTable& table, const CsvRow& row, std::string column,
                          std::string reason, std::string user) {
    report.rejected.push_back({.file = table.file,
                               .line = row.line,
                               .column = std::move(column),
                               .reason = std::move(reason),
                               .customer_id = std::move(user)});
  };
  std::vector<offers::Course> courses;
  std::unordered_map<std::string, std::int32_t> course_index;
  const auto course_of = [&](const std::string& module) {
    const auto [it, added] =
        course_index.emplace(module, static_cast<std::int32_t>(courses.size()));
    if (added) {
      courses.push_back({.course_id = module,
                         .title = "Module " + module,
                         .direction = "oulad",
                         .level = 1,
                         .price_rub = 1000,
                         .duration_months = 9,
                         .active = true});
    }
    return it->second;
  };
  std::unordered_map<std::string, std::size_t> user_index;
  const auto user_of = [&](const std::string& id) {
    const auto [it, added] = user_index.emplace(id, data.users.size());
    if (added) {
      data.users.push_back({.user_id = id, .registered_at = -1, .allow_email = true});
      data.events.emplace_back();
    }
    return it->second;
  };

  {
    const auto c_module = registrations.column_index("code_module");
    const auto c_run = registrations.column_index("code_presentation");
    const auto c_student = registrations.column_index("id_student");
    const auto c_date = registrations.column_index("date_registration");
    for (const auto& row : registrations.rows) {
      const auto& f = row.fields;
      const auto start = oulad_run_start(f[c_run]);
      if (!start) {
        reject(registrations, row, "code_presentation", fmt::format("'{}' is not a run", f[c_run]),
               f[c_student]);
        continue;
      }
      const auto days = parse_days(f[c_date]);
      if (!days) {
        reject(registrations, row, "date_registration",
               fmt::format("'{}' is not a day offset", f[c_date]), f[c_student]);
        continue;
      }
      const auto course = course_of(f[c_module]);
      const auto user = user_of(f[c_student]);
      data.events[user].push_back({.time = *start + *days * offers::kSecondsPerDay,
                                   .kind = EventKind::kPurchase,
                                   .course = course,
                                   .amount_rub = 1000});
    }
  }
  std::unordered_map<std::string, std::pair<std::int32_t, Seconds>> assessment_run;
  {
    const auto c_module = assessments.column_index("code_module");
    const auto c_run = assessments.column_index("code_presentation");
    const auto c_id = assessments.column_index("id_assessment");
    for (const auto& row : assessments.rows) {
      const auto start = oulad_run_start(row.fields[c_run]);
      if (!start) {
        reject(assessments, row, "code_presentation", "not a run", "");
        continue;
      }
      assessment_run[row.fields[c_id]] = {course_of(row.fields[c_module]), *start};
    }
  }
  {
    const auto c_id = submissions.column_index("id_assessment");
    const auto c_student = submissions.column_index("id_student");
    const auto c_date = submissions.column_index("date_submitted");
    for (const auto& row : submissions.rows) {
      const auto& f = row.fields;
      const auto run = assessment_run.find(f[c_id]);
      if (run == assessment_run.end()) {
        reject(submissions, row, "id_assessment",
               fmt::format("'{}' is not in assessments.csv", f[c_id]), f[c_student]);
        continue;
      }
      const auto days = parse_days(f[c_date]);
      if (!days) {
        reject(submissions, row, "date_submitted",
               fmt::format("'{}' is not a day offset", f[c_date]), f[c_student]);
        continue;
      }
      const auto user = user_of(f[c_student]);
      data.events[user].push_back({.time = run->second.second + *days * offers::kSecondsPerDay,
                                   .kind = EventKind::kStudy,
                                   .course = run->second.first});
    }
  }
  // Catalog in module order; course indexes re-mapped.
  std::vector<std::size_t> order(courses.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return courses[a].course_id < courses[b].course_id;
  });
  std::vector<std::int32_t> remap(courses.size());
  std::vector<offers::Course> sorted;
  for (std::size_t i = 0; i < order.size(); ++i) {
    remap[order[i]] = static_cast<std::int32_t>(i);
    sorted.push_back(courses[order[i]]);
  }
  data.catalog = offers::Catalog(std::move(sorted));
  Seconds first = -1;
  Seconds last = -1;
  for (std::size_t u = 0; u < data.users.size(); ++u) {
    auto& events = data.events[u];
    for (auto& event : events) event.course = remap[static_cast<std::size_t>(event.course)];
    std::stable_sort(events.begin(), events.end(),
                     [](const auto& a, const auto& b) { return a.time < b.time; });
    for (const auto& event : events) {
      if (event.kind == EventKind::kPurchase && data.users[u].registered_at < 0) {
        data.users[u].registered_at = event.time;
      }
      first = first < 0 ? event.time : std::min(first, event.time);
      last = std::max(last, event.time);
    }
    report.events_kept += events.size();
  }
  report.courses_read = data.catalog.size();
  report.users_read = data.users.size();
  report.event_rows_read = registrations.rows.size() + submissions.rows.size();
  report.period_start = first - first % offers::kSecondsPerDay;
  report.period_end = last + 1;
  return data;
}

OuladEvaluation evaluate_oulad(const SchoolDataset& source, Seconds cutoff, int horizon_days) {
  // The trainer evaluates at period_end - horizon: set the period's end accordingly.
  SchoolDataset data;
  data.catalog = source.catalog;
  data.users = source.users;
  data.events = source.events;
  data.fingerprint = source.fingerprint;
  data.report.period_start = source.report.period_start;
  data.report.period_end = cutoff + horizon_days * offers::kSecondsPerDay;
  OffersTrainingOptions options;
  options.horizon_days = horizon_days;
  options.training_cutoffs = 6;
  options.cutoff_step_days = 30;
  options.negative_rate = 1.0;
  options.candidate_params.trees = 200;
  options.candidate_params.max_depth = 3;
  options.propensity_params.trees = 200;
  options.propensity_params.max_depth = 3;
  options.model_version = "oulad";
  options.trained_at = offers::format_time(cutoff);
  const auto result = train_offers_model(data, options);

  OuladEvaluation out;
  out.cutoff = offers::format_time(cutoff);
  out.horizon_days = horizon_days;
  out.propensity_auc = result.evaluation.propensity_auc;
  out.users = result.evaluation.propensity_users;
  out.positive_rate = result.evaluation.propensity_positive_rate;
  out.model_hit_rate_1 = result.evaluation.rankers.back().hit_rate_1;
  out.next_course_users = result.evaluation.rankers.back().users;

  // Baselines, over the same users in the same order as the trainer's evaluation.
  const std::size_t n = data.catalog.size();
  std::vector<std::vector<double>> next(n, std::vector<double>(n, 0.0));
  std::vector<double> popularity(n, 0.0);
  for (const auto& events : data.events) {
    std::int32_t previous = -1;
    std::vector<char> seen(n, 0);
    for (const auto& event : events) {
      if (event.time >= cutoff) break;
      if (event.kind != EventKind::kPurchase) continue;
      const auto c = static_cast<std::size_t>(event.course);
      popularity[c] += 1;
      if (seen[c]) continue;
      seen[c] = 1;
      if (previous >= 0) next[static_cast<std::size_t>(previous)][c] += 1;
      previous = event.course;
    }
  }
  const Seconds end = data.report.period_end;
  std::vector<double> baseline_scores;
  std::vector<int> labels;
  double hits = 0;
  std::size_t ranked = 0;
  for (std::size_t u = 0; u < data.users.size(); ++u) {
    const auto& events = data.events[u];
    const auto state = offers::summarize(events, cutoff, data.catalog);
    if (!state.has_history()) continue;
    std::int32_t last = -1;
    double count = 0;
    Seconds last_time = -1;
    std::vector<char> bought(n, 0);
    bool buys = false;
    for (const auto& event : events) {
      if (event.kind != EventKind::kPurchase) continue;
      if (event.time < cutoff) {
        last = event.course;
        last_time = event.time;
        count += 1;
      } else if (event.time < end) {
        bought[static_cast<std::size_t>(event.course)] = 1;
        buys = true;
      }
    }
    const double days =
        last_time < 0 ? 10000.0 : static_cast<double>(cutoff - last_time) / offers::kSecondsPerDay;
    // Lexicographic: more past registrations first, then the more recent.
    baseline_scores.push_back(count * 100000.0 - days);
    labels.push_back(buys ? 1 : 0);
    bool any_new = false;
    for (std::size_t c = 0; c < n; ++c) any_new = any_new || (bought[c] && !state.courses[c].owned);
    if (!any_new) continue;
    std::int32_t best = -1;
    double best_score = -1;
    for (std::size_t c = 0; c < n; ++c) {
      if (state.courses[c].owned) continue;
      const double score =
          (last >= 0 ? next[static_cast<std::size_t>(last)][c] : 0.0) * 1e6 + popularity[c];
      if (score > best_score) {
        best_score = score;
        best = static_cast<std::int32_t>(c);
      }
    }
    ++ranked;
    if (best >= 0 && bought[static_cast<std::size_t>(best)]) hits += 1;
  }
  out.baseline_auc = roc_auc(baseline_scores, labels);
  out.baseline_hit_rate_1 = ranked > 0 ? hits / static_cast<double>(ranked) : 0.0;
  return out;
}

}  // namespace nbo::train
