#include "nbo/http/message.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

#include "nbo/http/error_body.hpp"
#include "nbo/http/request_util.hpp"

namespace nbo::http {
namespace {

TEST(ErrorBody, HasTheProjectShape) {
  const auto r = error_response(422, "invalid_field", "age must be \"positive\"", "rid-1", "age");
  EXPECT_EQ(r.status, 422U);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_TRUE(r.route.empty());
  const auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j, nlohmann::json::parse(
                   R"({"error":{"code":"invalid_field","message":"age must be \"positive\"",)"
                   R"("field":"age"},"request_id":"rid-1"})"));
}

TEST(ErrorBody, OmitsEmptyFieldAndSurvivesBadUtf8) {
  const auto j = nlohmann::json::parse(error_json("bad_request", "bad \xff byte", "rid-2"));
  EXPECT_FALSE(j["error"].contains("field"));
  EXPECT_EQ(j["request_id"], "rid-2");
  EXPECT_EQ(j["error"]["code"], "bad_request");
}

TEST(Request, HeaderLookupIsCaseInsensitive) {
  Request request;
  request.headers = {{"X-Thing", "one"}, {"x-thing", "two"}, {"Accept", "*/*"}};
  EXPECT_EQ(request.header("x-THING"), "one");
  EXPECT_EQ(request.header("accept"), "*/*");
  EXPECT_EQ(request.header("missing"), "");
}

TEST(RequestUtil, RequestIdValidation) {
  EXPECT_TRUE(is_valid_request_id("a"));
  EXPECT_TRUE(is_valid_request_id("A-z_0.9:x"));
  EXPECT_TRUE(is_valid_request_id(std::string(128, 'x')));
  EXPECT_FALSE(is_valid_request_id(""));
  EXPECT_FALSE(is_valid_request_id(std::string(129, 'x')));
  EXPECT_FALSE(is_valid_request_id("a b"));
  EXPECT_FALSE(is_valid_request_id("a/b"));
  const auto id = generate_request_id();
  EXPECT_EQ(id.size(), 32U);
  EXPECT_TRUE(is_valid_request_id(id));
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(id, generate_request_id());
}

TEST(RequestUtil, GeneratedRequestIdsStartWithTheirMillisecondsAndSortByTime) {
  const auto before_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  const auto first = generate_request_id();
  std::this_thread::sleep_for(std::chrono::milliseconds(3));
  const auto second = generate_request_id();
  const auto after_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  const auto first_ms = static_cast<long long>(std::stoull(first.substr(0, 12), nullptr, 16));
  const auto second_ms = static_cast<long long>(std::stoull(second.substr(0, 12), nullptr, 16));
  EXPECT_GE(first_ms, before_ms);
  EXPECT_LE(second_ms, after_ms);
  EXPECT_GE(second_ms, first_ms + 3);
  EXPECT_LT(first, second);
  // The random part differs between ids made in the same millisecond.
  std::set<std::string> tails;
  for (int i = 0; i < 1000; ++i) tails.insert(generate_request_id().substr(12));
  EXPECT_EQ(tails.size(), 1000U);
}

TEST(RequestUtil, PercentDecoding) {
  EXPECT_EQ(percent_decode_path("/a%20b%2fc+d"), "/a b/c+d");
  EXPECT_EQ(percent_decode_path("/plain"), "/plain");
  EXPECT_FALSE(percent_decode_path("/bad%2").has_value());
  EXPECT_FALSE(percent_decode_path("/bad%g0").has_value());
  EXPECT_FALSE(percent_decode_path("/nul%00").has_value());
}

TEST(RequestUtil, SplitTarget) {
  EXPECT_EQ(split_target("/a/b?x=1?y"),
            (std::pair<std::string_view, std::string_view>{"/a/b", "x=1?y"}));
  EXPECT_EQ(split_target("/a").second, "");
  EXPECT_EQ(split_target("http://host:80/p?q=1").first, "/p");
  EXPECT_EQ(split_target("http://host:80/p?q=1").second, "q=1");
  EXPECT_EQ(split_target("http://host").first, "/");
  EXPECT_EQ(split_target("http://host?q").first, "/");
}

}  // namespace
}  // namespace nbo::http
