#include "nbo/train/csv.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "nbo/train/fingerprint.hpp"

namespace nbo::train {
namespace {

using ::testing::HasSubstr;

// Runs parse_csv expecting a DataError and returns it.
DataError parse_error(std::string_view bytes, const CsvOptions& options = {}) {
  try {
    parse_csv(bytes, "t.csv", options);
  } catch (const DataError& e) {
    return e;
  }
  ADD_FAILURE() << "no DataError for input: " << bytes;
  return DataError("", 0, "", "");
}

TEST(Csv, ParsesCrlfAndLfWithLineNumbers) {
  const CsvTable t = parse_csv("id,v\r\n1,a\n2,b\r\n3,c", "t.csv");
  EXPECT_EQ(t.delimiter, ',');
  EXPECT_FALSE(t.had_bom);
  ASSERT_EQ(t.header, (std::vector<std::string>{"id", "v"}));
  ASSERT_EQ(t.rows.size(), 3u);
  EXPECT_EQ(t.rows[0].line, 2u);
  EXPECT_EQ(t.rows[2].line, 4u);
  EXPECT_EQ(t.rows[2].fields, (std::vector<std::string>{"3", "c"}));
}

TEST(Csv, SkipsBomAndDetectsSemicolon) {
  const CsvTable t = parse_csv("\xEF\xBB\xBFid;Прибыль\r\n1;0,98\r\n", "money.csv");
  EXPECT_TRUE(t.had_bom);
  EXPECT_EQ(t.delimiter, ';');
  EXPECT_EQ(t.header, (std::vector<std::string>{"id", "Прибыль"}));
  EXPECT_EQ(t.rows.at(0).fields, (std::vector<std::string>{"1", "0,98"}));
}

TEST(Csv, QuotedFieldsFollowRfc4180) {
  const CsvTable t =
      parse_csv("a,b\n\"x,y\",\"say \"\"hi\"\"\"\n\"multi\nline\",\"\"\nlast,z\n", "t.csv");
  ASSERT_EQ(t.rows.size(), 3u);
  EXPECT_EQ(t.rows[0].fields, (std::vector<std::string>{"x,y", "say \"hi\""}));
  EXPECT_EQ(t.rows[1].fields, (std::vector<std::string>{"multi\nline", ""}));
  EXPECT_EQ(t.rows[1].line, 3u);
  EXPECT_EQ(t.rows[2].line, 5u);  // the quoted newline counts as a line
}

TEST(Csv, TrailingBlankLinesAreIgnoredButInnerOnesAreErrors) {
  EXPECT_EQ(parse_csv("a\n1\n\r\n\n", "t.csv").rows.size(), 1u);
  const DataError e = parse_error("a,b\n1,2\n\n3,4\n");
  EXPECT_EQ(e.line(), 3u);
  EXPECT_THAT(e.what(), HasSubstr("blank line"));
}

TEST(Csv, GivenDelimiterIsUsed) {
  const CsvTable t = parse_csv("a;b,c\n1;2,3\n", "t.csv", CsvOptions{',', {}, true});
  EXPECT_EQ(t.header, (std::vector<std::string>{"a;b", "c"}));
}

TEST(Csv, AmbiguousDelimiterIsAnError) {
  const DataError e = parse_error("a,b;c\n");
  EXPECT_EQ(e.line(), 1u);
  EXPECT_THAT(e.what(), HasSubstr("delimiter"));
}

TEST(Csv, EmptyFileNamesFileLineAndFirstRequiredColumn) {
  CsvOptions options;
  options.required_columns = {"id", "v"};
  for (const std::string_view bytes : {"", "\xEF\xBB\xBF", "\r\n\n"}) {
    const DataError e = parse_error(bytes, options);
    EXPECT_EQ(e.file(), "t.csv");
    EXPECT_EQ(e.line(), 1u);
    EXPECT_EQ(e.column(), "id");
    EXPECT_EQ(std::string(e.what()), "t.csv:1: column 'id': the file is empty (no header line)");
  }
}

TEST(Csv, HeaderIsChecked) {
  CsvOptions options;
  options.required_columns = {"id", "Выручка"};
  options.allow_extra_columns = false;
  DataError e = parse_error("id,Выручкa\n", options);  // Latin 'a' at the end
  EXPECT_EQ(e.line(), 1u);
  EXPECT_EQ(e.column(), "Выручка");
  EXPECT_THAT(e.what(), HasSubstr("t.csv:1: column 'Выручка': missing from the header"));

  e = parse_error("id,Выручка,extra\n", options);
  EXPECT_EQ(e.column(), "extra");
  EXPECT_THAT(e.what(), HasSubstr("unexpected column"));

  e = parse_error("id,id\n");
  EXPECT_EQ(e.column(), "id");
  e = parse_error("id,,x\n");
  EXPECT_EQ(e.column(), "#2");
}

TEST(Csv, WrongFieldCountNamesTheColumn) {
  DataError e = parse_error("a,b,c\n1,2,3\n1,2\n");
  EXPECT_EQ(e.line(), 3u);
  EXPECT_EQ(e.column(), "c");
  e = parse_error("a,b\n1,2,3\n");
  EXPECT_EQ(e.line(), 2u);
  EXPECT_EQ(e.column(), "#3");
}

TEST(Csv, QuotingErrors) {
  DataError e = parse_error("a,b\n1,x\"y\n");
  EXPECT_EQ(e.line(), 2u);
  EXPECT_EQ(e.column(), "b");
  e = parse_error("a,b\n1,\"x\"y\n");
  EXPECT_EQ(e.column(), "b");
  EXPECT_THAT(e.what(), HasSubstr("after the closing"));
  e = parse_error("a,b\n1,2\n\"open,3\n4,5\n");
  EXPECT_EQ(e.line(), 3u);
  EXPECT_EQ(e.column(), "a");
  EXPECT_THAT(e.what(), HasSubstr("not closed"));
}

TEST(Csv, BareCarriageReturnIsAnError) {
  const DataError e = parse_error("a,b\r1,2\n");
  EXPECT_EQ(e.line(), 1u);
  EXPECT_EQ(e.column(), "#2");
}

TEST(Csv, InvalidUtf8NamesFileLineAndColumn) {
  const DataError e = parse_error("id,Категория\n1,ok\n2,Кух\xFFня\n");
  EXPECT_EQ(e.file(), "t.csv");
  EXPECT_EQ(e.line(), 3u);
  EXPECT_EQ(e.column(), "Категория");
  EXPECT_THAT(e.what(), HasSubstr("t.csv:3: column 'Категория': invalid UTF-8 (byte 0xFF"));
  EXPECT_EQ(parse_error("i\xC0\xAF\n").column(), "#1");  // overlong '/' in the header
}

TEST(Csv, Utf8Validation) {
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("Снизилась 𝄞 €"));
  std::size_t at = 99;
  EXPECT_FALSE(is_valid_utf8("ab\xE2\x82", &at));  // truncated
  EXPECT_EQ(at, 2u);
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xE0\x80\xAF"));      // overlong
  EXPECT_FALSE(is_valid_utf8("\x80"));
}

TEST(Csv, MissingFileIsADataError) {
  try {
    read_csv("/nonexistent/dir/market_file.csv");
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(e.file(), "market_file.csv");
    EXPECT_EQ(e.line(), 0u);
    EXPECT_THAT(e.what(), HasSubstr("market_file.csv: cannot read '/nonexistent/dir/"));
  }
}

TEST(Csv, ParseNumberAcceptsPointOrComma) {
  auto n = parse_number("3293.1");
  ASSERT_TRUE(n);
  EXPECT_DOUBLE_EQ(n->value, 3293.1);
  EXPECT_FALSE(n->decimal_comma);
  n = parse_number("0,98");
  ASSERT_TRUE(n);
  EXPECT_DOUBLE_EQ(n->value, 0.98);
  EXPECT_TRUE(n->decimal_comma);
  EXPECT_DOUBLE_EQ(parse_number("-4")->value, -4.0);
  EXPECT_DOUBLE_EQ(parse_number("+1e3")->value, 1000.0);
  for (const char* bad : {"", " 1", "1 ", "12,x", "1,234.5", "1.", ".5", "nan", "inf", "1e", "--1",
                          "1e999", "0x10"}) {
    EXPECT_FALSE(parse_number(bad)) << bad;
  }
}

TEST(Csv, NumberAtNamesFileLineAndColumn) {
  const CsvTable t = parse_csv("id,Выручка\n1,5\n2,\"12,x\"\n", "market_money.csv");
  EXPECT_DOUBLE_EQ(number_at(t, t.rows[0], 1).value, 5.0);
  try {
    number_at(t, t.rows[1], 1);
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()),
              "market_money.csv:3: column 'Выручка': '12,x' is not a number");
    EXPECT_EQ(e.line(), 3u);
    EXPECT_EQ(e.column(), "Выручка");
  }
}

TEST(Fingerprint, Sha256KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace nbo::train
