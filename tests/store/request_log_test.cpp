#include "nbo/store/request_log.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "nbo/store/timestamp.hpp"
#include "store/store_test_util.hpp"

namespace nbo::store {
namespace {

using namespace std::chrono_literals;
using testing::migrations_dir;
using testing::TempDir;

RequestLogEntry make_entry(const std::string& request_id, const std::string& customer_id = "42") {
  RequestLogEntry e;
  e.request_id = request_id;
  e.received_at = utc_now_iso8601();
  e.route = "/predict";
  e.customer_id = customer_id;
  e.model_name = "churn";
  e.model_version = "1.0.0";
  e.input = R"({"customer_id":"42"})";
  e.output = R"({"probability":0.5})";
  e.status = 200;
  e.latency_ms = 1.25;
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
  writer.enqueue(make_entry("with-customer"));
  RequestLogEntry bare;
  bare.request_id = "health";
  bare.received_at = "2024-05-01T12:34:56.789Z";
  bare.route = "/predict/batch";
  bare.status = 400;
  bare.latency_ms = 0.5;
  writer.enqueue(bare);
  writer.flush();

  Database db = Database::open(file_);
  Statement stmt = db.prepare(
      "SELECT request_id, received_at, route, customer_id, model_name, model_version, input, "
      "output, status, latency_ms FROM request_log ORDER BY id");
  ASSERT_TRUE(stmt.step());
  EXPECT_EQ(stmt.column_text(0), "with-customer");
  EXPECT_EQ(stmt.column_text(2), "/predict");
  EXPECT_EQ(stmt.column_text(3), "42");
  EXPECT_EQ(stmt.column_text(4), "churn");
  EXPECT_EQ(stmt.column_text(5), "1.0.0");
  EXPECT_EQ(stmt.column_text(6), R"({"customer_id":"42"})");
  EXPECT_EQ(stmt.column_text(7), R"({"probability":0.5})");
  EXPECT_EQ(stmt.column_int64(8), 200);
  EXPECT_DOUBLE_EQ(stmt.column_double(9), 1.25);
  ASSERT_TRUE(stmt.step());
  EXPECT_EQ(stmt.column_text(0), "health");
  EXPECT_EQ(stmt.column_text(1), "2024-05-01T12:34:56.789Z");
  EXPECT_EQ(stmt.column_text(2), "/predict/batch");
  for (int column = 3; column <= 7; ++column) EXPECT_TRUE(stmt.column_is_null(column)) << column;
  EXPECT_EQ(stmt.column_int64(8), 400);
  EXPECT_DOUBLE_EQ(stmt.column_double(9), 0.5);
  EXPECT_FALSE(stmt.step());
}

TEST_F(RequestLogTest, BoundedQueueDropsWhenFull) {
  // Not started: nothing drains the queue, so it fills deterministically.
  RequestLogWriter writer(file_, RequestLogOptions{.capacity = 2, .autostart = false});
  EXPECT_THROW(writer.flush(), std::logic_error);
  EXPECT_TRUE(writer.enqueue(make_entry("r1")));
  EXPECT_TRUE(writer.enqueue(make_entry("r2")));
  EXPECT_FALSE(writer.enqueue(make_entry("r3")));
  EXPECT_FALSE(writer.enqueue(make_entry("r4")));
  EXPECT_EQ(writer.queue_depth(), 2U);
  EXPECT_EQ(writer.dropped_total(), 2U);
  EXPECT_EQ(rows(), 0);

  writer.start();
  writer.flush();
  EXPECT_EQ(writer.queue_depth(), 0U);
  EXPECT_EQ(writer.written_total(), 2U);
  EXPECT_EQ(rows(), 2);
  EXPECT_EQ(rows("request_id IN ('r3', 'r4')"), 0);

  // Room again once drained.
  EXPECT_TRUE(writer.enqueue(make_entry("r5")));
  writer.flush();
  EXPECT_EQ(rows(), 3);
  EXPECT_EQ(writer.dropped_total(), 2U);
}

TEST_F(RequestLogTest, StopWritesEverythingQueued) {
  {
    // A long interval and a large batch: only stop() makes these rows hit the disk.
    RequestLogWriter writer(file_, RequestLogOptions{.max_batch = 100000, .flush_interval = 10min});
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(writer.enqueue(make_entry(std::to_string(i))));
    writer.stop();
    EXPECT_EQ(writer.written_total(), 1000U);
    EXPECT_EQ(writer.queue_depth(), 0U);
    // After stop: dropped, flush returns at once, stop is idempotent, start refuses.
    EXPECT_FALSE(writer.enqueue(make_entry("late")));
    EXPECT_EQ(writer.dropped_total(), 1U);
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

TEST_F(RequestLogTest, RowErrorsAreCountedAndTheRestOfTheBatchIsWritten) {
  Database::open(file_).execute(
      "CREATE TRIGGER reject_poison BEFORE INSERT ON request_log WHEN NEW.request_id = 'poison' "
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
