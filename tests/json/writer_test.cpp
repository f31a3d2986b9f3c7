// json::Writer writes what nlohmann::json::dump() (error handler "replace") writes for the same
// values: the API's answers keep their exact text after the move to the direct writer.
#include "nbo/json/writer.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

namespace nbo::json {
namespace {

using namespace std::string_literals;

std::string dumped(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string written_number(double value) {
  std::string out;
  Writer writer(out);
  writer.number(value);
  return out;
}

std::string written_string(std::string_view value) {
  std::string out;
  Writer writer(out);
  writer.string(value);
  return out;
}

// An object of one member named `name`, whose value is null.
std::string written_key(std::string_view name) {
  std::string out;
  Writer writer(out);
  writer.begin_object();
  writer.key(name);
  writer.null();
  writer.end_object();
  return out;
}

TEST(JsonWriter, NumbersReadAsNlohmannDumpsThem) {
  const double cases[] = {0.0,
                          -0.0,
                          1.0,
                          100.0,
                          0.1,
                          1e-5,
                          1e-4,
                          0.0001234,
                          123456789012345.0,
                          1e15,
                          1e16,
                          1e17,
                          1.5e300,
                          -2.5e-300,
                          4.9e-324,
                          std::numeric_limits<double>::max(),
                          0.98412345678901234,
                          9007199254740993.0};
  for (const double value : cases) {
    EXPECT_EQ(written_number(value), dumped(value)) << value;
  }
  std::mt19937_64 random(42);
  std::uniform_real_distribution<double> mantissa(-1.0, 1.0);
  std::uniform_int_distribution<int> exponent(-30, 30);
  for (int i = 0; i < 20000; ++i) {
    const double value = std::ldexp(mantissa(random), exponent(random) * 10);
    ASSERT_EQ(written_number(value), dumped(value)) << value;
  }
}

TEST(JsonWriter, NonFiniteNumbersAreNull) {
  EXPECT_EQ(written_number(std::numeric_limits<double>::infinity()), "null");
  EXPECT_EQ(written_number(std::nan("")), "null");
}

TEST(JsonWriter, StringsAreEscapedAsNlohmannDoes) {
  const std::string cases[] = {
      "",
      "plain",
      "quote \" and backslash \\",
      "controls \b\f\n\r\t \x01 \x1f \x7f"s,
      "nul \0 inside"s,
      "кириллица «В один клик»",
      "emoji \xF0\x9F\x98\x80",
      "bad lead \xFF byte",
      "truncated \xD0",
      "broken \xE2\x82 sequence",
      "overlong \xC0\xAF",
      "surrogate \xED\xA0\x80 half",
      "above max \xF4\x90\x80\x80",
      "\xE2\x82\xAC\xE2\x82",
      "\x80\x80\x80",
  };
  for (const auto& value : cases) {
    EXPECT_EQ(written_string(value), dumped(value)) << value;
  }
  // Random bytes: every ill-formed sequence is replaced the way dump() replaces it.
  std::mt19937_64 random(7);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(0, 24);
  for (int i = 0; i < 20000; ++i) {
    std::string value(static_cast<std::size_t>(length(random)), '\0');
    for (auto& c : value) c = static_cast<char>(byte(random));
    ASSERT_EQ(written_string(value), dumped(value)) << i;
  }
}

// Plain ASCII is copied eight bytes at a time: a byte that needs escaping or checking, at any
// position in or after such a run, is still found, in values and in member names.
TEST(JsonWriter, ABytePastPlainTextIsEscapedWhereverItFalls) {
  const char specials[] = {'\0', '\x01', '\x1f', ' ',    '!',    '"',    '#',    '[',    '\\',
                           ']',  '\x7f', '\x80', '\xBF', '\xC0', '\xD0', '\xE2', '\xF0', '\xFF'};
  for (std::size_t length = 1; length <= 70; ++length) {
    for (std::size_t position = 0; position < length; ++position) {
      for (const char special : specials) {
        std::string value(length, 'a');
        value[position] = special;
        ASSERT_EQ(written_string(value), dumped(value))
            << "length " << length << " byte " << static_cast<int>(special) << " at " << position;
        ASSERT_EQ(written_key(value), dumped(nlohmann::json::object({{value, nullptr}})))
            << "name of length " << length << " byte " << static_cast<int>(special) << " at "
            << position;
      }
    }
    const std::string plain(length, 'b');
    ASSERT_EQ(written_string(plain), dumped(plain));
    ASSERT_EQ(written_key(plain), dumped(nlohmann::json::object({{plain, nullptr}})));
  }
  // Mostly plain text with a rare special byte, as answers are.
  std::mt19937_64 random(11);
  std::uniform_int_distribution<int> pick(0, 99);
  std::uniform_int_distribution<int> printable(0x20, 0x7e);
  std::uniform_int_distribution<int> any_byte(0, 255);
  std::uniform_int_distribution<int> length(0, 80);
  for (int i = 0; i < 20000; ++i) {
    std::string value(static_cast<std::size_t>(length(random)), '\0');
    for (auto& c : value)
      c = static_cast<char>(pick(random) < 97 ? printable(random) : any_byte(random));
    ASSERT_EQ(written_string(value), dumped(value)) << i;
  }
}

TEST(JsonWriter, NestedContainersGetTheirCommas) {
  std::string out;
  Writer writer(out);
  writer.begin_object();
  writer.member("a", 1.5);
  writer.key("list");
  writer.begin_array();
  writer.integer(-3);
  writer.begin_object();
  writer.end_object();
  writer.begin_array();
  writer.end_array();
  writer.null();
  writer.boolean(false);
  writer.unsigned_integer(18446744073709551615ULL);
  writer.raw(R"({"x":[1]})");
  writer.end_array();
  writer.member("s", "text");
  writer.member_integer("n", 7);
  writer.end_object();
  EXPECT_EQ(
      out,
      R"({"a":1.5,"list":[-3,{},[],null,false,18446744073709551615,{"x":[1]}],"s":"text","n":7})");
  EXPECT_TRUE(nlohmann::json::accept(out));
}

// Containers nested past the writer's first 64 (each level below opens an object and an array:
// 63, 65 and 67 containers deep at 32, 33 and 34 levels) keep their own commas, and a container
// opened where a deeper one was closed starts without a member.
TEST(JsonWriter, DeeplyNestedContainersGetTheirCommas) {
  for (const int levels : {1, 32, 33, 34, 100}) {
    std::string out;
    Writer writer(out);
    writer.begin_array();
    for (int level = 1; level < levels; ++level) {
      writer.integer(level);
      writer.begin_object();
      writer.key("n");
      writer.begin_array();
    }
    writer.integer(-1);
    writer.integer(-2);
    for (int level = levels - 1; level >= 1; --level) {
      writer.end_array();
      writer.member_integer("after", level);
      writer.end_object();
      writer.boolean(true);
    }
    writer.end_array();
    writer.begin_object();
    writer.member_integer("k", 1);
    writer.end_object();

    std::string expected = "[";
    for (int level = 1; level < levels; ++level) expected += std::to_string(level) + R"(,{"n":[)";
    expected += "-1,-2";
    for (int level = levels - 1; level >= 1; --level) {
      expected += R"(],"after":)" + std::to_string(level) + "},true";
    }
    expected += R"(]{"k":1})";
    EXPECT_EQ(out, expected) << levels;
    EXPECT_TRUE(nlohmann::json::accept(out.substr(0, out.size() - 7))) << levels;
  }
}

}  // namespace
}  // namespace nbo::json
