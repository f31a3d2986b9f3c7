#include "nbo/metrics/registry.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <stdexcept>
#include <utility>

namespace nbo::metrics {
namespace {

[[noreturn]] void fail(std::string_view metric, std::string_view problem) {
  std::string message = "metric '";
  message += metric;
  message += "': ";
  message += problem;
  throw std::invalid_argument(message);
}

std::vector<double> checked_bounds(std::string_view metric, std::vector<double> bounds) {
  if (!bounds.empty() && std::isinf(bounds.back()) && bounds.back() > 0) bounds.pop_back();
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) {
      fail(metric, "histogram bucket bounds must be finite (+Inf is implicit)");
    }
    if (i > 0 && !(bounds[i - 1] < bounds[i])) {
      fail(metric, "histogram bucket bounds must be strictly increasing");
    }
  }
  return bounds;
}

}  // namespace

std::vector<double> default_latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
          0.025,  0.05,    0.1,    0.25,  0.5,    1.0,   2.5};
}

// ---------------------------------------------------------------------------------------------
// Counter, Gauge, Histogram

void Counter::inc(double amount) {
  if (!(amount >= 0.0)) {  // negative or NaN
    throw std::invalid_argument("counter increment must be non-negative and not NaN");
  }
  value_.fetch_add(amount, std::memory_order_relaxed);
}

void Gauge::set_to_current_time() noexcept {
  const auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  set(std::chrono::duration<double>(since_epoch).count());
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(checked_bounds("histogram", std::move(bounds))),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    buckets_[i].store(0, std::memory_order_relaxed);
  }
}

void Histogram::observe(double value) noexcept {
  if (std::isnan(value)) return;
  // First bound >= value, i.e. the first bucket whose "le" holds value; end() means +Inf.
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
  const auto index = static_cast<std::size_t>(it - bounds_.begin());
  buckets_[index].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snapshot;
  snapshot.bounds = bounds_;
  snapshot.cumulative_counts.resize(bounds_.size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    snapshot.cumulative_counts[i] = running;
  }
  snapshot.count = running;
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

double ScopedTimer::stop() noexcept {
  if (histogram_ == nullptr) return 0.0;
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start_;
  histogram_->observe(elapsed.count());
  histogram_ = nullptr;
  return elapsed.count();
}

// ---------------------------------------------------------------------------------------------
// Families

namespace detail {

FamilyBase::FamilyBase(std::string name, std::string help, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {
  if (!is_valid_metric_name(name_)) {
    fail(name_, "invalid metric name (must match [a-zA-Z_:][a-zA-Z0-9_:]*)");
  }
  for (std::size_t i = 0; i < label_names_.size(); ++i) {
    const std::string& label = label_names_[i];
    if (!is_valid_label_name(label)) {
      fail(name_, "invalid label name '" + label +
                      "' (must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __)");
    }
    if (std::find(label_names_.begin(), label_names_.begin() + static_cast<std::ptrdiff_t>(i),
                  label) != label_names_.begin() + static_cast<std::ptrdiff_t>(i)) {
      fail(name_, "duplicate label name '" + label + "'");
    }
  }
}

std::vector<std::string> FamilyBase::checked_key(
    const std::vector<std::string>& label_values) const {
  if (label_values.size() != label_names_.size()) {
    fail(name_, "expected " + std::to_string(label_names_.size()) + " label value(s), got " +
                    std::to_string(label_values.size()));
  }
  std::vector<std::string> key;
  key.reserve(label_values.size());
  for (const std::string& value : label_values) key.push_back(sanitize_utf8(value));
  return key;
}

void FamilyBase::append_header(std::string& out, std::string_view type) const {
  out += "# HELP ";
  out += name_;
  out += ' ';
  out += escape_help(help_);
  out += "\n# TYPE ";
  out += name_;
  out += ' ';
  out += type;
  out += '\n';
}

void FamilyBase::append_sample(std::string& out, std::string_view sample_name,
                               const std::vector<std::string>& label_values, double value,
                               std::string_view extra_label, std::string_view extra_value) const {
  out += sample_name;
  if (!label_values.empty() || !extra_label.empty()) {
    out += '{';
    bool first = true;
    const auto append_label = [&](std::string_view label, std::string_view label_value) {
      if (!first) out += ',';
      first = false;
      out += label;
      out += "=\"";
      out += escape_label_value(label_value);
      out += '"';
    };
    for (std::size_t i = 0; i < label_values.size(); ++i) {
      append_label(label_names_[i], label_values[i]);
    }
    if (!extra_label.empty()) append_label(extra_label, extra_value);
    out += '}';
  }
  out += ' ';
  append_value(out, value);
  out += '\n';
}

}  // namespace detail

CounterFamily::CounterFamily(std::string name, std::string help,
                             std::vector<std::string> label_names)
    : FamilyBase(std::move(name), std::move(help), std::move(label_names)) {
  if (!this->name().ends_with("_total")) fail(this->name(), "counter names must end in _total");
  if (this->label_names().empty()) with({});
}

Counter& CounterFamily::with(const std::vector<std::string>& label_values) {
  return children_.get_or_create(checked_key(label_values),
                                 [] { return std::make_unique<Counter>(); });
}

void CounterFamily::render(std::string& out) const {
  append_header(out, "counter");
  children_.for_each([&](const std::vector<std::string>& key, const Counter& child) {
    append_sample(out, name(), key, child.value());
  });
}

GaugeFamily::GaugeFamily(std::string name, std::string help, std::vector<std::string> label_names)
    : FamilyBase(std::move(name), std::move(help), std::move(label_names)) {
  if (this->label_names().empty()) with({});
}

Gauge& GaugeFamily::with(const std::vector<std::string>& label_values) {
  return children_.get_or_create(checked_key(label_values),
                                 [] { return std::make_unique<Gauge>(); });
}

void GaugeFamily::render(std::string& out) const {
  append_header(out, "gauge");
  children_.for_each([&](const std::vector<std::string>& key, const Gauge& child) {
    append_sample(out, name(), key, child.value());
  });
}

HistogramFamily::HistogramFamily(std::string name, std::string help,
                                 std::vector<std::string> label_names, std::vector<double> bounds)
    : FamilyBase(std::move(name), std::move(help), std::move(label_names)),
      bounds_(checked_bounds(this->name(), std::move(bounds))) {
  for (const std::string& label : this->label_names()) {
    if (label == "le") fail(this->name(), "label name 'le' is reserved in histograms");
  }
  if (this->label_names().empty()) with({});
}

Histogram& HistogramFamily::with(const std::vector<std::string>& label_values) {
  return children_.get_or_create(checked_key(label_values),
                                 [this] { return std::make_unique<Histogram>(bounds_); });
}

void HistogramFamily::render(std::string& out) const {
  append_header(out, "histogram");
  const std::string bucket_name = name() + "_bucket";
  const std::string sum_name = name() + "_sum";
  const std::string count_name = name() + "_count";
  children_.for_each([&](const std::vector<std::string>& key, const Histogram& child) {
    const Histogram::Snapshot snap = child.snapshot();
    for (std::size_t i = 0; i < snap.bounds.size(); ++i) {
      append_sample(out, bucket_name, key, static_cast<double>(snap.cumulative_counts[i]), "le",
                    format_value(snap.bounds[i]));
    }
    append_sample(out, bucket_name, key, static_cast<double>(snap.count), "le", "+Inf");
    append_sample(out, sum_name, key, snap.sum);
    append_sample(out, count_name, key, static_cast<double>(snap.count));
  });
}

// ---------------------------------------------------------------------------------------------
// Registry

// An unlabelled gauge or counter whose value comes from a callback at render time.
class Registry::CallbackFamily final : public detail::FamilyBase {
 public:
  CallbackFamily(std::string name, std::string help, std::function<double()> read, bool is_counter)
      : FamilyBase(std::move(name), std::move(help), {}),
        read_(std::move(read)),
        is_counter_(is_counter) {
    if (!read_) fail(this->name(), "callback must not be empty");
    if (is_counter_ && !this->name().ends_with("_total")) {
      fail(this->name(), "counter names must end in _total");
    }
  }

  void render(std::string& out) const override {
    append_header(out, is_counter_ ? "counter" : "gauge");
    double value = 0.0;
    {
      // Held while reading so that disable() waits for a running read to finish.
      std::lock_guard lock(read_mutex_);
      if (!read_) return;
      try {
        value = read_();
      } catch (...) {
        return;  // documented: a failing read leaves the sample out
      }
    }
    if (is_counter_ && !(value >= 0.0)) return;  // negative or NaN: not a valid counter
    append_sample(out, name(), {}, value);
  }

  void disable() {
    std::lock_guard lock(read_mutex_);
    read_ = nullptr;
  }

 private:
  mutable std::mutex read_mutex_;
  std::function<double()> read_;
  bool is_counter_;
};

Registry::Registry() = default;
Registry::~Registry() = default;

template <typename Family, typename... Args>
Family& Registry::add(std::vector<std::string> sample_names, Args&&... args) {
  // Construct (and so validate) outside the lock; families without labels create their
  // child in the constructor, which is cheap.
  auto family = std::make_shared<Family>(std::forward<Args>(args)...);
  std::lock_guard lock(mutex_);
  for (const std::string& sample_name : sample_names) {
    if (taken_names_.contains(sample_name)) {
      fail(family->name(), "already registered, or clashes with the samples of '" + sample_name +
                               "' rendered by another metric");
    }
  }
  taken_names_.insert(sample_names.begin(), sample_names.end());
  Family& result = *family;
  families_.emplace(family->name(), std::move(family));
  return result;
}

CounterFamily& Registry::counter(std::string name, std::string help,
                                 std::vector<std::string> label_names) {
  std::vector<std::string> samples{name};
  return add<CounterFamily>(std::move(samples), std::move(name), std::move(help),
                            std::move(label_names));
}

GaugeFamily& Registry::gauge(std::string name, std::string help,
                             std::vector<std::string> label_names) {
  std::vector<std::string> samples{name};
  return add<GaugeFamily>(std::move(samples), std::move(name), std::move(help),
                          std::move(label_names));
}

HistogramFamily& Registry::histogram(std::string name, std::string help,
                                     std::vector<std::string> label_names,
                                     std::vector<double> bucket_bounds) {
  std::vector<std::string> samples{name, name + "_bucket", name + "_sum", name + "_count"};
  return add<HistogramFamily>(std::move(samples), std::move(name), std::move(help),
                              std::move(label_names), std::move(bucket_bounds));
}

void Registry::add_callback(std::string name, std::string help, std::function<double()> read,
                            bool is_counter) {
  std::vector<std::string> samples{name};
  add<CallbackFamily>(std::move(samples), std::move(name), std::move(help), std::move(read),
                      is_counter);
}

void Registry::gauge_callback(std::string name, std::string help, std::function<double()> read) {
  add_callback(std::move(name), std::move(help), std::move(read), false);
}

void Registry::counter_callback(std::string name, std::string help, std::function<double()> read) {
  add_callback(std::move(name), std::move(help), std::move(read), true);
}

bool Registry::remove_callback(std::string_view name) {
  std::shared_ptr<detail::FamilyBase> removed;
  {
    std::lock_guard lock(mutex_);
    const auto it = families_.find(name);
    if (it == families_.end() || dynamic_cast<CallbackFamily*>(it->second.get()) == nullptr) {
      return false;
    }
    removed = std::move(it->second);
    families_.erase(it);
    if (const auto taken = taken_names_.find(name); taken != taken_names_.end()) {
      taken_names_.erase(taken);
    }
  }
  // A render() that copied the family before the erase may still be about to call it; make
  // sure it cannot from now on (waits for a read in progress).
  static_cast<CallbackFamily&>(*removed).disable();
  return true;
}

std::string Registry::render() const {
  std::vector<std::shared_ptr<const detail::FamilyBase>> snapshot;
  {
    std::lock_guard lock(mutex_);
    snapshot.reserve(families_.size());
    for (const auto& [name, family] : families_) snapshot.push_back(family);
  }
  // Rendered without the registry lock: callbacks may use the registry, and registration
  // is not blocked by a slow scrape.
  std::string out;
  out.reserve(snapshot.size() * 256);
  for (const auto& family : snapshot) family->render(out);
  return out;
}

}  // namespace nbo::metrics
