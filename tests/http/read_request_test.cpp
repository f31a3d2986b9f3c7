// http::read_request(), the seam of the request-path fuzz target: bytes in memory read as a
// connection reads them, with the server's own answers for what it refuses before any handler.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "nbo/http/server.hpp"

namespace nbo::http {
namespace {

using Outcome = ReadResult::Outcome;

std::string error_code(const Response& response) {
  return nlohmann::json::parse(response.body)["error"]["code"].get<std::string>();
}

TEST(ReadRequest, BuildsTheRequestTheHandlerGets) {
  const std::string bytes =
      "POST /customers/a%20b?x=1 HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
      "X-Request-Id: rid-7\r\nContent-Length: 2\r\n\r\n{}";
  const auto read = read_request(bytes, ServerOptions{});
  ASSERT_EQ(read.outcome, Outcome::kRequest);
  EXPECT_EQ(read.consumed, bytes.size());
  EXPECT_TRUE(read.keep_alive);
  EXPECT_EQ(read.request.method, "POST");
  EXPECT_EQ(read.request.target, "/customers/a%20b?x=1");
  EXPECT_EQ(read.request.path, "/customers/a b");
  EXPECT_EQ(read.request.query, "x=1");
  EXPECT_EQ(read.request.body, "{}");
  EXPECT_EQ(read.request.request_id, "rid-7");
  EXPECT_EQ(read.request.content_type, "application/json");
  EXPECT_EQ(read.request.header("host"), "h");
}

TEST(ReadRequest, StopsAtTheEndOfTheFirstOfPipelinedRequests) {
  const std::string first = "GET /health HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::string second = "GET /ready HTTP/1.0\r\n\r\n";
  const auto read = read_request(first + second, ServerOptions{});
  ASSERT_EQ(read.outcome, Outcome::kRequest);
  EXPECT_EQ(read.consumed, first.size());
  const auto next = read_request(second, ServerOptions{});
  ASSERT_EQ(next.outcome, Outcome::kRequest);
  EXPECT_EQ(next.request.path, "/ready");
  EXPECT_FALSE(next.keep_alive);  // HTTP/1.0 without keep-alive
}

TEST(ReadRequest, WaitsForTheRestOfAnIncompleteRequest) {
  EXPECT_EQ(read_request("", ServerOptions{}).outcome, Outcome::kIncomplete);
  EXPECT_EQ(read_request("GET /health HTTP/1.1\r\nHost:", ServerOptions{}).outcome,
            Outcome::kIncomplete);
  EXPECT_EQ(read_request("POST /predict HTTP/1.1\r\nContent-Length: 5\r\n\r\n{}", ServerOptions{})
                .outcome,
            Outcome::kIncomplete);
}

TEST(ReadRequest, AnswersWhatTheServerRefusesItself) {
  ServerOptions options;
  options.max_body_bytes = 4;
  const auto too_large = read_request(
      "POST /predict HTTP/1.1\r\nX-Request-Id: big\r\nContent-Length: 5\r\n\r\n{}", options);
  ASSERT_EQ(too_large.outcome, Outcome::kAnswered);
  EXPECT_EQ(too_large.answer.status, 413U);
  EXPECT_EQ(error_code(too_large.answer), "payload_too_large");
  EXPECT_EQ(too_large.request.request_id, "big");  // the header was read
  EXPECT_FALSE(too_large.keep_alive);

  const auto malformed = read_request("GET /health HTTP/9\r\n\r\n", options);
  ASSERT_EQ(malformed.outcome, Outcome::kAnswered);
  EXPECT_EQ(malformed.answer.status, 400U);
  EXPECT_FALSE(malformed.request.request_id.empty());

  options.max_header_bytes = 32;
  const auto headers =
      read_request("GET /health HTTP/1.1\r\nX-Long: " + std::string(64, 'a') + "\r\n\r\n", options);
  ASSERT_EQ(headers.outcome, Outcome::kAnswered);
  EXPECT_EQ(headers.answer.status, 431U);

  // A bad target is answered, and the connection stays usable, as on a socket.
  const auto target = read_request("GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n", ServerOptions{});
  ASSERT_EQ(target.outcome, Outcome::kAnswered);
  EXPECT_EQ(target.answer.status, 400U);
  EXPECT_EQ(error_code(target.answer), "bad_request");
  EXPECT_TRUE(target.keep_alive);
}

}  // namespace
}  // namespace nbo::http
