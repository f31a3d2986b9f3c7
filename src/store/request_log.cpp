#include "nbo/store/request_log.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace nbo::store {

namespace {

RequestLogOptions sanitized(RequestLogOptions options) {
  options.max_batch = std::max<std::size_t>(options.max_batch, 1);
  options.flush_interval = std::max(options.flush_interval, std::chrono::milliseconds(1));
  return options;
}

Statement prepare_insert(Database& db) {
  try {
    return db.prepare(
        "INSERT INTO request_log(request_id, received_at, route, customer_id, model_name, "
        "model_version, input, output, status, latency_ms) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  } catch (const StoreError& e) {
    throw StoreError(std::string(e.what()) + " (have the migrations been applied?)", e.code());
  }
}

bool is_one_or_power_of_ten(std::uint64_t n) {
  while (n >= 10 && n % 10 == 0) n /= 10;
  return n == 1;
}

}  // namespace

RequestLogWriter::RequestLogWriter(const std::filesystem::path& db_file, RequestLogOptions options)
    : options_(sanitized(std::move(options))),
      db_(Database::open(db_file, options_.open)),
      insert_(prepare_insert(db_)) {
  if (options_.autostart) start();
}

RequestLogWriter::~RequestLogWriter() {
  stop();
}

void RequestLogWriter::start() {
  const std::lock_guard lifecycle(lifecycle_mutex_);
  if (finished_) throw std::logic_error("RequestLogWriter::start() after stop()");
  if (started_) return;
  {
    const std::lock_guard lock(mutex_);
    running_ = true;
  }
  try {
    thread_ = std::thread([this] { run(); });
  } catch (...) {
    const std::lock_guard lock(mutex_);
    running_ = false;
    throw;
  }
  started_ = true;
}

bool RequestLogWriter::enqueue(RequestLogEntry entry) {
  bool accepted = false;
  bool wake = false;
  {
    const std::lock_guard lock(mutex_);
    if (!stopping_ && queue_.size() < options_.capacity) {
      queue_.push_back(std::move(entry));
      ++pushed_;
      depth_.store(queue_.size(), std::memory_order_relaxed);
      accepted = true;
      wake = running_ && queue_.size() >= options_.max_batch;
    }
  }
  if (!accepted) {
    count_drop();
    return false;
  }
  if (wake) wake_writer_.notify_one();
  return true;
}

void RequestLogWriter::count_drop() noexcept {
  const std::uint64_t total = dropped_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (is_one_or_power_of_ten(total)) {
    spdlog::warn(
        "store: request log for {} is full or stopped (capacity {}): {} rows dropped so far",
        db_.path().string(), options_.capacity, total);
  }
}

void RequestLogWriter::flush() {
  std::unique_lock lock(mutex_);
  if (!running_ && !stopping_) {
    throw std::logic_error("RequestLogWriter::flush() before start(): it would wait forever");
  }
  const std::uint64_t target = pushed_;
  if (done_ >= target) return;
  ++flush_waiters_;
  wake_writer_.notify_one();
  batch_done_.wait(lock, [&] { return done_ >= target || !running_; });
  --flush_waiters_;
}

void RequestLogWriter::stop() noexcept {
  const std::lock_guard lifecycle(lifecycle_mutex_);
  if (finished_) return;
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
    running_ = true;  // this call (or the thread) drains; flush() waits for it
  }
  wake_writer_.notify_all();
  if (started_) {
    thread_.join();
  } else {
    std::vector<RequestLogEntry> batch;
    while (take_batch(batch)) write_batch(batch);
  }
  {
    const std::lock_guard lock(mutex_);
    running_ = false;
  }
  batch_done_.notify_all();
  finished_ = true;
}

bool RequestLogWriter::take_batch(std::vector<RequestLogEntry>& batch) {
  const std::lock_guard lock(mutex_);
  if (queue_.empty()) return false;
  const std::size_t n = std::min(queue_.size(), options_.max_batch);
  for (std::size_t i = 0; i < n; ++i) {
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  depth_.store(queue_.size(), std::memory_order_relaxed);
  return true;
}

void RequestLogWriter::run() noexcept {
  std::vector<RequestLogEntry> batch;
  batch.reserve(options_.max_batch);
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_writer_.wait_for(lock, options_.flush_interval, [&] {
        return stopping_ || queue_.size() >= options_.max_batch ||
               (flush_waiters_ > 0 && !queue_.empty());
      });
      if (stopping_ && queue_.empty()) return;
    }
    // Whatever woke us (full batch, timer, flush, stop): write until the queue is empty.
    while (take_batch(batch)) write_batch(batch);
  }
}

void RequestLogWriter::write_batch(std::vector<RequestLogEntry>& batch) noexcept {
  std::uint64_t written = 0;
  std::uint64_t failed = 0;
  try {
    Transaction tx(db_);
    for (const RequestLogEntry& e : batch) {
      try {
        insert_.bind(1, e.request_id)
            .bind(2, e.received_at)
            .bind(3, e.route)
            .bind_text_or_null(4, e.customer_id)
            .bind_text_or_null(5, e.model_name)
            .bind_text_or_null(6, e.model_version)
            .bind_text_or_null(7, e.input)
            .bind_text_or_null(8, e.output)
            .bind(9, e.status)
            .bind(10, e.latency_ms);
        insert_.step();
        insert_.reset();
        ++written;
      } catch (const std::exception& row_error) {
        insert_.reset();
        // Errors such as SQLITE_FULL or SQLITE_IOERR end the whole transaction: fail the batch.
        if (!db_.in_transaction()) throw;
        // A statement-level error (a constraint, an oversized value) loses only this row.
        ++failed;
        spdlog::error("store: request log row for request {} not written: {}", e.request_id,
                      row_error.what());
      }
    }
    tx.commit();
  } catch (const std::exception& batch_error) {
    insert_.reset();
    failed = batch.size();
    written = 0;
    spdlog::error("store: request log batch of {} rows lost: {}", batch.size(), batch_error.what());
  }
  written_.fetch_add(written, std::memory_order_relaxed);
  write_errors_.fetch_add(failed, std::memory_order_relaxed);
  const std::uint64_t n = batch.size();
  batch.clear();
  {
    const std::lock_guard lock(mutex_);
    done_ += n;
  }
  batch_done_.notify_all();
}

}  // namespace nbo::store
