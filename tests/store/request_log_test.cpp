#include "nbo/store/request_log.hpp"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "store/store_test_util.hpp"

namespace nbo::store {
namespace {

using namespace std::chrono_literals;
using testing::migrations_dir;
using testing::TempDir;

RequestLogEntry make_entry(const std::string& request_id, const std::string& customer_id = "42") {
  RequestLogEntry e;
  e.request_id = request_id;
  e.received_at_ms = 1'714'566'896'789;
  e.route = "/predict";
  e.customer_id = customer_id;
  e.model_version = "1.0.0";
  e.probability = 0.5;
  e.band = "high";
  e.status = 200;
  e.latency_us = 1250;
  return e;
}

class RequestLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    file_ = dir_ / "nbo.db";
    Database::open(file_).apply_migrations(migrations_dir());
  }

  // Counted with a separate connection.
  std::int64_t rows(const std::string& where = "1") {
    Database db = Database::open(file_);
    Statement stmt = db.prepare("SELECT COUNT(*) FROM request_log WHERE " + where);
    EXPECT_TRUE(stmt.step());
    return stmt.column_int64(0);
  }

  TempDir dir_;
  std::filesystem::path file_;
};

TEST_F(RequestLogTest, ManyThreadsEnqueueThenFlushWritesEveryRow) {
  RequestLogWriter writer(file_, RequestLogOptions{.max_batch = 128});
  constexpr int kThreads = 8;
  constexpr int kPerThread = 1500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&writer, t] {
      for (int i = 0; i < kPerThread; ++i) {
        EXPECT_TRUE(writer.enqueue(make_entry(std::to_string(t) + "-" + std::to_string(i))));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  writer.flush();

  constexpr std::uint64_t kTotal = kThreads * kPerThread;
  EXPECT_EQ(rows(), static_cast<std::int64_t>(kTotal));
  EXPECT_EQ(writer.written_total(), kTotal);
  EXPECT_EQ(writer.dropped_total(), 0U);
  EXPECT_EQ(writer.write_errors_total(), 0U);
  EXPECT_EQ(writer.queue_depth(), 0U);
  EXPECT_EQ(rows("request_id = '7-1499'"), 1);
}

TEST_F(RequestLogTest, FieldsAreStoredAndEmptyOptionalFieldsBecomeNull) {
  RequestLogWriter writer(file_);
  RequestLogEntry full = make_entry("with-customer");
  full.input = R"({"customer_id":"42"})";
  writer.enqueue(full);
  RequestLogEntry bare;
  bare.request_id = "health";
  bare.received_at_ms = 5;
  bare.route = "/predict/batch";
  bare.status = 400;
  bare.latency_us = 500;
  writer.enqueue(bare);
  writer.flush();

  Database db = Database::open(file_);
  Statement stmt = db.prepare(
      "SELECT request_id, received_at_ms, route, customer_id, model_version, probability, band, "
      "status, latency_us, input FROM request_log ORDER BY id");
  ASSERT_TRUE(stmt.step());
  EXPECT_EQ(stmt.column_text(0), "with-customer");
  EXPECT_EQ(stmt.column_int64(1), 1'714'566'896'789);
  EXPECT_EQ(stmt.column_text(2), "/predict");
  EXPECT_EQ(stmt.column_text(3), "42");
  EXPECT_EQ(stmt.column_text(4), "1.0.0");
  EXPECT_DOUBLE_EQ(stmt.column_double(5), 0.5);
  EXPECT_EQ(stmt.column_text(6), "high");
  EXPECT_EQ(stmt.column_int64(7), 200);
  EXPECT_EQ(stmt.column_int64(8), 1250);
  EXPECT_EQ(stmt.column_text(9), R"({"customer_id":"42"})");
  ASSERT_TRUE(stmt.step());
  EXPECT_EQ(stmt.column_text(0), "health");
  EXPECT_EQ(stmt.column_int64(1), 5);
  EXPECT_EQ(stmt.column_text(2), "/predict/batch");
  for (const int column : {3, 4, 5, 6, 9}) EXPECT_TRUE(stmt.column_is_null(column)) << column;
  EXPECT_EQ(stmt.column_int64(7), 400);
  EXPECT_EQ(stmt.column_int64(8), 500);
  EXPECT_FALSE(stmt.step());
}

TEST_F(RequestLogTest, QueueIsBoundedInBytesAndRefusesByDefault) {
  // Not started: nothing drains the queue, so it fills deterministically.
  const std::size_t row = make_entry("r1").queued_bytes();
  RequestLogWriter writer(
      file_, RequestLogOptions{.capacity_bytes = 2 * row + row / 2, .autostart = false});
  EXPECT_THROW(writer.flush(), std::logic_error);
  EXPECT_TRUE(writer.has_room());
  EXPECT_TRUE(writer.enqueue(make_entry("r1")));
  EXPECT_TRUE(writer.enqueue(make_entry("r2")));
  EXPECT_TRUE(writer.has_room());  // 2 rows are under the bound, a third does not fit
  EXPECT_FALSE(writer.enqueue(make_entry("r3")));
  // A large input counts by its bytes.
  RequestLogEntry large = make_entry("r4");
  large.input.assign(10 * row, 'x');
  EXPECT_FALSE(writer.enqueue(large));
  EXPECT_EQ(writer.queue_depth(), 2U);
  EXPECT_EQ(writer.queue_bytes(), 2 * row);
  EXPECT_EQ(writer.rejected_total(), 2U);
  EXPECT_EQ(writer.dropped_total(), 0U);
  EXPECT_EQ(rows(), 0);

  writer.start();
  writer.flush();
  EXPECT_EQ(writer.queue_depth(), 0U);
  EXPECT_EQ(writer.queue_bytes(), 0U);
  EXPECT_EQ(writer.written_total(), 2U);
  EXPECT_EQ(rows(), 2);
  EXPECT_EQ(rows("request_id IN ('r3', 'r4')"), 0);

  // Room again once drained; an empty queue takes a request larger than the bound whole.
  EXPECT_TRUE(writer.enqueue(large));
  writer.flush();
  EXPECT_EQ(rows(), 3);
}

TEST_F(RequestLogTest, ABatchOfRowsIsQueuedWholeOrNotAtAll) {
  const std::size_t row = make_entry("a").queued_bytes();
  RequestLogWriter writer(file_, RequestLogOptions{.capacity_bytes = 3 * row, .autostart = false});
  std::vector<RequestLogEntry> two{make_entry("a"), make_entry("b")};
  EXPECT_TRUE(writer.enqueue(two));
  std::vector<RequestLogEntry> batch{make_entry("c"), make_entry("d")};
  EXPECT_FALSE(writer.enqueue(batch));  // one would fit, two do not: neither goes in
  EXPECT_EQ(writer.queue_depth(), 2U);
  EXPECT_EQ(writer.rejected_total(), 2U);
  writer.start();
  writer.flush();
  EXPECT_EQ(rows("request_id IN ('c', 'd')"), 0);
  EXPECT_EQ(rows(), 2);
}

TEST_F(RequestLogTest, DropPolicyCountsDropsInsteadOfRefusals) {
  const std::size_t row = make_entry("r1").queued_bytes();
  RequestLogWriter writer(
      file_, RequestLogOptions{
                 .capacity_bytes = row, .overflow = RequestLogOverflow::kDrop, .autostart = false});
  EXPECT_TRUE(writer.enqueue(make_entry("r1")));
  EXPECT_FALSE(writer.has_room());
  EXPECT_FALSE(writer.enqueue(make_entry("r2")));
  EXPECT_EQ(writer.dropped_total(), 1U);
  EXPECT_EQ(writer.rejected_total(), 0U);
}

TEST_F(RequestLogTest, StopWritesEverythingQueued) {
  {
    // A long interval and a high wake threshold: only stop() makes these rows hit the disk.
    RequestLogWriter writer(
        file_,
        RequestLogOptions{.max_batch = 100000, .wake_rows = 100000, .flush_interval = 10min});
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(writer.enqueue(make_entry(std::to_string(i))));
    writer.stop();
    EXPECT_EQ(writer.written_total(), 1000U);
    EXPECT_EQ(writer.queue_depth(), 0U);
    // After stop: refused, flush returns at once, stop is idempotent, start refuses.
    EXPECT_FALSE(writer.has_room());
    EXPECT_FALSE(writer.enqueue(make_entry("late")));
    EXPECT_EQ(writer.rejected_total(), 1U);
    writer.flush();
    writer.stop();
    EXPECT_THROW(writer.start(), std::logic_error);
  }
  EXPECT_EQ(rows(), 1000);
}

TEST_F(RequestLogTest, DestructorWritesEverythingQueuedEvenIfNeverStarted) {
  {
    RequestLogWriter writer(file_, RequestLogOptions{.max_batch = 7, .autostart = false});
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(writer.enqueue(make_entry(std::to_string(i))));
  }
  EXPECT_EQ(rows(), 50);
}

TEST_F(RequestLogTest, TimerWritesWithoutFlush) {
  RequestLogWriter writer(file_, RequestLogOptions{.flush_interval = 10ms});
  ASSERT_TRUE(writer.enqueue(make_entry("lonely")));
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (writer.written_total() < 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(writer.written_total(), 1U);
  EXPECT_EQ(rows(), 1);
}

// Rows that arrive while a transaction commits wait for the next wake-up (wake_rows rows, the
// timer, a flush) instead of costing a commit of their own.
TEST_F(RequestLogTest, AWakeUpWritesOneTransactionAndLeavesAShortRemainderForTheNext) {
  RequestLogWriter writer(
      file_, RequestLogOptions{
                 .max_batch = 4, .wake_rows = 4, .flush_interval = 10min, .autostart = false});
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(writer.enqueue(make_entry(fmt::format("r{}", i))));
  writer.start();
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (writer.written_total() < 4 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(writer.written_total(), 4U);
  // The two left are fewer than wake_rows, and the timer is ten minutes away.
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(writer.written_total(), 4U);
  EXPECT_EQ(writer.queue_depth(), 2U);
  writer.flush();
  EXPECT_EQ(writer.written_total(), 6U);
  EXPECT_EQ(rows(), 6);
}

// A batch's customers share the request's fields: stored once in request_log_requests, with
// the customers' rows a range of consecutive ids in request_log_customers; the request_log view
// gives one row per customer with every column, as a single table did.
TEST_F(RequestLogTest, ABatchIsStoredAsOneRequestAndItsCustomers) {
  RequestLogWriter writer(file_, RequestLogOptions{.max_batch = 2, .autostart = false});
  std::vector<RequestLogEntry> batch;
  for (const char* customer : {"c1", "c2", "c3"}) batch.push_back(make_entry("batch", customer));
  batch[1].probability = 0.25;
  ASSERT_TRUE(writer.enqueue(batch));
  ASSERT_TRUE(writer.enqueue(make_entry("single", "c4")));
  writer.start();
  writer.flush();
  EXPECT_EQ(writer.written_total(), 4U);

  Database db = Database::open(file_);
  // max_batch is 2, yet the batch's three rows went in one transaction as one request.
  Statement requests = db.prepare(
      "SELECT request_id, received_at_ms, route, model_version, status, latency_us, "
      "last_customer - first_customer + 1 FROM request_log_requests ORDER BY id");
  ASSERT_TRUE(requests.step());
  EXPECT_EQ(requests.column_text(0), "batch");
  EXPECT_EQ(requests.column_int64(1), 1'714'566'896'789);
  EXPECT_EQ(requests.column_text(2), "/predict");
  EXPECT_EQ(requests.column_text(3), "1.0.0");
  EXPECT_EQ(requests.column_int64(4), 200);
  EXPECT_EQ(requests.column_int64(5), 1250);
  EXPECT_EQ(requests.column_int64(6), 3);
  ASSERT_TRUE(requests.step());
  EXPECT_EQ(requests.column_text(0), "single");
  EXPECT_EQ(requests.column_int64(6), 1);
  EXPECT_FALSE(requests.step());

  Statement view = db.prepare(
      "SELECT request_id, customer_id, probability, band, route, status FROM request_log "
      "WHERE request_id = 'batch' ORDER BY id");
  std::vector<std::string> customers;
  std::vector<double> probabilities;
  while (view.step()) {
    EXPECT_EQ(view.column_text(0), "batch");
    EXPECT_EQ(view.column_text(3), "high");
    EXPECT_EQ(view.column_text(4), "/predict");
    EXPECT_EQ(view.column_int64(5), 200);
    customers.push_back(view.column_text(1));
    probabilities.push_back(view.column_double(2));
  }
  EXPECT_THAT(customers, ::testing::ElementsAre("c1", "c2", "c3"));
  EXPECT_THAT(probabilities, ::testing::ElementsAre(0.5, 0.25, 0.5));
  Statement by_customer = db.prepare("SELECT request_id FROM request_log WHERE customer_id = 'c4'");
  ASSERT_TRUE(by_customer.step());
  EXPECT_EQ(by_customer.column_text(0), "single");
  EXPECT_FALSE(by_customer.step());
}

// The writer offers its core to other threads in the middle of a transaction (yield_rows): every
// request still gets exactly its own customers, in order, whether it yields after every row,
// after every third, or never.
TEST_F(RequestLogTest, YieldingTheCoreMidTransactionKeepsEachRequestsCustomersTogether) {
  for (const std::size_t yield_rows : {std::size_t{1}, std::size_t{3}, std::size_t{0}}) {
    SCOPED_TRACE(fmt::format("yield_rows {}", yield_rows));
    const std::string prefix = fmt::format("y{}-", yield_rows);
    RequestLogWriter writer(file_, RequestLogOptions{.yield_rows = yield_rows, .autostart = false});
    for (int request = 0; request < 20; ++request) {
      std::vector<RequestLogEntry> batch;
      for (int customer = 0; customer <= request % 4; ++customer) {
        batch.push_back(make_entry(fmt::format("{}{}", prefix, request),
                                   fmt::format("{}{}-{}", prefix, request, customer)));
      }
      ASSERT_TRUE(writer.enqueue(batch));
    }
    writer.start();
    writer.flush();
    EXPECT_EQ(writer.written_total(), 50U);  // 5 x (1 + 2 + 3 + 4) customers
    EXPECT_EQ(writer.write_errors_total(), 0U);
    // One transaction of 50 rows with nothing else waiting: a yield after every yield_rows rows.
    EXPECT_EQ(writer.yields_total(), yield_rows == 0 ? 0U : 50U / yield_rows);

    Database db = Database::open(file_);
    Statement view = db.prepare(
        "SELECT request_id, customer_id FROM request_log WHERE request_id LIKE ?1 || '%' "
        "ORDER BY id");
    view.bind(1, prefix);
    std::vector<std::string> expected;
    std::vector<std::string> stored;
    for (int request = 0; request < 20; ++request) {
      for (int customer = 0; customer <= request % 4; ++customer) {
        expected.push_back(fmt::format("{0}{1} {0}{1}-{2}", prefix, request, customer));
      }
    }
    while (view.step()) stored.push_back(view.column_text(0) + " " + view.column_text(1));
    EXPECT_EQ(stored, expected);
  }
}

// While wake_rows rows or more wait behind the transaction being written, the writer is behind
// and keeps its core: only the last transaction, with nothing waiting behind it, yields.
TEST_F(RequestLogTest, AWriterThatIsBehindDoesNotYield) {
  RequestLogWriter writer(
      file_,
      RequestLogOptions{.max_batch = 10, .wake_rows = 5, .yield_rows = 1, .autostart = false});
  for (int request = 0; request < 40; ++request) {
    ASSERT_TRUE(writer.enqueue(make_entry(fmt::format("behind-{}", request))));
  }
  writer.start();
  writer.flush();
  EXPECT_EQ(writer.written_total(), 40U);
  // Transactions of 10 rows: 30, 20 and 10 rows wait behind the first three (at least wake_rows),
  // none behind the last, whose 10 rows yield once each.
  EXPECT_EQ(writer.yields_total(), 10U);
}

// Both audit queries are answered from an index, not by scanning the log.
TEST_F(RequestLogTest, TheViewIsSearchedByIndexForARequestAndForACustomer) {
  Database db = Database::open(file_);
  const auto plan = [&db](const std::string& where) {
    Statement explain = db.prepare("EXPLAIN QUERY PLAN SELECT * FROM request_log WHERE " + where);
    std::string steps;
    while (explain.step()) steps += explain.column_text(3) + "\n";
    return steps;
  };
  const std::string by_request = plan("request_id = 'x'");
  EXPECT_THAT(by_request, ::testing::HasSubstr("USING INDEX request_log_requests_request_id"));
  EXPECT_THAT(by_request, ::testing::HasSubstr("SEARCH c USING INTEGER PRIMARY KEY"));
  EXPECT_THAT(by_request, ::testing::Not(::testing::HasSubstr("SCAN")));
  // One seek per block of 65 536 ids (skip-scan), from the figures migration 0007 gives the
  // planner.
  const std::string by_customer = plan("customer_id = 'x'");
  EXPECT_THAT(by_customer,
              ::testing::HasSubstr("USING INDEX request_log_customers_block_customer (ANY(<expr>) "
                                   "AND customer_id=?)"));
  EXPECT_THAT(by_customer, ::testing::Not(::testing::HasSubstr("SCAN")));
}

// The customer index is keyed by block of ids first (migration 0007): a customer logged in
// several blocks is found in each, in id order, before and after ANALYZE has counted the rows.
TEST_F(RequestLogTest, ACustomerIsFoundInEveryBlockOfIds) {
  Database db = Database::open(file_);
  // Requests with ids in blocks 0, 1 and 5; each names customer c7 and another customer.
  std::int64_t request = 0;
  for (const std::int64_t first : {std::int64_t{1}, std::int64_t{65'534}, std::int64_t{65'536} + 10,
                                   std::int64_t{5} * 65'536 + 17}) {
    ++request;
    db.prepare(
          "INSERT INTO request_log_requests (id, request_id, received_at_ms, route, status, "
          "latency_us, first_customer, last_customer) VALUES (?, ?, 0, '/predict', 200, 1, ?, ?)")
        .bind(1, request)
        .bind(2, fmt::format("r{}", request))
        .bind(3, first)
        .bind(4, first + 1)
        .step();
    for (const std::int64_t id : {first, first + 1}) {
      db.prepare("INSERT INTO request_log_customers (id, request, customer_id) VALUES (?, ?, ?)")
          .bind(1, id)
          .bind(2, request)
          .bind(3, id == first ? "c7" : fmt::format("other{}", id))
          .step();
    }
  }
  const auto ids_of_c7 = [](Database& connection) {
    std::vector<std::int64_t> ids;
    Statement query = connection.prepare(
        "SELECT id, request_id FROM request_log WHERE customer_id = 'c7' ORDER BY id");
    while (query.step()) ids.push_back(query.column_int64(0));
    return ids;
  };
  const std::vector<std::int64_t> expected{1, 65'534, 65'536 + 10, 5 * 65'536 + 17};
  EXPECT_EQ(ids_of_c7(db), expected);
  db.execute("ANALYZE");
  // A new connection reads the counted figures.
  Database analyzed = Database::open(file_);
  EXPECT_EQ(ids_of_c7(analyzed), expected);
  // The writer appends after the highest id, into block 5.
  {
    RequestLogWriter writer(file_);
    ASSERT_TRUE(writer.enqueue(make_entry("after", "c7")));
    writer.flush();
  }
  std::vector<std::int64_t> with_new = expected;
  with_new.push_back(5 * 65'536 + 19);
  EXPECT_EQ(ids_of_c7(analyzed), with_new);
}

TEST_F(RequestLogTest, RowErrorsAreCountedAndTheRestOfTheBatchIsWritten) {
  Database::open(file_).execute(
      "CREATE TRIGGER reject_poison BEFORE INSERT ON request_log_requests WHEN NEW.request_id = "
      "'poison' "
      "BEGIN SELECT RAISE(ABORT, 'poison row'); END");
  RequestLogWriter writer(file_, RequestLogOptions{.autostart = false});
  writer.enqueue(make_entry("good-1"));
  writer.enqueue(make_entry("poison"));
  writer.enqueue(make_entry("good-2"));
  writer.start();
  writer.flush();
  EXPECT_EQ(writer.written_total(), 2U);
  EXPECT_EQ(writer.write_errors_total(), 1U);
  EXPECT_EQ(rows(), 2);
}

TEST_F(RequestLogTest, FailedBatchIsCountedAndTheWriterKeepsRunning) {
  RequestLogWriter writer(file_, RequestLogOptions{.open = OpenOptions{.busy_timeout_ms = 20}});
  {
    // Another connection holds the write lock: the writer's BEGIN IMMEDIATE times out.
    Database holder = Database::open(file_);
    Transaction lock(holder);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(writer.enqueue(make_entry(std::to_string(i))));
    writer.flush();
    EXPECT_EQ(writer.write_errors_total(), 3U);
    EXPECT_EQ(writer.written_total(), 0U);
  }
  ASSERT_TRUE(writer.enqueue(make_entry("after")));
  writer.flush();
  EXPECT_EQ(writer.written_total(), 1U);
  EXPECT_EQ(writer.write_errors_total(), 3U);
  EXPECT_EQ(rows(), 1);
}

TEST(RequestLog, ConstructorFailsWithoutTheTable) {
  TempDir dir;
  EXPECT_THROW(RequestLogWriter(dir / "empty.db"), StoreError);
}

}  // namespace
}  // namespace nbo::store

namespace nbo::store {
namespace {

// A database of the earlier layout (migrations 0001-0003, JSON input and output per row) keeps
// its rows through 0004: time, latency and the answered probability and band carried over.
TEST(RequestLogMigration, RowsOfTheEarlierLayoutAreCarriedOverCompactly) {
  testing::TempDir dir;
  const auto earlier = dir / "earlier-migrations";
  std::filesystem::create_directories(earlier);
  for (const auto& entry : std::filesystem::directory_iterator(testing::migrations_dir())) {
    const std::string name = entry.path().filename().string();
    if (name < "0004") std::filesystem::copy_file(entry.path(), earlier / name);
  }
  const auto file = dir / "nbo.db";
  Database db = Database::open(file);
  db.apply_migrations(earlier);
  db.execute(
      "INSERT INTO request_log(request_id, received_at, route, customer_id, model_name, "
      "model_version, input, output, status, latency_ms) VALUES ('old', "
      "'2026-11-01T10:00:00.250Z', '/predict', '42', 'churn', 'v1', '{\"customer_id\":\"42\"}', "
      "'{\"probability\":0.75,\"risk_band\":\"high\"}', 200, 1.5), ('broken', "
      "'2026-11-01T10:00:01.000Z', '/segment', NULL, 'churn', 'v1', NULL, 'not json', 200, 2)");
  db.apply_migrations(testing::migrations_dir());
  Statement rows = db.prepare(
      "SELECT request_id, received_at_ms, route, customer_id, model_version, probability, band, "
      "status, latency_us, input FROM request_log ORDER BY id");
  ASSERT_TRUE(rows.step());
  EXPECT_EQ(rows.column_text(0), "old");
  EXPECT_EQ(rows.column_int64(1), 1'793'527'200'250);  // 2026-11-01T10:00:00.250Z
  EXPECT_EQ(rows.column_text(2), "/predict");
  EXPECT_EQ(rows.column_text(3), "42");
  EXPECT_EQ(rows.column_text(4), "v1");
  EXPECT_DOUBLE_EQ(rows.column_double(5), 0.75);
  EXPECT_EQ(rows.column_text(6), "high");
  EXPECT_EQ(rows.column_int64(7), 200);
  EXPECT_EQ(rows.column_int64(8), 1500);
  EXPECT_EQ(rows.column_text(9), "{\"customer_id\":\"42\"}");
  ASSERT_TRUE(rows.step());
  EXPECT_EQ(rows.column_text(0), "broken");
  EXPECT_TRUE(rows.column_is_null(5));
  EXPECT_TRUE(rows.column_is_null(6));
  EXPECT_EQ(rows.column_int64(8), 2000);
  EXPECT_FALSE(rows.step());
  // The new writer appends to the carried-over table.
  RequestLogWriter writer(file);
  ASSERT_TRUE(writer.enqueue(make_entry("new")));
  writer.flush();
}

}  // namespace
}  // namespace nbo::store

namespace nbo::store {
namespace {

using namespace std::chrono_literals;

// Retention: the oldest rows go first, a call deletes at most purge_batch of them and reads no
// more than that; the writer thread purges on its own.
TEST(RequestLogRetention, ExpiredRowsAreDeletedOldestFirstInBoundedBatches) {
  testing::TempDir dir;
  const auto file = dir / "nbo.db";
  Database::open(file).apply_migrations(testing::migrations_dir());
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  const std::int64_t day_ms = 24 * 3600 * 1000;
  {
    RequestLogWriter writer(file, RequestLogOptions{.autostart = false, .purge_batch = 4});
    for (int i = 0; i < 10; ++i) {
      RequestLogEntry entry = make_entry("old-" + std::to_string(i));
      entry.received_at_ms = now_ms - (40 - i) * day_ms;
      ASSERT_TRUE(writer.enqueue(entry));
    }
    for (int i = 0; i < 3; ++i) {
      RequestLogEntry entry = make_entry("new-" + std::to_string(i));
      entry.received_at_ms = now_ms - i * 1000;
      ASSERT_TRUE(writer.enqueue(entry));
    }
    writer.start();
    writer.flush();
    writer.stop();
    const std::int64_t cutoff = now_ms - 30 * day_ms;
    EXPECT_EQ(writer.purge_older_than(cutoff), 4U);
    EXPECT_EQ(writer.purge_older_than(cutoff), 4U);
    EXPECT_EQ(writer.purge_older_than(cutoff), 2U);
    EXPECT_EQ(writer.purge_older_than(cutoff), 0U);
    EXPECT_EQ(writer.purged_total(), 10U);
  }
  Database db = Database::open(file);
  Statement left = db.prepare("SELECT COUNT(*), MIN(request_id) FROM request_log");
  ASSERT_TRUE(left.step());
  EXPECT_EQ(left.column_int64(0), 3);
  EXPECT_EQ(left.column_text(1), "new-0");

  // The writer thread applies the retention by itself (on a table whose ids grow with time, as
  // the server's do).
  db.execute("DELETE FROM request_log_customers");
  db.execute("DELETE FROM request_log_requests");
  {
    RequestLogWriter writer(file, RequestLogOptions{.flush_interval = 5ms,
                                                    .retention = std::chrono::hours(1),
                                                    .purge_interval = 5ms,
                                                    .purge_batch = 2});
    RequestLogEntry stale = make_entry("stale");
    stale.received_at_ms = now_ms - 2 * 3600 * 1000;
    std::vector<RequestLogEntry> stale_rows(5, stale);
    ASSERT_TRUE(writer.enqueue(stale_rows));
    writer.flush();
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (writer.purged_total() < 5 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
    }
    EXPECT_EQ(writer.purged_total(), 5U);
  }
  Statement after = db.prepare("SELECT COUNT(*) FROM request_log WHERE request_id = 'stale'");
  ASSERT_TRUE(after.step());
  EXPECT_EQ(after.column_int64(0), 0);
}

}  // namespace
}  // namespace nbo::store
