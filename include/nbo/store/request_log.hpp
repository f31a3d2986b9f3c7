#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "nbo/store/database.hpp"

namespace nbo::store {

// One row of the request_log view (migrations/0006_request_log_by_request.sql): one scored
// customer, with what an audit needs. Empty strings and a NaN probability are stored as NULL.
// Consecutive rows of one enqueue() call that share request_id, received_at_ms, route,
// model_version, status and latency_us (a batch's customers) are stored as one row of
// request_log_requests and one row of request_log_customers each.
struct RequestLogEntry {
  std::string request_id{};
  std::int64_t received_at_ms = 0;  // milliseconds since the epoch, UTC
  std::string route{};              // e.g. "/predict"
  std::string customer_id{};        // may be empty -> NULL
  std::string model_version{};      // may be empty -> NULL
  double probability = std::numeric_limits<double>::quiet_NaN();  // NaN -> NULL
  std::string band{};           // the risk band answered; empty -> NULL
  int status = 0;               // HTTP status code
  std::int64_t latency_us = 0;  // microseconds from receipt to the answer
  std::string input{};          // the customer as received (JSON), opt-in; empty -> NULL

  // What the row holds in the queue, in bytes (the strings' capacity and the struct): the unit
  // of RequestLogOptions::capacity_bytes.
  std::size_t queued_bytes() const noexcept;
};

// Bytes the request-log queue holds by default (`nbo serve --request-log-max-bytes`).
inline constexpr std::size_t kDefaultRequestLogBytes = 64 * 1024 * 1024;

// What enqueue() does with rows that do not fit in the queue.
enum class RequestLogOverflow {
  // Refuse them (enqueue() returns false, counted in rejected_total()): the caller must not
  // acknowledge the request, so no answered request goes unlogged. The default.
  kReject,
  // Drop them and count them in dropped_total(): availability first, the log may miss rows.
  kDrop,
};

struct RequestLogOptions {
  // Bytes of queued rows (RequestLogEntry::queued_bytes()) the queue holds at most.
  std::size_t capacity_bytes = kDefaultRequestLogBytes;
  RequestLogOverflow overflow = RequestLogOverflow::kReject;
  // Rows written per transaction at most. The writer takes everything waiting up to this many:
  // each commit costs an fsync with synchronous=FULL and writes every page it touched (one
  // customer_id index page per customer), so under batch load rows per second grow with rows
  // per transaction: 8192 -> 16384 took bench_request_log from 240 000-267 000 to 283 000-309 000
  // rows/s. The price: while the writer is behind, another connection's write (PUT /customers)
  // may wait for one transaction, about 45 ms of writing.
  std::size_t max_batch = 16384;
  // The writer wakes when wake_rows rows are waiting or this much time has passed since it last
  // looked, whichever comes first (and at once on flush()/stop()), and writes one transaction
  // per wake-up: fewer rows than wake_rows left behind wait for the next one, so a steady
  // trickle is written in transactions of wake_rows rows, not one per commit's worth of arrivals.
  std::size_t wake_rows = 512;
  std::chrono::milliseconds flush_interval{50};
  // Customer rows the writer stores between two offers of its core to other runnable threads
  // (sched_yield(), which returns at once when none is waiting); 0: never. A transaction of 512
  // rows takes about 2 ms of CPU: on a machine whose cores are all busy, a request thread woken
  // meanwhile would otherwise wait for the writer's time slice, and answer that much later. 64
  // rows are about 0.25 ms of writing; the yields cost one system call each. The writer yields
  // only while it keeps up (fewer than wake_rows rows waiting): under a load that saturates the
  // cores, yielding every 64 rows left it a fraction of its share, its queue filled, and 100-
  // customer batches were answered 503 (4 000-7 000 of 10 000 requests in 5 s). It yields
  // holding SQLite's write lock, so another writer of the file (PUT /customers) may wait that
  // much longer for it.
  std::size_t yield_rows = 64;
  // Start the background thread in the constructor. With false nothing is written until
  // start() (or stop()) is called: enqueue() only fills the queue, which makes the queue's
  // behaviour observable deterministically (tests) and lets a service accept requests while
  // it finishes starting.
  bool autostart = true;
  // Rows older than this are deleted by the writer thread, in batches of purge_batch requests with
  // the queue written in between, every purge_interval; 0: kept for ever.
  std::chrono::hours retention{0};
  std::chrono::milliseconds purge_interval{60'000};
  std::size_t purge_batch = 1000;
  // Connection options of the writer's own connection (busy_timeout_ms bounds how long one
  // batch waits for another writer before it fails). Its page cache holds the hot pages of
  // the two indexes (one per customer in the customer_id index: 2 MiB missed on every row past
  // a few thousand customers), taken only as used; checkpoints every 10 000 pages (a -wal file
  // of up to about 40 MiB) copy a hot index page back once instead of ten times. Together with
  // time-ordered request ids they took bench_request_log from 44 000 to about 180 000 rows/s.
  OpenOptions open{.cache_kib = 16 * 1024, .wal_autocheckpoint_pages = 10'000};
};

// Writes request_log rows off the request path.
//
// enqueue() puts rows on an in-memory queue bounded in bytes and returns at once (it takes a
// mutex for a few instructions and never waits for I/O); a background thread with its own
// connection writes the queue to `db_file` in grouped transactions, with reused prepared
// statements; a request's rows are never split between two transactions. When the queue is full,
// rows are refused (the default: the caller answers 503 and acknowledges nothing) or dropped and
// counted (RequestLogOverflow). Rows still queued when the process dies are lost: this is a log,
// not a ledger.
//
// Thread-safety: enqueue(), flush() and the counters may be called from any number of
// threads at once; start() and stop() may be called from any thread (stop() is idempotent).
// Errors: the constructor throws StoreError when the file cannot be opened or the table is
// missing (run Database::apply_migrations() first). After that nothing throws StoreError: a
// batch that fails is logged with spdlog::error, its rows are counted in
// write_errors_total(), and the writer carries on with the next batch.
// Accounting: every row offered to enqueue() ends up in exactly one of rejected_total(),
// dropped_total(), written_total() or write_errors_total() once flushed.
class RequestLogWriter {
 public:
  explicit RequestLogWriter(const std::filesystem::path& db_file, RequestLogOptions options = {});
  RequestLogWriter(const RequestLogWriter&) = delete;
  RequestLogWriter& operator=(const RequestLogWriter&) = delete;
  // Calls stop().
  ~RequestLogWriter();

  // Starts the background writer (no-op when running). Throws std::logic_error after stop().
  void start();

  // Queues all the rows or none: false when they do not fit in the queue or the writer has
  // been stopped, counted as rejected or dropped by the overflow policy. Never blocks on I/O.
  bool enqueue(std::vector<RequestLogEntry>& entries);
  bool enqueue(RequestLogEntry entry);

  // Whether the queue has room for more rows now (below capacity_bytes and not stopped): a
  // route checks it before doing any work, so an overloaded writer costs a 503, not the work.
  bool has_room() const noexcept {
    return queued_bytes_.load(std::memory_order_relaxed) < options_.capacity_bytes &&
           !stopped_.load(std::memory_order_relaxed);
  }

  // Blocks until every row enqueued before the call has been written (committed) or
  // counted as a write error. Returns at once after stop(). Throws std::logic_error when
  // the writer was never started (it would wait forever).
  void flush();

  // Deletes the oldest requests received before `cutoff_ms` (ms since the epoch), at most
  // purge_batch of them, with their customers' rows, in one transaction; returns how many
  // requests (purged_total() counts the customers' rows). The oldest are found by id (ids grow
  // with time), so a call reads at most purge_batch requests however large the tables.
  // The writer thread calls it for the retention; call it only while that thread is not
  // running (tests, tools). Throws StoreError on a failure.
  std::size_t purge_older_than(std::int64_t cutoff_ms);

  // Writes everything still queued, commits, and joins the background thread. Later
  // enqueue() calls are dropped. Idempotent; works without start() (the rows are then
  // written by the calling thread). Never throws.
  void stop() noexcept;

  // Counters, readable from any thread (relaxed reads of atomics; monotonic except depth).
  std::size_t queue_depth() const noexcept { return depth_.load(std::memory_order_relaxed); }
  std::size_t queue_bytes() const noexcept { return queued_bytes_.load(std::memory_order_relaxed); }
  std::uint64_t dropped_total() const noexcept { return dropped_.load(std::memory_order_relaxed); }
  std::uint64_t rejected_total() const noexcept {
    return rejected_.load(std::memory_order_relaxed);
  }
  std::uint64_t written_total() const noexcept { return written_.load(std::memory_order_relaxed); }
  std::uint64_t write_errors_total() const noexcept {
    return write_errors_.load(std::memory_order_relaxed);
  }
  std::uint64_t purged_total() const noexcept { return purged_.load(std::memory_order_relaxed); }
  // Times the writer offered its core to other threads (RequestLogOptions::yield_rows).
  std::uint64_t yields_total() const noexcept { return yields_.load(std::memory_order_relaxed); }

  const RequestLogOptions& options() const noexcept { return options_; }

 private:
  void run() noexcept;
  // Takes up to max_batch rows off the queue into `batch` (empty on entry), and then the rest of
  // the last row's request; returns false when the queue is empty.
  bool take_batch(std::vector<RequestLogEntry>& batch);
  // Writes and counts `batch`, then marks it done for flush(). Never throws.
  void write_batch(std::vector<RequestLogEntry>& batch) noexcept;
  void count_refused(std::size_t rows) noexcept;

  const RequestLogOptions options_;
  Database db_;  // used only by the writer thread (or by stop() when never started)
  // Declared after db_: finalized before the connection closes.
  Statement next_ids_;
  Statement insert_request_;
  Statement insert_customer_;
  Statement purge_customers_;
  Statement purge_requests_;
  // Deletes expired rows batch by batch, writing the queue in between. Never throws.
  void purge_expired(std::vector<RequestLogEntry>& batch) noexcept;

  std::mutex lifecycle_mutex_;  // start()/stop()
  std::thread thread_;
  bool started_ = false;   // guarded by lifecycle_mutex_
  bool finished_ = false;  // guarded by lifecycle_mutex_

  std::mutex mutex_;  // guards everything below up to the counters
  std::condition_variable wake_writer_;
  std::condition_variable batch_done_;
  std::deque<RequestLogEntry> queue_;
  std::uint64_t pushed_ = 0;  // rows ever accepted by enqueue()
  std::uint64_t done_ = 0;    // rows written or failed
  std::size_t flush_waiters_ = 0;
  bool running_ = false;   // writer thread active
  bool stopping_ = false;  // no more enqueue; drain and exit

  std::atomic<std::size_t> depth_{0};
  std::atomic<std::size_t> queued_bytes_{0};
  std::atomic<bool> stopped_{false};
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> rejected_{0};
  std::atomic<std::uint64_t> written_{0};
  std::atomic<std::uint64_t> write_errors_{0};
  std::atomic<std::uint64_t> purged_{0};
  std::atomic<std::uint64_t> yields_{0};
};

}  // namespace nbo::store
