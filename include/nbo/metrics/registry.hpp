// A small Prometheus client: counters, gauges and histograms (optionally labelled), callback
// metrics read at scrape time, and a renderer of the text exposition format 0.0.4.
//
// Usage:
//   nbo::metrics::Registry registry;
//   auto& requests = registry.counter("nbo_http_requests_total", "HTTP requests served.",
//                                     {"route", "code"});
//   auto& latency = registry.histogram("nbo_http_request_duration_seconds",
//                                      "Time to answer an HTTP request.", {"route"},
//                                      nbo::metrics::default_latency_buckets());
//   requests.with({"POST /predict", "200"}).inc();      // look-up + increment
//   nbo::metrics::Histogram& predict = latency.with({"POST /predict"});  // cache this...
//   predict.observe(0.0012);                                             // ...hot path
//   std::string body = registry.render();  // serve with Content-Type kTextContentType
//
// Units: values are plain doubles; by Prometheus convention durations are observed in SECONDS
// (name them *_seconds) and sizes in BYTES. Counter names must end in "_total".
//
// Thread-safety:
//   * Counter, Gauge and Histogram updates are lock-free (relaxed atomics) and may be called
//     from any number of threads. Reads (value(), snapshot()) are safe concurrently with
//     updates; they see each individual update either entirely or not at all.
//   * Family::with() may be called concurrently; it takes a shared lock for the look-up and an
//     exclusive lock only when it creates a child. Returned references stay valid for the
//     lifetime of the Registry (children are never removed or moved), so hot paths should
//     resolve a child once and keep the reference.
//   * Registry registration, remove_callback() and render() are thread-safe with respect to
//     each other and to metric updates. Families are never removed (except callback metrics),
//     so references returned by counter()/gauge()/histogram() stay valid for the Registry's
//     lifetime.
//
// Failure behaviour: invalid metric names, label names, label counts, bucket bounds, negative
// counter increments and duplicate registrations throw std::invalid_argument whose message
// names the metric. render() does not throw except std::bad_alloc (failing callbacks are
// skipped, see gauge_callback()).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "nbo/metrics/text_format.hpp"

namespace nbo::metrics {

// Bucket upper bounds in seconds for request latencies between ~50 µs and a few seconds:
// 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5
// (the +Inf bucket is implicit).
std::vector<double> default_latency_buckets();

// A monotonically increasing total (requests served, rows dropped). Starts at 0.
class Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  // Adds `amount` (default 1). Throws std::invalid_argument if amount is negative or NaN
  // (counters never go down); the counter is then left unchanged. Lock-free.
  void inc(double amount = 1.0);
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A value that goes up and down (in-flight requests, loaded model count). Starts at 0.
class Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  // All lock-free; any double, including NaN and infinities, is accepted.
  void set(double value) noexcept { value_.store(value, std::memory_order_relaxed); }
  void inc(double amount = 1.0) noexcept { value_.fetch_add(amount, std::memory_order_relaxed); }
  void dec(double amount = 1.0) noexcept { value_.fetch_sub(amount, std::memory_order_relaxed); }
  // Sets the gauge to the current Unix time in seconds.
  void set_to_current_time() noexcept;
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Counts observations into buckets with fixed upper bounds ("le", inclusive) plus an implicit
// +Inf bucket, and keeps their sum.
class Histogram {
 public:
  // A consistent-enough copy for rendering and tests. `cumulative_counts[i]` is the number of
  // observations <= bounds[i]; the last element (index bounds.size()) is the +Inf bucket and
  // equals `count`. Under concurrent observe() calls `sum` may lag or lead the buckets by the
  // observations in flight; the buckets and `count` are always mutually consistent.
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<std::uint64_t> cumulative_counts;
    double sum = 0.0;
    std::uint64_t count = 0;
  };

  // `bounds` must be finite and strictly increasing; a trailing +Inf is accepted and dropped
  // (the +Inf bucket always exists); may be empty. Throws std::invalid_argument otherwise.
  explicit Histogram(std::vector<double> bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // Records one observation (e.g. a duration in seconds). Lock-free: a binary search over the
  // bounds, one relaxed atomic increment and one atomic add. NaN observations are ignored.
  void observe(double value) noexcept;

  const std::vector<double>& bounds() const noexcept { return bounds_; }
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  // Non-cumulative per-bucket counts; index bounds_.size() is the +Inf bucket.
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
  std::atomic<double> sum_{0.0};
};

// Observes the time from construction to destruction (or to stop()) in seconds into a
// Histogram. Not thread-safe itself (one owner); the Histogram is.
class ScopedTimer {
 public:
  explicit ScopedTimer(Histogram& histogram) noexcept
      : histogram_(&histogram), start_(std::chrono::steady_clock::now()) {}
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;
  ~ScopedTimer() { stop(); }

  // Observes the elapsed seconds now and returns them; later calls do nothing and return 0.
  double stop() noexcept;

 private:
  Histogram* histogram_;
  std::chrono::steady_clock::time_point start_;
};

namespace detail {

// Name, help and label names shared by every family, plus the rendering hook the Registry
// uses. Not meant to be used directly.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::vector<std::string> label_names);
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const std::string& name() const noexcept { return name_; }
  const std::string& help() const noexcept { return help_; }
  const std::vector<std::string>& label_names() const noexcept { return label_names_; }

  // Appends "# HELP", "# TYPE" and the sample lines of this family to `out`.
  virtual void render(std::string& out) const = 0;

 protected:
  // Throws std::invalid_argument unless label_values.size() == label_names().size(); returns
  // the values with invalid UTF-8 replaced (the key the child is stored under).
  std::vector<std::string> checked_key(const std::vector<std::string>& label_values) const;
  void append_header(std::string& out, std::string_view type) const;
  // Appends `sample_name{labels...,extra_label="extra_value"} value\n`.
  void append_sample(std::string& out, std::string_view sample_name,
                     const std::vector<std::string>& label_values, double value,
                     std::string_view extra_label = {}, std::string_view extra_value = {}) const;

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
};

// Children of one family keyed by label values, created on first use, never removed.
template <typename Child>
class ChildMap {
 public:
  template <typename Factory>
  Child& get_or_create(std::vector<std::string> key, Factory&& make) {
    {
      std::shared_lock lock(mutex_);
      if (auto it = children_.find(key); it != children_.end()) return *it->second;
    }
    std::unique_lock lock(mutex_);
    auto [it, inserted] = children_.try_emplace(std::move(key));
    if (inserted) it->second = make();
    return *it->second;
  }

  // Calls fn(label_values, child) in label-value order, under a shared lock.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    std::shared_lock lock(mutex_);
    for (const auto& [key, child] : children_) fn(key, *child);
  }

 private:
  mutable std::shared_mutex mutex_;
  std::map<std::vector<std::string>, std::unique_ptr<Child>> children_;
};

}  // namespace detail

// A counter family: one Counter per distinct combination of label values.
class CounterFamily final : public detail::FamilyBase {
 public:
  CounterFamily(std::string name, std::string help, std::vector<std::string> label_names);
  // Returns the child for `label_values` (in label_names() order), creating it at 0 on first
  // use. Throws std::invalid_argument when the number of values does not match. Invalid UTF-8
  // in a value is replaced by U+FFFD. The reference is valid for the Registry's lifetime.
  Counter& with(const std::vector<std::string>& label_values);
  void render(std::string& out) const override;

 private:
  detail::ChildMap<Counter> children_;
};

// A gauge family: one Gauge per distinct combination of label values. See CounterFamily.
class GaugeFamily final : public detail::FamilyBase {
 public:
  GaugeFamily(std::string name, std::string help, std::vector<std::string> label_names);
  Gauge& with(const std::vector<std::string>& label_values);
  void render(std::string& out) const override;

 private:
  detail::ChildMap<Gauge> children_;
};

// A histogram family: one Histogram per distinct combination of label values, all with the
// bucket bounds given at registration. See CounterFamily.
class HistogramFamily final : public detail::FamilyBase {
 public:
  HistogramFamily(std::string name, std::string help, std::vector<std::string> label_names,
                  std::vector<double> bounds);
  Histogram& with(const std::vector<std::string>& label_values);
  const std::vector<double>& bounds() const noexcept { return bounds_; }
  void render(std::string& out) const override;

 private:
  std::vector<double> bounds_;
  detail::ChildMap<Histogram> children_;
};

// Owns metric families and renders them. Not copyable or movable (families hand out
// references into it). Typically one per process, created before and destroyed after every
// component that records into it.
class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registers a family. `name` must match [a-zA-Z_:][a-zA-Z0-9_:]*; counter names must end in
  // "_total". Label names must match [a-zA-Z_][a-zA-Z0-9_]*, must not start with "__" nor
  // repeat; "le" is reserved in histograms. A family without labels has its single child
  // created at once, so it renders as 0 before first use. Throws std::invalid_argument naming
  // the metric if a rule is broken, or if the name (or a sample name it renders, e.g. a
  // histogram's <name>_bucket/_sum/_count) is already taken.
  CounterFamily& counter(std::string name, std::string help,
                         std::vector<std::string> label_names = {});
  GaugeFamily& gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  // `bucket_bounds`: see Histogram's constructor; in seconds for durations.
  HistogramFamily& histogram(std::string name, std::string help,
                             std::vector<std::string> label_names,
                             std::vector<double> bucket_bounds);

  // Registers an unlabelled gauge whose value is read by calling `read` at each render(),
  // e.g. the depth of a queue owned by another component. Same naming rules and errors as
  // gauge(); also throws std::invalid_argument if `read` is empty.
  // `read` runs on the rendering thread (possibly several at once, so it must be thread-safe),
  // without any registry lock held (it may itself use the registry). If it throws, that
  // sample is left out of the output (the HELP/TYPE lines remain) and the scrape succeeds.
  void gauge_callback(std::string name, std::string help, std::function<double()> read);
  // Like gauge_callback() for a monotonically increasing total owned elsewhere (e.g. rows
  // dropped); the name must end in "_total". A read that throws, or returns NaN or a negative
  // value, is left out of the output.
  void counter_callback(std::string name, std::string help, std::function<double()> read);
  // Unregisters a callback metric. When it returns, the callback is not running and will not
  // be called again, so the objects it captures may be destroyed. Returns false if no
  // callback metric has that name (ordinary families cannot be removed).
  bool remove_callback(std::string_view name);

  // The text exposition format 0.0.4 (serve with kTextContentType): families sorted by name,
  // children sorted by label values, histograms as cumulative _bucket{le=...} series ending
  // with le="+Inf", then _sum and _count. Deterministic for a given state.
  std::string render() const;

 private:
  class CallbackFamily;
  template <typename Family, typename... Args>
  Family& add(std::vector<std::string> sample_names, Args&&... args);
  void add_callback(std::string name, std::string help, std::function<double()> read,
                    bool is_counter);

  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<detail::FamilyBase>, std::less<>> families_;
  std::set<std::string, std::less<>> taken_names_;  // every sample name families render
};

}  // namespace nbo::metrics
