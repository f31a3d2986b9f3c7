#include "nbo/store/request_log.hpp"

#include <pthread.h>
#include <sched.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace nbo::store {

namespace {

RequestLogOptions sanitized(RequestLogOptions options) {
  options.max_batch = std::max<std::size_t>(options.max_batch, 1);
  options.wake_rows = std::max<std::size_t>(options.wake_rows, 1);
  options.flush_interval = std::max(options.flush_interval, std::chrono::milliseconds(1));
  options.purge_batch = std::max<std::size_t>(options.purge_batch, 1);
  options.purge_interval = std::max(options.purge_interval, std::chrono::milliseconds(1));
  return options;
}

// The statements of the writer's connection (migrations/0006_request_log_by_request.sql).
Statement prepare(Database& db, std::string_view sql) {
  try {
    return db.prepare(sql);
  } catch (const StoreError& e) {
    throw StoreError(std::string(e.what()) + " (have the migrations been applied?)", e.code());
  }
}

// Whether two queued rows are customers of one request: rows of one request are queued
// together (enqueue() takes a request's rows at once) and share these fields.
bool same_request(const RequestLogEntry& a, const RequestLogEntry& b) {
  return a.received_at_ms == b.received_at_ms && a.status == b.status &&
         a.latency_us == b.latency_us && a.request_id == b.request_id && a.route == b.route &&
         a.model_version == b.model_version;
}

bool is_one_or_power_of_ten(std::uint64_t n) {
  while (n >= 10 && n % 10 == 0) n /= 10;
  return n == 1;
}

}  // namespace

std::size_t RequestLogEntry::queued_bytes() const noexcept {
  return sizeof(RequestLogEntry) + request_id.capacity() + route.capacity() +
         customer_id.capacity() + model_version.capacity() + band.capacity() + input.capacity();
}

RequestLogWriter::RequestLogWriter(const std::filesystem::path& db_file, RequestLogOptions options)
    : options_(sanitized(std::move(options))),
      db_(Database::open(db_file, options_.open)),
      next_ids_(prepare(db_,
                        "SELECT (SELECT COALESCE(MAX(id), 0) FROM request_log_requests), "
                        "(SELECT COALESCE(MAX(id), 0) FROM request_log_customers)")),
      insert_request_(prepare(
          db_,
          "INSERT INTO request_log_requests(id, request_id, received_at_ms, route, model_version, "
          "status, latency_us, first_customer, last_customer) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")),
      insert_customer_(prepare(db_,
                               "INSERT INTO request_log_customers(id, request, customer_id, "
                               "probability, band, input) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")),
      // Of the purge_batch oldest requests (by id: ids grow with time), those received before
      // the cutoff: their customers (a range of ids each), then the requests themselves.
      purge_customers_(prepare(
          db_,
          "DELETE FROM request_log_customers WHERE id IN (SELECT c.id FROM (SELECT first_customer, "
          "last_customer FROM (SELECT first_customer, last_customer, received_at_ms FROM "
          "request_log_requests ORDER BY id LIMIT ?2) WHERE received_at_ms < ?1) r JOIN "
          "request_log_customers c ON c.id BETWEEN r.first_customer AND r.last_customer)")),
      purge_requests_(prepare(
          db_,
          "DELETE FROM request_log_requests WHERE id IN (SELECT id FROM (SELECT id, received_at_ms "
          "FROM request_log_requests ORDER BY id LIMIT ?2) WHERE received_at_ms < ?1)")) {
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
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "nbo-request-log");  // for top -H, perf, /proc
      run();
    });
  } catch (...) {
    const std::lock_guard lock(mutex_);
    running_ = false;
    throw;
  }
  started_ = true;
}

bool RequestLogWriter::enqueue(RequestLogEntry entry) {
  std::vector<RequestLogEntry> one;
  one.push_back(std::move(entry));
  return enqueue(one);
}

bool RequestLogWriter::enqueue(std::vector<RequestLogEntry>& entries) {
  if (entries.empty()) return true;
  std::size_t bytes = 0;
  for (const auto& entry : entries) bytes += entry.queued_bytes();
  bool accepted = false;
  bool wake = false;
  {
    const std::lock_guard lock(mutex_);
    const std::size_t queued = queued_bytes_.load(std::memory_order_relaxed);
    // A batch larger than the whole queue still goes in when the queue is empty, so that
    // the capacity bounds the waiting rows, not the largest request.
    if (!stopping_ && (queued == 0 || queued + bytes <= options_.capacity_bytes)) {
      for (auto& entry : entries) queue_.push_back(std::move(entry));
      pushed_ += entries.size();
      queued_bytes_.store(queued + bytes, std::memory_order_relaxed);
      depth_.store(queue_.size(), std::memory_order_relaxed);
      accepted = true;
      wake = running_ && queue_.size() >= options_.wake_rows;
    }
  }
  if (!accepted) {
    count_refused(entries.size());
    return false;
  }
  if (wake) wake_writer_.notify_one();
  return true;
}

void RequestLogWriter::count_refused(std::size_t rows) noexcept {
  const bool drop = options_.overflow == RequestLogOverflow::kDrop;
  auto& counter = drop ? dropped_ : rejected_;
  const std::uint64_t before = counter.fetch_add(rows, std::memory_order_relaxed);
  // Logged at 1, 10, 100, ... rows so that a long overload does not flood the log.
  for (std::uint64_t total = before + 1; total <= before + rows; ++total) {
    if (!is_one_or_power_of_ten(total)) continue;
    spdlog::warn(
        "store: request log for {} is full or stopped ({} bytes queued of {}): {} rows "
        "{} so far",
        db_.path().string(), queued_bytes_.load(std::memory_order_relaxed), options_.capacity_bytes,
        total, drop ? "dropped" : "refused (answered 503)");
    break;
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
    stopped_.store(true, std::memory_order_relaxed);
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
  std::size_t bytes = 0;
  // Up to max_batch rows (at least 1), then the rest of the last row's request: a request's rows
  // stay in one transaction, so it is stored as one request row.
  while (!queue_.empty() &&
         (batch.size() < options_.max_batch || same_request(batch.back(), queue_.front()))) {
    bytes += queue_.front().queued_bytes();
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  depth_.store(queue_.size(), std::memory_order_relaxed);
  queued_bytes_.store(queue_.empty() ? 0 : queued_bytes_.load(std::memory_order_relaxed) - bytes,
                      std::memory_order_relaxed);
  return true;
}

std::size_t RequestLogWriter::purge_older_than(std::int64_t cutoff_ms) {
  Transaction tx(db_);
  // Both statements select the same requests: the purge_batch oldest, if received before cutoff.
  const auto rows_deleted_by = [&](Statement& purge) {
    purge.bind(1, cutoff_ms).bind(2, static_cast<std::int64_t>(options_.purge_batch));
    purge.step();
    purge.reset();
    return static_cast<std::size_t>(db_.changes());
  };
  const std::size_t customers = rows_deleted_by(purge_customers_);
  const std::size_t requests = rows_deleted_by(purge_requests_);
  tx.commit();
  purged_.fetch_add(customers, std::memory_order_relaxed);
  return requests;
}

void RequestLogWriter::purge_expired(std::vector<RequestLogEntry>& batch) noexcept {
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const std::int64_t cutoff_ms =
      now_ms - std::chrono::duration_cast<std::chrono::milliseconds>(options_.retention).count();
  try {
    // Small transactions, the queue written between them, so requests never wait on a purge.
    while (purge_older_than(cutoff_ms) == options_.purge_batch) {
      while (take_batch(batch)) write_batch(batch);
    }
  } catch (const std::exception& error) {
    purge_customers_.reset();
    purge_requests_.reset();
    spdlog::error("store: request log retention: deleting rows older than {} h failed: {}",
                  options_.retention.count(), error.what());
  }
}

void RequestLogWriter::run() noexcept {
  std::vector<RequestLogEntry> batch;
  batch.reserve(options_.max_batch);
  auto next_purge = std::chrono::steady_clock::now();
  for (;;) {
    if (options_.retention.count() > 0 && std::chrono::steady_clock::now() >= next_purge) {
      purge_expired(batch);
      next_purge = std::chrono::steady_clock::now() + options_.purge_interval;
    }
    {
      std::unique_lock lock(mutex_);
      wake_writer_.wait_for(lock, options_.flush_interval, [&] {
        return stopping_ || queue_.size() >= options_.wake_rows ||
               (flush_waiters_ > 0 && !queue_.empty());
      });
      if (stopping_ && queue_.empty()) return;
    }
    // One transaction per wake-up: the wait above returns at once while wake_rows rows (or a
    // flush or stop) are waiting, so under load batches follow each other, and a trickle of rows
    // that arrived during the last commit waits for the next wake-up instead of costing a commit
    // of its own (each commit writes every page it touched, however few rows it holds).
    if (take_batch(batch)) write_batch(batch);
  }
}

void RequestLogWriter::write_batch(std::vector<RequestLogEntry>& batch) noexcept {
  std::uint64_t written = 0;
  std::uint64_t failed = 0;
  std::size_t rows_since_yield = 0;
  try {
    Transaction tx(db_);
    // This connection holds the write lock: the ids after the largest are free until commit,
    // so each request's customers get consecutive ids, which its row names as a range.
    next_ids_.step();
    std::int64_t request_row = next_ids_.column_int64(0);
    std::int64_t customer_row = next_ids_.column_int64(1);
    next_ids_.reset();
    for (std::size_t first = 0; first < batch.size();) {
      std::size_t end = first + 1;
      while (end < batch.size() && same_request(batch[first], batch[end])) ++end;
      const RequestLogEntry& request = batch[first];
      ++request_row;
      const std::int64_t first_customer = customer_row + 1;
      const auto customers = static_cast<std::int64_t>(end - first);
      try {
        insert_request_.bind(1, request_row)
            .bind(2, request.request_id)
            .bind(3, request.received_at_ms)
            .bind(4, request.route)
            .bind_text_or_null(5, request.model_version)
            .bind(6, request.status)
            .bind(7, request.latency_us)
            .bind(8, first_customer)
            .bind(9, first_customer + customers - 1);
        insert_request_.step();
        insert_request_.reset();
      } catch (const std::exception& request_error) {
        insert_request_.reset();
        // Errors such as SQLITE_FULL or SQLITE_IOERR end the whole transaction: fail the batch.
        if (!db_.in_transaction()) throw;
        // A statement-level error (a constraint, an oversized value) loses only this request.
        failed += static_cast<std::uint64_t>(customers);
        spdlog::error("store: request log rows of request {} not written: {}", request.request_id,
                      request_error.what());
        first = end;
        continue;
      }
      for (std::size_t i = first; i < end; ++i) {
        const RequestLogEntry& e = batch[i];
        // An id per customer even when its row fails, so the request's range stays right.
        ++customer_row;
        try {
          insert_customer_.bind(1, customer_row)
              .bind(2, request_row)
              .bind_text_or_null(3, e.customer_id);
          if (std::isnan(e.probability)) {
            insert_customer_.bind(4, nullptr);
          } else {
            insert_customer_.bind(4, e.probability);
          }
          insert_customer_.bind_text_or_null(5, e.band).bind_text_or_null(6, e.input);
          insert_customer_.step();
          insert_customer_.reset();
          ++written;
        } catch (const std::exception& row_error) {
          insert_customer_.reset();
          if (!db_.in_transaction()) throw;
          ++failed;
          spdlog::error("store: request log row for request {} not written: {}", e.request_id,
                        row_error.what());
        }
        if (options_.yield_rows != 0 && ++rows_since_yield == options_.yield_rows) {
          rows_since_yield = 0;
          // Only while the writer keeps up: see RequestLogOptions::yield_rows.
          if (depth_.load(std::memory_order_relaxed) < options_.wake_rows) {
            sched_yield();
            yields_.fetch_add(1, std::memory_order_relaxed);
          }
        }
      }
      first = end;
    }
    tx.commit();
  } catch (const std::exception& batch_error) {
    next_ids_.reset();
    insert_request_.reset();
    insert_customer_.reset();
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
