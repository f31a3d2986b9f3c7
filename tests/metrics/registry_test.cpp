#include "nbo/metrics/registry.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/prometheus_text.hpp"

namespace nbo::metrics {
namespace {

using test::parse_prometheus_text;
using test::PrometheusText;

// Expects `fn` to throw std::invalid_argument whose message contains `needle`.
template <typename Fn>
void expect_invalid(Fn&& fn, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "expected std::invalid_argument mentioning '" << needle << "'";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find(needle), std::string::npos) << error.what();
  }
}

TEST(MetricsRegistry, RendersExactlyTheExpectedText) {
  Registry registry;
  auto& requests = registry.counter("app_requests_total", "Requests served.", {"route", "code"});
  requests.with({"POST /predict", "200"}).inc(3);
  requests.with({"GET /health", "200"}).inc();
  registry.gauge("app_in_flight", "Requests in flight.").with({}).set(2);
  auto& latency = registry.histogram("app_latency_seconds", "Latency.", {}, {0.1, 1});
  latency.with({}).observe(0.05);
  latency.with({}).observe(0.5);
  latency.with({}).observe(7);
  EXPECT_EQ(registry.render(),
            "# HELP app_in_flight Requests in flight.\n"
            "# TYPE app_in_flight gauge\n"
            "app_in_flight 2\n"
            "# HELP app_latency_seconds Latency.\n"
            "# TYPE app_latency_seconds histogram\n"
            "app_latency_seconds_bucket{le=\"0.1\"} 1\n"
            "app_latency_seconds_bucket{le=\"1\"} 2\n"
            "app_latency_seconds_bucket{le=\"+Inf\"} 3\n"
            "app_latency_seconds_sum 7.55\n"
            "app_latency_seconds_count 3\n"
            "# HELP app_requests_total Requests served.\n"
            "# TYPE app_requests_total counter\n"
            "app_requests_total{route=\"GET /health\",code=\"200\"} 1\n"
            "app_requests_total{route=\"POST /predict\",code=\"200\"} 3\n");
  EXPECT_EQ(kTextContentType, "text/plain; version=0.0.4; charset=utf-8");
}

TEST(MetricsRegistry, RenderingParsesBackWithTypesHelpAndValues) {
  Registry registry;
  auto& requests =
      registry.counter("nbo_http_requests_total", "HTTP requests.\nBy route.", {"route", "code"});
  auto& rows = registry.gauge("nbo_store_rows", "Rows per table.", {"table"});
  auto& latency = registry.histogram("nbo_http_request_duration_seconds", "Latency.", {"route"},
                                     default_latency_buckets());
  registry.counter("nbo_unused_total", "Never incremented.", {"x"});  // no children yet
  requests.with({"POST /predict", "200"}).inc(2.5);
  requests.with({"POST /predict", "422"}).inc();
  rows.with({"customers"}).set(1300);
  rows.with({"events"}).set(-1.25);
  latency.with({"POST /predict"}).observe(0.0003);

  const PrometheusText parsed = parse_prometheus_text(registry.render());
  EXPECT_EQ(parsed.type_of("nbo_http_requests_total"), "counter");
  EXPECT_EQ(parsed.type_of("nbo_store_rows"), "gauge");
  EXPECT_EQ(parsed.type_of("nbo_http_request_duration_seconds"), "histogram");
  EXPECT_EQ(parsed.type_of("nbo_unused_total"), "counter");
  EXPECT_EQ(parsed.help_of("nbo_http_requests_total"), "HTTP requests.\nBy route.");
  EXPECT_EQ(parsed.value("nbo_http_requests_total", {{"route", "POST /predict"}, {"code", "200"}}),
            2.5);
  EXPECT_EQ(parsed.value("nbo_http_requests_total", {{"route", "POST /predict"}, {"code", "422"}}),
            1.0);
  EXPECT_EQ(parsed.value("nbo_store_rows", {{"table", "customers"}}), 1300.0);
  EXPECT_EQ(parsed.value("nbo_store_rows", {{"table", "events"}}), -1.25);
  EXPECT_EQ(parsed.value("nbo_http_request_duration_seconds_count", {{"route", "POST /predict"}}),
            1.0);
  EXPECT_EQ(parsed.value("nbo_http_request_duration_seconds_sum", {{"route", "POST /predict"}}),
            0.0003);
  EXPECT_TRUE(parsed.samples("nbo_unused_total").empty());
}

TEST(MetricsRegistry, HistogramBucketsAreCumulativeWithInfEqualToCount) {
  Registry registry;
  const std::vector<double> bounds = default_latency_buckets();
  auto& family = registry.histogram("h_seconds", "h", {"route"}, bounds);
  Histogram& h = family.with({"r"});
  // Boundary values land in their own bucket (le is inclusive), negatives in the first.
  const std::vector<double> observations = {0.00005, 0.0001, 0.0001, 0.0002, 0.001, 0.003,
                                            0.3,     1.0,    2.5,    2.6,    100,   -1};
  double expected_sum = 0;
  for (const double v : observations) {
    h.observe(v);
    expected_sum += v;
  }
  h.observe(std::numeric_limits<double>::quiet_NaN());  // ignored

  const PrometheusText parsed = parse_prometheus_text(registry.render());
  const auto buckets = parsed.buckets("h_seconds", {{"route", "r"}});
  ASSERT_EQ(buckets.size(), bounds.size() + 1);
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    EXPECT_EQ(buckets[i].first, bounds[i]);
    double expected = 0;
    for (const double v : observations) expected += v <= bounds[i] ? 1 : 0;
    EXPECT_EQ(buckets[i].second, expected) << "le=" << bounds[i];
    if (i > 0) {
      EXPECT_GE(buckets[i].second, buckets[i - 1].second);
    }
  }
  EXPECT_TRUE(std::isinf(buckets.back().first));
  EXPECT_EQ(buckets.back().second, static_cast<double>(observations.size()));
  EXPECT_EQ(parsed.value("h_seconds_count", {{"route", "r"}}), buckets.back().second);
  EXPECT_DOUBLE_EQ(*parsed.value("h_seconds_sum", {{"route", "r"}}), expected_sum);

  const Histogram::Snapshot snap = h.snapshot();
  EXPECT_EQ(snap.count, observations.size());
  EXPECT_EQ(snap.cumulative_counts.back(), snap.count);
  EXPECT_EQ(snap.cumulative_counts[0], 4u);  // -1, 0.00005, 0.0001, 0.0001
}

TEST(MetricsRegistry, LabelValuesAreEscapedAndRoundTrip) {
  Registry registry;
  auto& family = registry.counter("odd_labels_total", "Help with \\ backslash.", {"v"});
  const std::vector<std::string> values = {
      "back\\slash", "quote\"d", "new\nline", "all\\\"\n\\n mixed", "Привет", "", "{x=\"y\"} 1"};
  for (std::size_t i = 0; i < values.size(); ++i) {
    family.with({values[i]}).inc(static_cast<double>(i + 1));
  }
  family.with({"bad\xff utf8"}).inc(100);
  const std::string text = registry.render();
  const PrometheusText parsed = parse_prometheus_text(text);
  for (std::size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(parsed.value("odd_labels_total", {{"v", values[i]}}), static_cast<double>(i + 1))
        << values[i];
  }
  EXPECT_EQ(parsed.value("odd_labels_total", {{"v", "bad\xEF\xBF\xBD utf8"}}), 100.0);
  EXPECT_EQ(parsed.help_of("odd_labels_total"), "Help with \\ backslash.");
  EXPECT_NE(text.find("v=\"all\\\\\\\"\\n\\\\n mixed\""), std::string::npos) << text;
}

TEST(MetricsRegistry, FamiliesAndChildrenAreSortedAndRenderingIsDeterministic) {
  Registry registry;
  registry.gauge("zz", "z").with({}).set(1);
  auto& family = registry.gauge("mm", "m", {"a", "b"});
  family.with({"y", "1"}).set(1);
  family.with({"x", "2"}).set(2);
  family.with({"x", "10"}).set(3);
  registry.gauge("aa", "a").with({}).set(1);
  const std::string text = registry.render();
  EXPECT_LT(text.find("# HELP aa"), text.find("# HELP mm"));
  EXPECT_LT(text.find("# HELP mm"), text.find("# HELP zz"));
  const auto samples = parse_prometheus_text(text).samples("mm");
  ASSERT_EQ(samples.size(), 3u);
  EXPECT_EQ(samples[0].labels, (test::PrometheusLabels{{"a", "x"}, {"b", "10"}}));
  EXPECT_EQ(samples[1].labels, (test::PrometheusLabels{{"a", "x"}, {"b", "2"}}));
  EXPECT_EQ(samples[2].labels, (test::PrometheusLabels{{"a", "y"}, {"b", "1"}}));
  EXPECT_EQ(registry.render(), text);
}

TEST(MetricsRegistry, WithReturnsStableReferences) {
  Registry registry;
  auto& family = registry.counter("c_total", "c", {"k"});
  Counter& first = family.with({"a"});
  for (int i = 0; i < 1000; ++i) family.with({"key" + std::to_string(i)});
  EXPECT_EQ(&family.with({"a"}), &first);
  auto& unlabelled = registry.gauge("g", "g");
  EXPECT_EQ(&unlabelled.with({}), &unlabelled.with({}));
}

TEST(MetricsRegistry, GaugeAndCounterOperations) {
  Registry registry;
  Gauge& g = registry.gauge("g", "g").with({});
  g.set(5);
  g.inc();
  g.inc(2.5);
  g.dec(0.5);
  g.dec();
  EXPECT_EQ(g.value(), 7.0);
  g.set_to_current_time();
  EXPECT_GT(g.value(), 1.6e9);
  Counter& c = registry.counter("c_total", "c").with({});
  c.inc();
  c.inc(0.5);
  c.inc(0);
  EXPECT_EQ(c.value(), 1.5);
  EXPECT_THROW(c.inc(-1), std::invalid_argument);
  EXPECT_THROW(c.inc(std::numeric_limits<double>::quiet_NaN()), std::invalid_argument);
  EXPECT_EQ(c.value(), 1.5);
}

TEST(MetricsRegistry, RejectsInvalidNamesNamingTheMetric) {
  Registry registry;
  expect_invalid([&] { registry.counter("1bad_total", "x"); }, "1bad_total");
  expect_invalid([&] { registry.gauge("bad-name", "x"); }, "bad-name");
  expect_invalid([&] { registry.gauge("", "x"); }, "invalid metric name");
  expect_invalid([&] { registry.gauge("sp ace", "x"); }, "sp ace");
  expect_invalid([&] { registry.counter("requests", "x"); }, "_total");
  expect_invalid([&] { registry.gauge("g1", "x", {"bad-label"}); }, "g1");
  expect_invalid([&] { registry.gauge("g2", "x", {"__reserved"}); }, "__reserved");
  expect_invalid([&] { registry.gauge("g3", "x", {"9a"}); }, "9a");
  expect_invalid([&] { registry.gauge("g4", "x", {"a", "a"}); }, "duplicate label");
  expect_invalid([&] { registry.histogram("h1", "x", {"le"}, {1}); }, "'le'");
  expect_invalid([&] { registry.histogram("h2", "x", {}, {2, 1}); }, "h2");
  expect_invalid([&] { registry.histogram("h3", "x", {}, {1, 1}); }, "increasing");
  expect_invalid([&] { registry.histogram("h4", "x", {}, {std::nan("")}); }, "finite");
  expect_invalid([&] { registry.histogram("h5", "x", {}, {-INFINITY, 1}); }, "finite");
  expect_invalid([&] { registry.gauge_callback("cb", "x", {}); }, "cb");
  expect_invalid([&] { registry.counter_callback("cb_count", "x", [] { return 1.0; }); }, "_total");
  // Nothing half-registered: every name above is still free.
  EXPECT_NO_THROW(registry.gauge("g1", "x"));
  EXPECT_NO_THROW(registry.histogram("h2", "x", {}, {1, 2, INFINITY}));  // +Inf is implicit
  EXPECT_NO_THROW(registry.histogram("h_empty", "x", {}, {}));
  EXPECT_NO_THROW(parse_prometheus_text(registry.render()));
}

TEST(MetricsRegistry, RejectsWrongNumberOfLabelValues) {
  Registry registry;
  auto& family = registry.counter("lv_total", "x", {"a", "b"});
  expect_invalid([&] { family.with({"only one"}); }, "lv_total");
  expect_invalid([&] { family.with({"1", "2", "3"}); }, "expected 2");
  auto& plain = registry.gauge("plain", "x");
  expect_invalid([&] { plain.with({"x"}); }, "plain");
}

TEST(MetricsRegistry, RejectsDuplicateAndClashingRegistrations) {
  Registry registry;
  registry.counter("dup_total", "x");
  expect_invalid([&] { registry.counter("dup_total", "y"); }, "dup_total");
  expect_invalid([&] { registry.gauge("dup_total", "y"); }, "dup_total");
  expect_invalid([&] { registry.gauge_callback("dup_total", "y", [] { return 1.0; }); },
                 "dup_total");
  registry.histogram("lat_seconds", "x", {}, {1});
  expect_invalid([&] { registry.gauge("lat_seconds_count", "y"); }, "lat_seconds_count");
  expect_invalid([&] { registry.gauge("lat_seconds_bucket", "y"); }, "lat_seconds_bucket");
  registry.gauge("q_sum", "x");
  expect_invalid([&] { registry.histogram("q", "y", {}, {1}); }, "q_sum");
  EXPECT_NO_THROW(parse_prometheus_text(registry.render()));
}

TEST(MetricsRegistry, ConcurrentIncrementsSumExactly) {
  Registry registry;
  Counter& counter = registry.counter("hits_total", "x").with({});
  auto& family = registry.counter("by_thread_total", "x", {"shard"});
  Gauge& gauge = registry.gauge("level", "x").with({});
  Histogram& histogram = registry.histogram("obs_seconds", "x", {}, {0.5}).with({});
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Counter& shard = family.with({std::to_string(t % 2)});
      for (int i = 0; i < kPerThread; ++i) {
        counter.inc();
        shard.inc();
        gauge.inc();
        histogram.observe((i % 2 == 0) ? 0.25 : 1.0);
        if (i % 1000 == 0) family.with({"contended"}).inc();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const PrometheusText parsed = parse_prometheus_text(registry.render());
  EXPECT_EQ(parsed.value("hits_total"), kThreads * kPerThread);
  EXPECT_EQ(parsed.value("by_thread_total", {{"shard", "0"}}), 2 * kPerThread);
  EXPECT_EQ(parsed.value("by_thread_total", {{"shard", "1"}}), 2 * kPerThread);
  EXPECT_EQ(parsed.value("by_thread_total", {{"shard", "contended"}}), kThreads * 100);
  EXPECT_EQ(parsed.value("level"), kThreads * kPerThread);
  EXPECT_EQ(parsed.value("obs_seconds_count"), kThreads * kPerThread);
  EXPECT_EQ(parsed.value("obs_seconds_bucket", {{"le", "0.5"}}), kThreads * kPerThread / 2);
  EXPECT_EQ(parsed.value("obs_seconds_sum"), kThreads * kPerThread / 2 * 1.25);
}

TEST(MetricsRegistry, RenderingWhileUpdatingAlwaysParses) {
  Registry registry;
  auto& family = registry.histogram("busy_seconds", "x", {"worker"}, default_latency_buckets());
  auto& counters = registry.counter("busy_total", "x", {"worker"});
  constexpr int kWriters = 2;
  constexpr int kPerWriter = 10000;
  std::atomic<int> finished{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < kWriters; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kPerWriter; ++i) {
        const std::string worker = std::to_string((t * 7 + i) % 20);  // children appear live
        family.with({worker}).observe(static_cast<double>(i % 1000) * 0.001);
        counters.with({worker}).inc();
        if (i % 64 == 0) std::this_thread::yield();  // let the renderer run on small machines
      }
      ++finished;
    });
  }
  int renders = 0;
  while (finished.load() < kWriters || renders < 5) {
    ASSERT_NO_THROW(parse_prometheus_text(registry.render())) << "render " << renders;
    ++renders;
  }
  for (auto& writer : writers) writer.join();
  const PrometheusText parsed = parse_prometheus_text(registry.render());
  double observed = 0;
  double counted = 0;
  for (const auto& sample : parsed.samples("busy_seconds_count")) observed += sample.value;
  for (const auto& sample : parsed.samples("busy_total")) counted += sample.value;
  EXPECT_EQ(observed, kWriters * kPerWriter);
  EXPECT_EQ(counted, kWriters * kPerWriter);
}

TEST(MetricsRegistry, CallbackMetricsAreReadAtRenderTime) {
  Registry registry;
  std::atomic<int> depth{3};
  std::atomic<int> calls{0};
  registry.gauge_callback("queue_depth", "Queue depth.", [&] {
    ++calls;
    return static_cast<double>(depth.load());
  });
  double dropped = 10;
  registry.counter_callback("rows_dropped_total", "Rows dropped.", [&] { return dropped; });
  EXPECT_EQ(calls.load(), 0);  // not read at registration
  PrometheusText parsed = parse_prometheus_text(registry.render());
  EXPECT_EQ(parsed.type_of("queue_depth"), "gauge");
  EXPECT_EQ(parsed.type_of("rows_dropped_total"), "counter");
  EXPECT_EQ(parsed.value("queue_depth"), 3.0);
  EXPECT_EQ(parsed.value("rows_dropped_total"), 10.0);
  depth = 17;
  dropped = 12;
  parsed = parse_prometheus_text(registry.render());
  EXPECT_EQ(parsed.value("queue_depth"), 17.0);
  EXPECT_EQ(parsed.value("rows_dropped_total"), 12.0);
  EXPECT_EQ(calls.load(), 2);

  // Removal: the callback is never called again and the name is free once more.
  EXPECT_TRUE(registry.remove_callback("queue_depth"));
  EXPECT_FALSE(registry.remove_callback("queue_depth"));
  EXPECT_FALSE(registry.remove_callback("rows_dropped_total_x"));
  parsed = parse_prometheus_text(registry.render());
  EXPECT_EQ(parsed.type_of("queue_depth"), "");
  EXPECT_EQ(calls.load(), 2);
  EXPECT_NO_THROW(registry.gauge("queue_depth", "now an ordinary gauge"));
  EXPECT_FALSE(registry.remove_callback("queue_depth"));  // ordinary families stay
}

TEST(MetricsRegistry, FailingCallbacksAreLeftOutWithoutFailingTheScrape) {
  Registry registry;
  registry.gauge_callback("throws", "x", []() -> double { throw std::runtime_error("boom"); });
  registry.counter_callback("negative_total", "x", [] { return -1.0; });
  registry.counter_callback("nan_total", "x", [] { return std::nan(""); });
  registry.gauge_callback("nan_gauge", "x", [] { return std::nan(""); });
  registry.gauge_callback("uses_registry", "x", [&] {
    // Callbacks run without the registry lock, so they may use the registry.
    return registry.gauge("registered_from_callback", "x").with({}).value() + 1;
  });
  const PrometheusText parsed = parse_prometheus_text(registry.render());
  EXPECT_EQ(parsed.type_of("throws"), "gauge");
  EXPECT_EQ(parsed.value("throws"), std::nullopt);
  EXPECT_EQ(parsed.value("negative_total"), std::nullopt);
  EXPECT_EQ(parsed.value("nan_total"), std::nullopt);
  EXPECT_TRUE(std::isnan(*parsed.value("nan_gauge")));
  EXPECT_EQ(parsed.value("uses_registry"), 1.0);
}

TEST(MetricsRegistry, DefaultLatencyBucketsCoverMicroserviceLatencies) {
  const std::vector<double> bounds = default_latency_buckets();
  ASSERT_FALSE(bounds.empty());
  for (std::size_t i = 1; i < bounds.size(); ++i) EXPECT_LT(bounds[i - 1], bounds[i]);
  EXPECT_LE(bounds.front(), 0.0001);  // 100 µs
  EXPECT_GE(bounds.back(), 1.0);      // 1 s
  EXPECT_NO_THROW(Histogram{bounds});
}

TEST(MetricsRegistry, ScopedTimerObservesSeconds) {
  Histogram histogram({0.5, 10});
  { ScopedTimer timer(histogram); }
  ScopedTimer timer(histogram);
  const double elapsed = timer.stop();
  EXPECT_GE(elapsed, 0.0);
  EXPECT_LT(elapsed, 0.5);
  EXPECT_EQ(timer.stop(), 0.0);  // only once
  const Histogram::Snapshot snap = histogram.snapshot();
  EXPECT_EQ(snap.count, 2u);
  EXPECT_EQ(snap.cumulative_counts[0], 2u);  // both well under 0.5 s
}

}  // namespace
}  // namespace nbo::metrics
