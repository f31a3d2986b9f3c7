// json::Document: the token tape request bodies and stored rows are read from.
#include "nbo/json/document.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace nbo::json {
namespace {

ParseError parse_error(std::string_view text, std::size_t max_depth = 32) {
  try {
    Document::parse(text, max_depth);
  } catch (const ParseError& error) {
    return error;
  }
  ADD_FAILURE() << "parsed: " << text;
  return ParseError(ParseError::Reason::kSyntax, 0, "");
}

TEST(JsonDocument, ReadsScalarsObjectsAndArraysInTextOrder) {
  const auto document = Document::parse(
      R"( {"b": 1, "a": [true, null, "x\u00e9", -2.5e3, {}], "c": {"d": 12345678901234567890}} )",
      32);
  const Value root = document.root();
  ASSERT_TRUE(root.is_object());
  EXPECT_EQ(root.size(), 3U);
  std::vector<std::string> keys;
  root.for_each_member([&](std::string_view key, Value) { keys.emplace_back(key); });
  EXPECT_EQ(keys, (std::vector<std::string>{"b", "a", "c"}));
  EXPECT_EQ(root.find("b").number(), 1.0);

  const Value list = root.find("a");
  ASSERT_TRUE(list.is_array());
  EXPECT_EQ(list.size(), 5U);
  std::vector<std::string> kinds;
  list.for_each_element([&](std::size_t i, Value element) {
    EXPECT_EQ(i, kinds.size());
    kinds.emplace_back(element.type_name());
  });
  EXPECT_EQ(kinds, (std::vector<std::string>{"boolean", "null", "string", "number", "object"}));
  std::vector<Value> elements;
  list.for_each_element([&](std::size_t, Value element) { elements.push_back(element); });
  EXPECT_TRUE(elements[0].boolean());
  EXPECT_EQ(elements[2].string(), "x\xC3\xA9");
  EXPECT_EQ(elements[3].number(), -2500.0);
  EXPECT_EQ(elements[4].size(), 0U);

  EXPECT_EQ(root.find("c").find("d").number(), 12345678901234567890.0);
  EXPECT_FALSE(root.find("missing").found());
  EXPECT_TRUE(root.find("a").found());
}

TEST(JsonDocument, TheLastDuplicateKeyWinsAsInNlohmannsDom) {
  const auto document = Document::parse(R"({"k": 1, "k": 2})", 32);
  EXPECT_EQ(document.root().find("k").number(), 2.0);
  EXPECT_EQ(document.root().size(), 2U);
}

TEST(JsonDocument, ScalarRoot) {
  EXPECT_EQ(Document::parse("\"text\"", 32).root().string(), "text");
  EXPECT_EQ(Document::parse(" 42 ", 32).root().number(), 42.0);
}

TEST(JsonDocument, SyntaxErrorsCarryTheByteWhereParsingStopped) {
  const auto error = parse_error(R"({"a": 1,})");
  EXPECT_EQ(error.reason(), ParseError::Reason::kSyntax);
  EXPECT_EQ(error.byte(), 9U);
  for (const std::string_view bad : {"", "{", "[1 2]", "{'a': 1}", "nul", "01", "1.", "\"\x01\"",
                                     "\"\xFF\"", "[1]x", "{\"a\" 1}", "NaN"}) {
    EXPECT_EQ(parse_error(bad).reason(), ParseError::Reason::kSyntax) << bad;
  }
}

TEST(JsonDocument, NumbersBeyondADoubleAreOutOfRange) {
  EXPECT_EQ(parse_error("[1e400]").reason(), ParseError::Reason::kNumberOutOfRange);
}

TEST(JsonDocument, NestingIsLimitedAsContainersOpen) {
  EXPECT_NO_THROW(Document::parse("[[[1]]]", 3));
  const auto error = parse_error("[[[[1]]]]", 3);
  EXPECT_EQ(error.reason(), ParseError::Reason::kTooDeep);
  // Deeper than the limit, then broken: the depth is what is reported, found as it opens.
  EXPECT_EQ(parse_error(std::string(100000, '['), 32).reason(), ParseError::Reason::kTooDeep);
}

TEST(JsonDocument, WrongKindAccessIsALogicError) {
  const auto document = Document::parse(R"({"a": "x"})", 32);
  EXPECT_THROW(static_cast<void>(document.root().find("a").number()), std::logic_error);
  EXPECT_THROW(static_cast<void>(document.root().string()), std::logic_error);
  EXPECT_THROW(document.root().find("a").for_each_member([](std::string_view, Value) {}),
               std::logic_error);
}

}  // namespace
}  // namespace nbo::json
