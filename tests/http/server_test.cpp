#include "nbo/http/server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "nbo/http/error_body.hpp"
#include "support/http_client.hpp"

namespace nbo::http {
namespace {

using namespace std::chrono_literals;
using nbo::test::HttpClient;
using nbo::test::HttpResponse;
using nbo::test::parse_raw_response;
using Json = nlohmann::json;

// Lets a test hold handlers inside the server and release them when it decides.
class Gate {
 public:
  void enter_and_wait() {
    std::unique_lock lock(mutex_);
    ++entered_;
    cv_.notify_all();
    cv_.wait(lock, [this] { return released_; });
  }
  bool wait_entered(int count) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, 5s, [&] { return entered_ >= count; });
  }
  void release() {
    std::lock_guard lock(mutex_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int entered_ = 0;
  bool released_ = false;
};

class RecordingObserver final : public Observer {
 public:
  void on_request_started() override { started_.fetch_add(1); }
  void on_request_finished(const Request& request, const Response& response,
                           double seconds) override {
    std::lock_guard lock(mutex_);
    statuses_.push_back(response.status);
    request_ids_.push_back(request.request_id);
    all_non_negative_ = all_non_negative_ && seconds >= 0.0;
  }
  std::vector<unsigned> statuses() const {
    std::lock_guard lock(mutex_);
    return statuses_;
  }
  std::vector<std::string> request_ids() const {
    std::lock_guard lock(mutex_);
    return request_ids_;
  }
  int started() const { return started_.load(); }
  bool all_non_negative() const {
    std::lock_guard lock(mutex_);
    return all_non_negative_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<unsigned> statuses_;
  std::vector<std::string> request_ids_;
  std::atomic<int> started_{0};
  bool all_non_negative_ = true;
};

Json parse_json(const std::string& text) {
  Json parsed = Json::parse(text, nullptr, false);
  EXPECT_FALSE(parsed.is_discarded()) << text;
  return parsed;
}

bool is_hex32(const std::string& id) {
  return id.size() == 32 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
}

class ServerTest : public ::testing::Test {
 protected:
  ServerOptions default_options() const {
    ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.threads = 4;
    options.max_body_bytes = 1024;
    options.max_header_bytes = 2048;
    options.read_timeout = 2000ms;
    options.idle_timeout = 5000ms;
    options.shutdown_deadline = 3000ms;
    return options;
  }

  void start(ServerOptions options, DispatchRule dispatch = {}) {
    server_ = std::make_unique<Server>(
        std::move(options), [this](const Request& request) { return handle(request); }, &observer_,
        std::move(dispatch));
    server_->start();
  }
  void start() { start(default_options()); }

  HttpClient client() const { return HttpClient("127.0.0.1", server_->port(), 5s); }

  // Sends GET `target` on a fresh connection from another thread.
  std::future<HttpResponse> request_async(std::string target) const {
    return std::async(std::launch::async, [this, target = std::move(target)] {
      auto c = client();
      return c.request("GET", target);
    });
  }

  Response handle(const Request& request) {
    Response response;
    response.route = request.path;
    if (request.path == "/block") {
      gate_.enter_and_wait();
      response.body = R"({"unblocked":true})";
    } else if (request.path == "/count") {
      counted_.fetch_add(1);
    } else if (request.path == "/stop-self") {
      try {
        server_->stop();
        response.body = "stopped";
      } catch (const std::logic_error&) {
        response.body = "refused";
      }
    } else if (request.path == "/throw") {
      throw std::runtime_error("secret detail");
    } else if (request.path == "/bad-status") {
      response.status = 42;
    } else if (request.path == "/no-content") {
      response.status = 204;
      response.body = "ignored";
    } else if (request.path == "/headers") {
      response.headers = {{"Allow", "GET"},
                          {"Content-Length", "999"},
                          {"X-Evil", "a\r\nInjected: yes"},
                          {"Connection", "keep-alive"}};
    } else {
      response.body = Json{{"method", request.method},
                           {"target", request.target},
                           {"path", request.path},
                           {"query", request.query},
                           {"body", request.body},
                           {"request_id", request.request_id},
                           {"content_type", request.content_type},
                           {"x_test", request.header("x-TEST")}}
                          .dump();
    }
    return response;
  }

  void TearDown() override {
    gate_.release();
    if (server_) server_->stop();
  }

  Gate gate_;
  std::atomic<int> counted_{0};
  RecordingObserver observer_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  start();
  auto c = client();
  for (int i = 0; i < 5; ++i) {
    const auto r = c.request("POST", "/echo", "n=" + std::to_string(i));
    ASSERT_EQ(r.status, 200U);
    EXPECT_TRUE(r.keep_alive);
    EXPECT_EQ(parse_json(r.body)["body"], "n=" + std::to_string(i));
  }
  EXPECT_EQ(c.connections_opened(), 1U);
  EXPECT_TRUE(c.connected());
  EXPECT_EQ(observer_.statuses(), std::vector<unsigned>(5, 200U));
  EXPECT_EQ(observer_.started(), 5);
  EXPECT_TRUE(observer_.all_non_negative());
}

// A body larger than the read buffer gets room for large reads, given back once the connection
// is idle: bodies arrive whole, and so do the requests after them, pipelined or not.
TEST_F(ServerTest, LargeBodiesAndTheRequestsAfterThemArriveWhole) {
  ServerOptions options = default_options();
  options.max_body_bytes = 4 * 1024 * 1024;
  start(options);
  const auto pattern = [](std::size_t size, char first) {
    std::string text(size, ' ');
    for (std::size_t i = 0; i < size; ++i) text[i] = static_cast<char>(first + (i * 7) % 26);
    return text;
  };
  auto c = client();
  const std::string large = pattern(1'500'000, 'a');
  const auto first = c.request("POST", "/echo", large);
  ASSERT_EQ(first.status, 200U);
  EXPECT_TRUE(parse_json(first.body)["body"] == large);
  const auto second = c.request("POST", "/echo", "small");
  ASSERT_EQ(second.status, 200U);
  EXPECT_EQ(parse_json(second.body)["body"], "small");
  EXPECT_EQ(c.connections_opened(), 1U);

  const std::string other = pattern(300'000, 'A');
  const auto raw =
      c.raw("POST /echo/1 HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(other.size()) +
                "\r\n\r\n" + other + "GET /echo/2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            5000ms);
  const auto second_response = raw.find("HTTP/1.1 200", 1);
  ASSERT_NE(second_response, std::string::npos);
  const auto pipelined_large = parse_raw_response(raw.substr(0, second_response));
  EXPECT_TRUE(parse_json(pipelined_large.body)["body"] == other);
  const auto pipelined_small = parse_raw_response(raw.substr(second_response));
  EXPECT_EQ(parse_json(pipelined_small.body)["path"], "/echo/2");
}

TEST_F(ServerTest, EveryResponseCarriesStandardHeaders) {
  start();
  auto c = client();
  const auto r = c.request("GET", "/echo");
  EXPECT_EQ(r.header("Server"), "nbo");
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  EXPECT_EQ(r.header("Content-Length"), std::to_string(r.body.size()));
  EXPECT_TRUE(is_hex32(r.header("X-Request-Id"))) << r.header("X-Request-Id");
}

TEST_F(ServerTest, RequestFieldsAreParsed) {
  start();
  auto c = client();
  const auto r = c.request("POST", "/echo/a%20b%2Fc?x=1&y=%20", "payload",
                           {{"Content-Type", "text/plain"}, {"X-Test", "yes"}});
  ASSERT_EQ(r.status, 200U);
  const auto j = parse_json(r.body);
  EXPECT_EQ(j["method"], "POST");
  EXPECT_EQ(j["target"], "/echo/a%20b%2Fc?x=1&y=%20");
  EXPECT_EQ(j["path"], "/echo/a b/c");
  EXPECT_EQ(j["query"], "x=1&y=%20");
  EXPECT_EQ(j["body"], "payload");
  EXPECT_EQ(j["content_type"], "text/plain");
  EXPECT_EQ(j["x_test"], "yes");
}

TEST_F(ServerTest, MalformedPercentEncodingGets400AndKeepsConnection) {
  start();
  auto c = client();
  const auto r = c.request("GET", "/echo/%zz", "", {{"X-Request-Id", "pct-1"}});
  EXPECT_EQ(r.status, 400U);
  const auto j = parse_json(r.body);
  EXPECT_EQ(j["error"]["code"], "bad_request");
  EXPECT_EQ(j["request_id"], "pct-1");
  EXPECT_EQ(c.request("GET", "/echo").status, 200U);
  EXPECT_EQ(c.connections_opened(), 1U);
}

TEST_F(ServerTest, ConnectionCloseIsHonoured) {
  start();
  auto c = client();
  const auto r = c.request("GET", "/echo", "", {{"Connection", "close"}});
  EXPECT_EQ(r.status, 200U);
  EXPECT_EQ(r.header("Connection"), "close");
  EXPECT_FALSE(c.connected());
}

TEST_F(ServerTest, Http10IsServedAndClosed) {
  start();
  auto c = client();
  const auto raw = c.raw("GET /echo HTTP/1.0\r\n\r\n", 3000ms);  // returns once the server closes
  const auto r = parse_raw_response(raw);
  EXPECT_EQ(r.status, 200U);
  EXPECT_EQ(r.version, 10U);
  EXPECT_EQ(parse_json(r.body)["path"], "/echo");
}

TEST_F(ServerTest, Http10KeepAliveIsHonoured) {
  start();
  auto c = client();
  const auto raw = c.raw(
      "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
      "GET /echo HTTP/1.0\r\n\r\n",
      3000ms);
  EXPECT_EQ(raw.find("HTTP/1.0 200"), 0U);
  EXPECT_NE(raw.find("HTTP/1.0 200", 1), std::string::npos) << raw;
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  start();
  auto c = client();
  const auto raw = c.raw(
      "GET /echo/1 HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /echo/2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      3000ms);
  const auto first = raw.find("/echo/1");
  const auto second = raw.find("/echo/2");
  ASSERT_NE(first, std::string::npos) << raw;
  ASSERT_NE(second, std::string::npos) << raw;
  EXPECT_LT(first, second);
}

TEST_F(ServerTest, ExpectContinueIsAnswered) {
  start();
  auto c = client();
  const auto raw = c.raw(
      "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n"
      "Connection: close\r\n\r\nabc",
      3000ms);
  EXPECT_EQ(raw.find("HTTP/1.1 100 Continue\r\n\r\n"), 0U) << raw;
  const auto r = parse_raw_response(raw.substr(raw.find("HTTP/1.1 200")));
  EXPECT_EQ(r.status, 200U);
  EXPECT_EQ(parse_json(r.body)["body"], "abc");
}

// The server writes the response head itself: the fields in a fixed order, Connection only where
// the version's default does not hold, Content-Length but no body for HEAD, neither for 204.
TEST_F(ServerTest, ResponseHeadsAreWrittenFieldByFieldInOrder) {
  start();
  auto c = client();
  const std::string head_of_headers =
      "HTTP/1.1 200 OK\r\nServer: nbo\r\nContent-Type: application/json\r\nX-Request-Id: h1\r\n"
      "Allow: GET\r\nContent-Length: 0\r\n\r\n";
  EXPECT_EQ(c.raw("GET /headers HTTP/1.1\r\nX-Request-Id: h1\r\n\r\n", 1000ms), head_of_headers);
  EXPECT_EQ(c.raw("GET /no-content HTTP/1.1\r\nX-Request-Id: h2\r\n\r\n", 1000ms),
            "HTTP/1.1 204 No Content\r\nServer: nbo\r\nContent-Type: application/json\r\n"
            "X-Request-Id: h2\r\n\r\n");
  const std::string head =
      c.raw("HEAD /headers HTTP/1.0\r\nX-Request-Id: h3\r\nConnection: keep-alive\r\n\r\n", 1000ms);
  EXPECT_EQ(
      head,
      "HTTP/1.0 200 OK\r\nServer: nbo\r\nContent-Type: application/json\r\nX-Request-Id: h3\r\n"
      "Allow: GET\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n");
  const std::string closed =
      c.raw("GET /echo HTTP/1.1\r\nX-Request-Id: h4\r\nConnection: close\r\n\r\n", 3000ms);
  const auto response = parse_raw_response(closed);
  EXPECT_EQ(closed.rfind("HTTP/1.1 200 OK\r\nServer: nbo\r\nContent-Type: application/json\r\n"
                         "X-Request-Id: h4\r\nConnection: close\r\nContent-Length: ",
                         0),
            0U)
      << closed;
  EXPECT_EQ(response.header("Content-Length"), std::to_string(response.body.size()));
  EXPECT_EQ(parse_json(response.body)["request_id"], "h4");
}

TEST_F(ServerTest, CallerRequestIdIsEchoed) {
  start();
  auto c = client();
  const auto r = c.request("GET", "/echo", "", {{"X-Request-Id", "abc-123_x.y:z"}});
  EXPECT_EQ(r.header("X-Request-Id"), "abc-123_x.y:z");
  EXPECT_EQ(parse_json(r.body)["request_id"], "abc-123_x.y:z");
  EXPECT_EQ(observer_.request_ids(), std::vector<std::string>{"abc-123_x.y:z"});
}

TEST_F(ServerTest, RequestIdIsGeneratedWhenMissing) {
  start();
  auto c = client();
  const auto r1 = c.request("GET", "/echo");
  const auto r2 = c.request("GET", "/echo");
  const auto id1 = r1.header("X-Request-Id");
  EXPECT_TRUE(is_hex32(id1)) << id1;
  EXPECT_EQ(parse_json(r1.body)["request_id"], id1);
  EXPECT_NE(id1, r2.header("X-Request-Id"));
}

TEST_F(ServerTest, InvalidCallerRequestIdIsReplaced) {
  start();
  auto c = client();
  for (const std::string& bad :
       {std::string("has space"), std::string("semi;colon"), std::string(129, 'a')}) {
    const auto r = c.request("GET", "/echo", "", {{"X-Request-Id", bad}});
    const auto id = r.header("X-Request-Id");
    EXPECT_NE(id, bad);
    EXPECT_TRUE(is_hex32(id)) << id;
  }
  const std::string longest(128, 'b');
  EXPECT_EQ(c.request("GET", "/echo", "", {{"X-Request-Id", longest}}).header("X-Request-Id"),
            longest);
}

TEST_F(ServerTest, OversizedBodyGets413WithJsonErrorAndCloses) {
  start();
  auto c = client();
  const auto r = c.request("POST", "/echo", std::string(4096, 'x'), {{"X-Request-Id", "big-1"}});
  EXPECT_EQ(r.status, 413U);
  EXPECT_EQ(r.header("X-Request-Id"), "big-1");
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  const auto j = parse_json(r.body);
  EXPECT_EQ(j["error"]["code"], "payload_too_large");
  EXPECT_EQ(j["request_id"], "big-1");
  EXPECT_FALSE(c.connected());
  EXPECT_EQ(observer_.statuses(), std::vector<unsigned>{413U});
  // A body right at the limit is fine.
  EXPECT_EQ(c.request("POST", "/echo", std::string(900, 'x')).status, 200U);
}

TEST_F(ServerTest, OversizedChunkedBodyGets413) {
  start();
  auto c = client();
  std::string chunk(800, 'y');
  const auto raw = c.raw(
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "320\r\n" +
          chunk + "\r\n320\r\n" + chunk + "\r\n0\r\n\r\n",
      3000ms);
  const auto r = parse_raw_response(raw);
  EXPECT_EQ(r.status, 413U) << raw;
  EXPECT_EQ(parse_json(r.body)["error"]["code"], "payload_too_large");
}

TEST_F(ServerTest, OversizedHeadersGet431) {
  start();
  auto c = client();
  const auto r = c.request("GET", "/echo", "", {{"X-Big", std::string(4096, 'h')}});
  EXPECT_EQ(r.status, 431U);
  EXPECT_EQ(parse_json(r.body)["error"]["code"], "headers_too_large");
  EXPECT_TRUE(is_hex32(r.header("X-Request-Id")));
  EXPECT_FALSE(c.connected());
}

TEST_F(ServerTest, GarbageGets400AndClose) {
  start();
  auto c = client();
  const auto raw = c.raw("\x01\x02 this is not HTTP\r\n\r\n", 3000ms);  // returns on close
  const auto r = parse_raw_response(raw);
  EXPECT_EQ(r.status, 400U) << raw;
  EXPECT_EQ(r.header("Server"), "nbo");
  EXPECT_EQ(r.header("Connection"), "close");
  const auto j = parse_json(r.body);
  EXPECT_EQ(j["error"]["code"], "bad_request");
  EXPECT_EQ(j["request_id"], r.header("X-Request-Id"));
  EXPECT_EQ(observer_.statuses(), std::vector<unsigned>{400U});
}

TEST_F(ServerTest, OverloadGets503WithRetryAfter) {
  auto options = default_options();
  options.max_in_flight = 1;
  start(options);
  std::promise<HttpResponse> blocked;
  std::thread holder([&] {
    auto c = client();
    try {
      blocked.set_value(c.request("GET", "/block"));
    } catch (...) {
      blocked.set_exception(std::current_exception());
    }
  });
  ASSERT_TRUE(gate_.wait_entered(1));
  EXPECT_EQ(server_->in_flight(), 1U);

  auto c = client();
  const auto r = c.request("GET", "/echo", "", {{"X-Request-Id", "over-1"}});
  EXPECT_EQ(r.status, 503U);
  EXPECT_EQ(r.header("Retry-After"), "1");
  const auto j = parse_json(r.body);
  EXPECT_EQ(j["error"]["code"], "overloaded");
  EXPECT_EQ(j["request_id"], "over-1");

  gate_.release();
  auto held = blocked.get_future().get();
  holder.join();
  EXPECT_EQ(held.status, 200U);
  EXPECT_EQ(server_->in_flight(), 0U);
  EXPECT_EQ(c.request("GET", "/echo").status, 200U);  // capacity is back
  EXPECT_EQ(observer_.statuses(), (std::vector<unsigned>{503U, 200U, 200U}));
}

TEST_F(ServerTest, WorkerPoolRunsHandlersConcurrentlyBehindOneIoThread) {
  auto options = default_options();
  options.threads = 1;
  options.worker_threads = 2;
  options.max_in_flight = 2;
  start(options);
  auto first = request_async("/block");
  auto second = request_async("/block");
  // Both handlers are inside at once although there is a single I/O thread.
  ASSERT_TRUE(gate_.wait_entered(2));
  EXPECT_EQ(server_->in_flight(), 2U);

  auto c = client();
  const auto r = c.request("GET", "/echo", "", {{"X-Request-Id", "over-2"}});
  EXPECT_EQ(r.status, 503U);
  EXPECT_EQ(r.header("Retry-After"), "1");
  EXPECT_EQ(parse_json(r.body)["error"]["code"], "overloaded");
  EXPECT_EQ(parse_json(r.body)["request_id"], "over-2");

  gate_.release();
  EXPECT_EQ(first.get().status, 200U);
  EXPECT_EQ(second.get().status, 200U);
  EXPECT_EQ(server_->in_flight(), 0U);
  EXPECT_EQ(c.request("GET", "/echo").status, 200U);  // capacity is back
  auto statuses = observer_.statuses();
  std::sort(statuses.begin(), statuses.end());
  EXPECT_EQ(statuses, (std::vector<unsigned>{200U, 200U, 200U, 503U}));
  EXPECT_EQ(observer_.started(), 4);
}

TEST_F(ServerTest, SlowHandlerDoesNotStallOtherConnectionsOnItsIoThread) {
  auto options = default_options();
  options.threads = 1;
  options.worker_threads = 2;
  start(options);
  auto slow = request_async("/block");
  ASSERT_TRUE(gate_.wait_entered(1));

  auto c = client();  // served by the same, single I/O thread
  const auto r = c.request("GET", "/fast");
  EXPECT_EQ(r.status, 200U);
  EXPECT_EQ(parse_json(r.body)["path"], "/fast");
  EXPECT_EQ(server_->in_flight(), 1U);  // the slow one

  gate_.release();
  EXPECT_EQ(slow.get().status, 200U);
}

// Paths starting with /inline, and targets with the query "inline", run on the I/O thread; the
// rest on the workers.
Dispatch inline_prefix_rule(const Request& request) {
  const bool run_inline = request.path.rfind("/inline", 0) == 0 || request.query == "inline";
  return run_inline ? Dispatch::kInline : Dispatch::kWorker;
}

TEST_F(ServerTest, InlineRequestsDoNotWaitForABusyWorkerPool) {
  auto options = default_options();
  options.threads = 2;
  options.worker_threads = 1;
  start(options, inline_prefix_rule);
  auto slow = request_async("/block");  // occupies the only worker
  ASSERT_TRUE(gate_.wait_entered(1));

  auto c = client();
  const auto r = c.request("GET", "/inline/fast");
  EXPECT_EQ(r.status, 200U);
  EXPECT_EQ(parse_json(r.body)["path"], "/inline/fast");
  const auto again = c.request("GET", "/inline/again");  // keep-alive: same connection
  EXPECT_EQ(again.status, 200U);

  // A worker request queues behind the blocked one until the gate opens.
  auto queued = request_async("/count");
  EXPECT_EQ(queued.wait_for(200ms), std::future_status::timeout);
  gate_.release();
  EXPECT_EQ(slow.get().status, 200U);
  EXPECT_EQ(queued.get().status, 200U);
  EXPECT_EQ(counted_.load(), 1);
  EXPECT_EQ(server_->in_flight(), 0U);
}

TEST_F(ServerTest, InlineHandlerErrorsAreAnsweredLikeWorkerOnes) {
  start(default_options(), inline_prefix_rule);
  auto c = client();
  const auto thrown = c.request("GET", "/throw?inline");
  EXPECT_EQ(thrown.status, 500U);
  EXPECT_EQ(parse_json(thrown.body)["error"]["code"], "internal_error");
  EXPECT_EQ(thrown.body.find("secret detail"), std::string::npos);
  EXPECT_EQ(c.request("GET", "/bad-status?inline").status, 500U);
  // The connection is still usable, and the slot was given back.
  EXPECT_EQ(c.request("GET", "/inline/after").status, 200U);
  EXPECT_EQ(server_->in_flight(), 0U);
}

TEST_F(ServerTest, AFailingDispatchRuleSendsTheRequestToTheWorkers) {
  start(default_options(), [](const Request&) -> Dispatch { throw std::runtime_error("rule"); });
  auto c = client();
  const auto r = c.request("GET", "/anything");
  EXPECT_EQ(r.status, 200U);
  EXPECT_EQ(parse_json(r.body)["path"], "/anything");
  EXPECT_EQ(server_->in_flight(), 0U);
}

TEST_F(ServerTest, GracefulStopWaitsForHandlerOnWorkerAndWritesItsResponse) {
  auto options = default_options();
  options.threads = 1;
  options.worker_threads = 1;
  start(options);
  auto idle = client();
  ASSERT_EQ(idle.request("GET", "/echo").status, 200U);
  auto slow = request_async("/block");
  ASSERT_TRUE(gate_.wait_entered(1));

  auto stopped = std::async(std::launch::async, [&] { return server_->stop(); });
  // The only I/O thread is free while the handler blocks, so the idle connection is closed.
  EXPECT_TRUE(idle.wait_for_close(2000ms));
  EXPECT_EQ(stopped.wait_for(100ms), std::future_status::timeout);  // still waiting
  EXPECT_EQ(server_->in_flight(), 1U);

  gate_.release();
  const auto r = slow.get();
  EXPECT_EQ(r.status, 200U);
  EXPECT_EQ(r.header("Connection"), "close");
  EXPECT_EQ(parse_json(r.body)["unblocked"], true);
  EXPECT_TRUE(stopped.get());
  EXPECT_EQ(server_->in_flight(), 0U);
  EXPECT_EQ(observer_.statuses(), (std::vector<unsigned>{200U, 200U}));
}

TEST_F(ServerTest, QueuedHandlerCallsAreDroppedWhenStopDeadlinePasses) {
  auto options = default_options();
  options.threads = 1;
  options.worker_threads = 1;
  options.max_in_flight = 2;
  options.shutdown_deadline = 100ms;
  start(options);
  auto blocked = request_async("/block");
  ASSERT_TRUE(gate_.wait_entered(1));
  auto queued = request_async("/count");  // admitted, waits for the only worker
  const auto limit = std::chrono::steady_clock::now() + 5s;
  while (server_->in_flight() < 2U && std::chrono::steady_clock::now() < limit) {
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(server_->in_flight(), 2U);

  std::thread releaser([&] {
    std::this_thread::sleep_for(500ms);  // well past the deadline
    gate_.release();
  });
  EXPECT_FALSE(server_->stop());
  releaser.join();
  EXPECT_EQ(counted_.load(), 0);  // never called
  EXPECT_EQ(server_->in_flight(), 0U);
  server_.reset();  // abandoned connections are closed here
  // Their clients get a response or an error; neither matters here.
  try {
    blocked.get();
  } catch (const std::runtime_error&) {
  }
  EXPECT_THROW(queued.get(), std::runtime_error);
}

TEST_F(ServerTest, StopFromHandlerIsRefused) {
  start();
  auto c = client();
  const auto r = c.request("GET", "/stop-self");
  EXPECT_EQ(r.status, 200U);
  EXPECT_EQ(r.body, "refused");
  EXPECT_EQ(c.request("GET", "/echo").status, 200U);
}

TEST_F(ServerTest, HandlerExceptionGives500AndConnectionStaysUsable) {
  start();
  auto c = client();
  const auto r = c.request("GET", "/throw", "", {{"X-Request-Id", "boom-1"}});
  EXPECT_EQ(r.status, 500U);
  const auto j = parse_json(r.body);
  EXPECT_EQ(j["error"]["code"], "internal_error");
  EXPECT_EQ(j["error"]["message"], "internal error");
  EXPECT_EQ(j["request_id"], "boom-1");
  EXPECT_EQ(r.body.find("secret"), std::string::npos);
  EXPECT_EQ(c.request("GET", "/echo").status, 200U);
  EXPECT_EQ(c.connections_opened(), 1U);
  EXPECT_EQ(observer_.statuses(), (std::vector<unsigned>{500U, 200U}));
}

TEST_F(ServerTest, InvalidHandlerStatusGives500) {
  start();
  auto c = client();
  EXPECT_EQ(c.request("GET", "/bad-status").status, 500U);
  EXPECT_EQ(c.request("GET", "/echo").status, 200U);
}

TEST_F(ServerTest, HeadGetsContentLengthButNoBody) {
  start();
  auto c = client();
  const auto get = c.request("GET", "/echo");
  const auto head = c.request("HEAD", "/echo");
  EXPECT_EQ(head.status, 200U);
  EXPECT_TRUE(head.body.empty());
  // The echoed method differs in length ("HEAD" vs "GET"), hence the +1.
  EXPECT_EQ(head.header("Content-Length"), std::to_string(get.body.size() + 1));
  EXPECT_EQ(c.request("GET", "/echo").status, 200U);  // framing intact
  EXPECT_EQ(c.connections_opened(), 1U);
}

TEST_F(ServerTest, NoContentHasNoBody) {
  start();
  auto c = client();
  const auto r = c.request("GET", "/no-content");
  EXPECT_EQ(r.status, 204U);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(c.request("GET", "/echo").status, 200U);
}

TEST_F(ServerTest, UnsafeOrReservedResponseHeadersAreDropped) {
  start();
  auto c = client();
  const auto r = c.request("GET", "/headers");
  EXPECT_EQ(r.status, 200U);
  EXPECT_EQ(r.header("Allow"), "GET");
  EXPECT_EQ(r.header("Content-Length"), "0");
  EXPECT_FALSE(r.has_header("X-Evil"));
  EXPECT_FALSE(r.has_header("Injected"));
  EXPECT_EQ(c.request("GET", "/echo").status, 200U);
}

TEST_F(ServerTest, GracefulStopWaitsForInFlightRequest) {
  start();
  std::promise<HttpResponse> slow;
  std::thread holder([&] {
    auto c = client();
    try {
      slow.set_value(c.request("GET", "/block"));
    } catch (...) {
      slow.set_exception(std::current_exception());
    }
  });
  auto idle = client();
  ASSERT_EQ(idle.request("GET", "/echo").status, 200U);
  ASSERT_TRUE(gate_.wait_entered(1));

  auto stopped = std::async(std::launch::async, [&] { return server_->stop(); });
  EXPECT_TRUE(idle.wait_for_close(2000ms));  // idle keep-alive connection closed promptly
  EXPECT_EQ(stopped.wait_for(100ms), std::future_status::timeout);  // still waiting

  gate_.release();
  const auto r = slow.get_future().get();
  holder.join();
  EXPECT_EQ(r.status, 200U);
  EXPECT_EQ(r.header("Connection"), "close");
  EXPECT_TRUE(stopped.get());
  EXPECT_TRUE(server_->stop());  // idempotent
  server_->wait();               // returns at once

  auto late = client();
  EXPECT_THROW(late.request("GET", "/echo"), std::runtime_error);
}

TEST_F(ServerTest, StopReturnsFalseWhenDeadlinePasses) {
  auto options = default_options();
  options.shutdown_deadline = 100ms;
  start(options);
  std::thread holder([&] {
    auto c = client();
    try {
      // The abandoned request may or may not get its response out: only stop()'s answer counts.
      c.request("GET", "/block");
    } catch (const std::runtime_error&) {
    }
  });
  ASSERT_TRUE(gate_.wait_entered(1));
  std::thread releaser([&] {
    std::this_thread::sleep_for(500ms);  // well past the deadline
    gate_.release();
  });
  EXPECT_FALSE(server_->stop());
  releaser.join();
  server_.reset();  // abandoned connection is closed here
  holder.join();
}

TEST_F(ServerTest, IdleTimeoutClosesConnection) {
  auto options = default_options();
  options.idle_timeout = 200ms;
  start(options);
  auto c = client();
  ASSERT_EQ(c.request("GET", "/echo").status, 200U);
  const auto begin = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.wait_for_close(3000ms));
  const auto waited = std::chrono::steady_clock::now() - begin;
  EXPECT_GE(waited, 100ms);
  EXPECT_LT(waited, 2000ms);
}

TEST_F(ServerTest, ReadTimeoutClosesIncompleteRequest) {
  auto options = default_options();
  options.read_timeout = 300ms;
  start(options);
  auto c = client();
  const auto begin = std::chrono::steady_clock::now();
  const auto raw = c.raw("GET /echo HTTP/1.1\r\nHost: x\r\n", 3000ms);  // no blank line
  const auto waited = std::chrono::steady_clock::now() - begin;
  EXPECT_TRUE(raw.empty()) << raw;
  EXPECT_GE(waited, 200ms);
  EXPECT_LT(waited, 2500ms);
}

TEST_F(ServerTest, ConnectionsPastTheLimitAreClosed) {
  auto options = default_options();
  options.max_connections = 1;
  start(options);
  auto first = client();
  ASSERT_EQ(first.request("GET", "/echo").status, 200U);
  auto second = client();
  EXPECT_THROW(second.request("GET", "/echo"), std::runtime_error);
  EXPECT_EQ(first.request("GET", "/echo").status, 200U);
  EXPECT_GE(server_->connections_refused(), 1U);
  EXPECT_EQ(server_->connections_evicted(), 0U);
  first.close();
  // Once the first connection is gone, a new one is served (the server notices the close
  // asynchronously, so allow a few attempts).
  bool served = false;
  for (int attempt = 0; attempt < 50 && !served; ++attempt) {
    try {
      served = second.request("GET", "/echo").status == 200U;
    } catch (const std::runtime_error&) {
      std::this_thread::sleep_for(20ms);
    }
  }
  EXPECT_TRUE(served);
}

// A TCP connection that sends nothing; -1 on failure.
int connect_silent(unsigned short port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Waits up to `max` for the server to close `fd` (a read returns end of stream).
bool closed_within(int fd, std::chrono::milliseconds max) {
  timeval timeout{};
  timeout.tv_sec = static_cast<time_t>(max.count() / 1000);
  timeout.tv_usec = static_cast<suseconds_t>((max.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  char byte = 0;
  return ::recv(fd, &byte, 1, 0) == 0;
}

// A request is parsed from what has arrived before the server reads on: one that arrives in
// pieces (the start line cut, the header's end with part of the body, the rest of the body) is
// read on from each point and answered once.
TEST_F(ServerTest, ARequestArrivingInPiecesIsAnsweredOnce) {
  start();
  const int fd = connect_silent(server_->port());
  ASSERT_GE(fd, 0);
  for (const std::string_view piece :
       {std::string_view("POST /echo HTT"), std::string_view("P/1.1\r\nHost: x\r\nContent-Le"),
        std::string_view("ngth: 5\r\nConnection: close\r\n\r\nab"), std::string_view("cde")}) {
    ASSERT_EQ(::send(fd, piece.data(), piece.size(), 0), static_cast<ssize_t>(piece.size()));
    std::this_thread::sleep_for(50ms);
  }
  timeval timeout{};
  timeout.tv_sec = 3;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string raw;
  char chunk[4096];
  for (ssize_t n = 0; (n = ::recv(fd, chunk, sizeof chunk, 0)) > 0;) {
    raw.append(chunk, static_cast<std::size_t>(n));
  }
  ::close(fd);
  const auto response = parse_raw_response(raw);
  EXPECT_EQ(response.status, 200U) << raw;
  EXPECT_EQ(parse_json(response.body)["body"], "abcde");
  EXPECT_EQ(raw.find("HTTP/1.1", 1), std::string::npos) << raw;
}

// An answer is written at once when it fits in the socket's send buffer; the rest of one that
// does not (larger than the kernel lets a send buffer grow, to a client that reads late) follows
// asynchronously, whole and in order, and the connection then serves its next request.
TEST_F(ServerTest, AnAnswerLargerThanTheSendBufferReachesAClientThatReadsLate) {
  ServerOptions options = default_options();
  options.max_body_bytes = 8 * 1024 * 1024;
  start(options);
  const int fd = connect_silent(server_->port());
  ASSERT_GE(fd, 0);
  std::string body(6 * 1024 * 1024, ' ');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + (i * 7) % 26);
  const std::string request =
      "POST /echo/large HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n" + body + "GET /echo/after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  for (std::size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    ASSERT_GT(n, 0);
    sent += static_cast<std::size_t>(n);
  }
  std::this_thread::sleep_for(300ms);  // the server meanwhile fills its send buffer and waits
  timeval timeout{};
  timeout.tv_sec = 5;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string raw;
  std::vector<char> chunk(1 << 16);
  for (ssize_t n = 0; (n = ::recv(fd, chunk.data(), chunk.size(), 0)) > 0;) {
    raw.append(chunk.data(), static_cast<std::size_t>(n));
  }
  ::close(fd);
  const auto second = raw.find("HTTP/1.1 200", 1);
  ASSERT_NE(second, std::string::npos) << raw.size() << " bytes received";
  const auto first = parse_raw_response(raw.substr(0, second));
  ASSERT_EQ(first.status, 200U);
  EXPECT_TRUE(parse_json(first.body)["body"] == body);
  EXPECT_EQ(parse_json(parse_raw_response(raw.substr(second)).body)["path"], "/echo/after");
  EXPECT_EQ(observer_.statuses(), std::vector<unsigned>(2, 200U));
}

TEST_F(ServerTest, AtTheLimitTheOldestNeverAnsweredConnectionMakesRoom) {
  auto options = default_options();
  options.max_connections = 3;
  start(options);
  auto served = client();
  ASSERT_EQ(served.request("GET", "/echo").status, 200U);  // answered: never evicted
  const int oldest = connect_silent(server_->port());
  ASSERT_GE(oldest, 0);
  std::this_thread::sleep_for(50ms);
  const int newer = connect_silent(server_->port());
  ASSERT_GE(newer, 0);
  std::this_thread::sleep_for(50ms);  // both accepted: the server is at its limit
  auto newcomer = client();
  EXPECT_EQ(newcomer.request("GET", "/echo").status, 200U);
  EXPECT_TRUE(closed_within(oldest, 2000ms));
  EXPECT_FALSE(closed_within(newer, 200ms));
  EXPECT_EQ(served.request("GET", "/echo").status, 200U);
  // Counted, so an operator can see the limit at work (nbo_http_connections_evicted_total).
  EXPECT_EQ(server_->connections_evicted(), 1U);
  EXPECT_EQ(server_->connections_refused(), 0U);
  ::close(oldest);
  ::close(newer);
}

// At the limit, the accept loop looks at every connection to choose one to evict, while those
// connections end on their own threads. One that ends meanwhile may leave its last reference with
// the accept loop, and its destructor unregisters it under the lock the loop holds: the server
// must release those references after the lock, or it deadlocks and never answers again.
TEST_F(ServerTest, ConnectionsEndingWhileTheLimitEvictsDoNotStopTheServer) {
  auto options = default_options();
  options.max_connections = 8;
  start(options);
  std::atomic<bool> churning{true};
  std::vector<std::thread> churners;
  for (int t = 0; t < 4; ++t) {
    churners.emplace_back([&] {
      while (churning.load()) {
        const int fd = connect_silent(server_->port());
        if (fd >= 0) ::close(fd);
      }
    });
  }
  std::this_thread::sleep_for(1500ms);
  churning.store(false);
  for (auto& churner : churners) churner.join();
  auto answer = request_async("/echo/after");
  ASSERT_EQ(answer.wait_for(5s), std::future_status::ready) << "the server stopped answering";
  EXPECT_EQ(answer.get().status, 200U);
  EXPECT_GT(server_->connections_evicted(), 0U);
}

TEST(ServerLifecycle, BindFailureNamesHostAndPort) {
  ServerOptions options;
  options.port = 0;
  Server first(options, [](const Request&) { return Response{}; });
  options.port = first.port();
  try {
    Server second(options, [](const Request&) { return Response{}; });
    FAIL() << "second bind succeeded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(first.port())),
              std::string::npos)
        << e.what();
  }
}

TEST(ServerLifecycle, StopWithoutStartAndDestroyWithoutStop) {
  ServerOptions options;
  options.port = 0;
  {
    Server server(options, [](const Request&) { return Response{}; });
    EXPECT_NE(server.port(), 0);
    EXPECT_TRUE(server.stop());
    EXPECT_TRUE(server.stop());
    EXPECT_THROW(server.start(), std::logic_error);
  }
  {
    Server server(options, [](const Request&) { return Response{}; });
    server.start();
    HttpClient c("127.0.0.1", server.port());
    EXPECT_EQ(c.request("GET", "/").status, 200U);
  }  // destructor stops
}

}  // namespace
}  // namespace nbo::http
