// json::Document: the token tape request bodies and stored rows are read from.
#include "nbo/json/document.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
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

namespace nbo::json {
namespace {

// The tape as text: kind, count, number bits and string bytes of every token, in order.
void describe(Value value, std::string& out) {
  switch (value.kind()) {
    case Kind::kNull:
      out += "n;";
      return;
    case Kind::kBoolean:
      out += value.boolean() ? "t;" : "f;";
      return;
    case Kind::kNumber: {
      std::uint64_t bits = 0;
      const double number = value.number();
      std::memcpy(&bits, &number, sizeof bits);
      out += fmt::format("d{:016x};", bits);
      return;
    }
    case Kind::kString:
      out += fmt::format("s{}:", value.string().size());
      out += value.string();
      out += ';';
      return;
    case Kind::kObject:
      out += fmt::format("o{}{{", value.size());
      value.for_each_member([&](std::string_view key, Value member) {
        out += fmt::format("k{}:", key.size());
        out += key;
        out += ';';
        describe(member, out);
      });
      out += '}';
      return;
    case Kind::kArray:
      out += fmt::format("a{}[", value.size());
      value.for_each_element([&](std::size_t, Value element) { describe(element, out); });
      out += ']';
      return;
  }
}

// What a parser makes of a text: its tape, or its error (reason, offset and message).
std::string outcome(std::string_view text, std::size_t max_depth, bool reference) {
  try {
    const Document document =
        reference ? Document::parse_reference(text, max_depth) : Document::parse(text, max_depth);
    std::string out = fmt::format("tokens {}: ", document.token_count());
    describe(document.root(), out);
    return out;
  } catch (const ParseError& error) {
    return fmt::format("error {} at {}: {}", static_cast<int>(error.reason()), error.byte(),
                       error.what());
  }
}

bool by_simdjson(std::string_view text, std::size_t max_depth = 32) {
  return Document::parse(text, max_depth).parsed_by_simdjson();
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(JsonDocumentFastPath, AgreesWithNlohmannOnTrickyTexts) {
  const std::vector<std::string> texts = {"",
                                          " ",
                                          "0",
                                          "-0",
                                          "-0.0",
                                          "0.0",
                                          "-0e5",
                                          "1e400",
                                          "-1e400",
                                          "1e-400",
                                          "4.9e-324",
                                          "2.2250738585072011e-308",
                                          "9007199254740993",
                                          "-9223372036854775808",
                                          "-9223372036854775809",
                                          "18446744073709551615",
                                          "18446744073709551616",
                                          "123456789012345678901234567890",
                                          "0.1",
                                          "1.7976931348623157e308",
                                          "01",
                                          "1.",
                                          ".5",
                                          "+1",
                                          "1e",
                                          "-",
                                          "NaN",
                                          "Infinity",
                                          "true",
                                          "false",
                                          "null",
                                          "tru",
                                          "nul",
                                          "[]",
                                          "{}",
                                          "[1,]",
                                          "{\"a\":1,}",
                                          "[1 2]",
                                          "{\"a\" 1}",
                                          "{\"a\":1,\"a\":2}",
                                          "\"\\u0000\"",
                                          "\"\\ud83d\\ude00\"",
                                          "\"\\ud83d\"",
                                          "\"\\ude00\"",
                                          "\"\\ud83d\\u0041\"",
                                          "\"\\uDBFF\\uDFFF\"",
                                          "\"\\/\\b\\f\\n\\r\\t\"",
                                          "\"\\x\"",
                                          "\"\\u12\"",
                                          "\"tab\there\"",
                                          "\"\xc3\xa9\"",
                                          "\"\xc3\"",
                                          "\"\xed\xa0\x80\"",
                                          "\"\xf4\x90\x80\x80\"",
                                          "\xef\xbb\xbf{}",
                                          "{} x",
                                          "[1] [2]",
                                          "[[[[[]]]]]",
                                          "[[[[[[]]]]]]",
                                          "{\"a\":{\"b\":{\"c\":{\"d\":{}}}}}",
                                          " \t\r\n[ 1 , \"x\" ]\n",
                                          "[1]\f",
                                          std::string("[1]\0", 4),
                                          std::string("\"a\0b\"", 5),
                                          "{\"k\\u00e9y\":\"v\"}",
                                          "{\"\\ud800\":1}",
                                          "[1e308, 1e309]",
                                          "[-1.5E+3, 2e-3, 0E0]"};
  for (const std::string& text : texts) {
    EXPECT_EQ(outcome(text, 5, false), outcome(text, 5, true)) << "text: " << text;
  }
}

TEST(JsonDocumentFastPath, AgreesWithNlohmannOnEveryCommittedJsonFile) {
  std::size_t files = 0;
  for (const char* root : {NBO_FIXTURES_DIR, NBO_SOURCE_DIR "/fuzz/corpus", NBO_MODELS_DIR}) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
      if (!entry.is_regular_file()) continue;
      const std::string text = read_file(entry.path());
      for (std::size_t depth : {3, 64}) {
        EXPECT_EQ(outcome(text, depth, false), outcome(text, depth, true)) << entry.path();
      }
      try {
        EXPECT_TRUE(Document::parse(text, 64) == Document::parse_reference(text, 64))
            << entry.path();
      } catch (const ParseError&) {
      }
      // Every strict prefix too: truncated bodies must fail the same way.
      if (text.size() < 4096) {
        for (std::size_t cut = 0; cut < text.size(); cut += 7) {
          const std::string_view prefix(text.data(), cut);
          EXPECT_EQ(outcome(prefix, 64, false), outcome(prefix, 64, true))
              << entry.path() << " cut at " << cut;
        }
      }
      ++files;
    }
  }
  EXPECT_GT(files, 20U);
}

TEST(JsonDocumentFastPath, SimdjsonReadsOrdinaryBodiesAndHandsTheRestToNlohmann) {
  EXPECT_TRUE(by_simdjson(R"({"customer_id":"1","features":{"a":1.5,"b":"x","c":[true,null]}})"));
  EXPECT_TRUE(by_simdjson("\"\\ud83d\\ude00\""));
  EXPECT_TRUE(by_simdjson("[-1, 0, 1e-400]"));
  EXPECT_FALSE(by_simdjson("-0.0"));                       // nlohmann's sign of zero decides
  EXPECT_THROW(Document::parse("[[[]]]", 2), ParseError);  // nesting past the limit
  // An unpaired surrogate escape: nlohmann's error, whatever simdjson makes of it.
  EXPECT_THROW(Document::parse("\"\\ude00\"", 32), ParseError);
  // Large bodies use a parser of their own, with the same result.
  std::string large = "[";
  for (int i = 0; i < 60'000; ++i) large += fmt::format("{}{}", i == 0 ? "" : ",", i);
  large += "]";
  ASSERT_GT(large.size(), 256U * 1024U);
  EXPECT_TRUE(by_simdjson(large));
  EXPECT_EQ(outcome(large, 4, false), outcome(large, 4, true));
}

}  // namespace
}  // namespace nbo::json
