// JsonReader: the paths it tracks and the error of each typed accessor.
#include "nbo/models/json_reader.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace nbo::models {
namespace {

using json = nlohmann::json;

// The JsonError `read` throws, as "<path>|<problem>|<what>" (fails the test if none).
std::string error_of(const std::function<void()>& read) {
  try {
    read();
    ADD_FAILURE() << "no JsonError";
  } catch (const JsonError& error) {
    return error.path() + "|" + error.problem() + "|" + error.what();
  }
  return {};
}

// Just what() of the JsonError `read` throws.
std::string message_of(const std::function<void()>& read) {
  try {
    read();
    ADD_FAILURE() << "no JsonError";
  } catch (const JsonError& error) {
    return error.what();
  }
  return {};
}

const json kDocument = json::parse(R"({
  "estimator": {
    "type": "tree_ensemble",
    "trees": [{"left": [1, -1, -1]}, {"left": [-1]}, {}, {"left": [1, 2.5]}],
    "gamma": 0.5,
    "k": 20,
    "flag": true,
    "names": ["a", "b"],
    "rows": [[1, 2], [3, "x"]]
  },
  "odd key": {"a.b": 1}
})");

TEST(JsonReaderTest, PathsOfNestedMembersAndElements) {
  const JsonReader root(kDocument);
  EXPECT_EQ(root.path(), "");
  EXPECT_EQ(root["estimator"].path(), "estimator");
  EXPECT_EQ(root["estimator"]["trees"][3].path(), "estimator.trees[3]");
  EXPECT_EQ(root["estimator"]["trees"][3]["left"][1].path(), "estimator.trees[3].left[1]");
  EXPECT_EQ(root["estimator"]["rows"][1][0].path(), "estimator.rows[1][0]");
  EXPECT_EQ(&root["estimator"]["gamma"].json(), &kDocument["estimator"]["gamma"]);
  // Keys that are not plain identifiers are quoted, so the path stays unambiguous.
  EXPECT_EQ(root["odd key"].path(), R"(["odd key"])");
  EXPECT_EQ(root["odd key"]["a.b"].path(), R"(["odd key"]["a.b"])");
  // A sub-document read on its own carries the path it has in its file.
  const JsonReader estimator(kDocument["estimator"], "estimator");
  EXPECT_EQ(estimator["trees"][0]["left"][2].path(), "estimator.trees[0].left[2]");
}

TEST(JsonReaderTest, ErrorsArePathColonProblem) {
  const JsonReader root(kDocument);
  EXPECT_EQ(error_of([&] { root["estimator"]["trees"][3]["left"][1].integer<std::int32_t>(-1); }),
            "estimator.trees[3].left[1]|must be an integer >= -1, got 2.5|"
            "estimator.trees[3].left[1]: must be an integer >= -1, got 2.5");
  // At the root (empty path) the message is the problem alone.
  EXPECT_EQ(error_of([&] { root.fail("the model file must hold a JSON object"); }),
            "|the model file must hold a JSON object|the model file must hold a JSON object");
  // JsonError is a std::invalid_argument, which the loaders' callers catch.
  EXPECT_THROW(root["nothing"], std::invalid_argument);
}

TEST(JsonReaderTest, RequiredAndOptionalMembers) {
  const JsonReader root(kDocument);
  EXPECT_EQ(message_of([&] { root["estimator"]["kind"]; }), "estimator.kind: is required");
  EXPECT_EQ(message_of([&] { root["estimator"]["trees"][2]["left"]; }),
            "estimator.trees[2].left: is required");
  EXPECT_FALSE(root["estimator"].find("kind").has_value());
  ASSERT_TRUE(root["estimator"].find("k").has_value());
  EXPECT_EQ(root["estimator"].find("k")->path(), "estimator.k");
  EXPECT_TRUE(root["estimator"].contains("gamma"));
  EXPECT_FALSE(root["estimator"].contains("bias"));
  // Members of something that is not an object.
  EXPECT_EQ(message_of([&] { root["estimator"]["gamma"]["x"]; }),
            "estimator.gamma: must be an object, got 0.5");
  EXPECT_EQ(message_of([&] { root["estimator"]["names"].find("x"); }),
            "estimator.names: must be an object, got [\"a\",\"b\"]");
  EXPECT_EQ(message_of([&] { root["estimator"]["k"].expect_object(); }),
            "estimator.k: must be an object, got 20");
  EXPECT_NO_THROW(root["estimator"].expect_object());
}

TEST(JsonReaderTest, OnlyKeysReportsAnUnknownKeyAtItsPath) {
  const json calibration = {{"type", "platt"}, {"slope", 1.1}, {"ofset", 0.2}};
  const JsonReader reader(calibration, "calibration");
  EXPECT_EQ(message_of([&] {
              reader.only_keys({"type", "slope", "offset"});
            }),
            R"(calibration.ofset: unknown key (allowed: "type", "slope", "offset"))");
  EXPECT_NO_THROW(reader.only_keys({"type", "slope", "ofset"}));
  // Allowed keys need not all be there.
  EXPECT_NO_THROW(reader.only_keys({"type", "slope", "ofset", "rationale"}));
  EXPECT_EQ(message_of([&] { JsonReader(json::array(), "calibration").only_keys({"type"}); }),
            "calibration: must be an object, got []");
}

TEST(JsonReaderTest, Arrays) {
  const JsonReader estimator = JsonReader(kDocument)["estimator"];
  EXPECT_EQ(estimator["names"].array_size(), 2u);
  EXPECT_EQ(estimator["names"].array_size(2, 2), 2u);
  EXPECT_EQ(estimator["names"].array_size(1, 5), 2u);
  EXPECT_EQ(message_of([&] { estimator["gamma"].array_size(); }),
            "estimator.gamma: must be an array, got 0.5");
  EXPECT_EQ(message_of([&] { estimator["names"].array_size(3, 3); }),
            "estimator.names: has 2 entries, expected 3");
  EXPECT_EQ(message_of([&] { estimator["names"].array_size(3, 10); }),
            "estimator.names: has 2 entries, expected 3 to 10");
  EXPECT_EQ(message_of([&] { estimator["names"].array_size(0, 1); }),
            "estimator.names: has 2 entries, expected 0 to 1");
  EXPECT_EQ(message_of(
                [&] { estimator["names"].array_size(3, std::numeric_limits<std::size_t>::max()); }),
            "estimator.names: has 2 entries, expected at least 3");
  EXPECT_EQ(message_of([&] {
              estimator["trees"][1]["left"][0]["x"];  // fine up to the last step
            }),
            "estimator.trees[1].left[0]: must be an object, got -1");
  EXPECT_EQ(message_of([&] { JsonReader(json::array(), "trees").array_size(1, 9); }),
            "trees: must not be empty");
  EXPECT_EQ(message_of([&] { estimator["names"][2]; }),
            "estimator.names[2]: is missing (the array has 2 entries)");
  EXPECT_EQ(message_of([&] { estimator["gamma"][0]; }),
            "estimator.gamma: must be an array, got 0.5");
}

TEST(JsonReaderTest, StringsBooleansAndNumbers) {
  const JsonReader estimator = JsonReader(kDocument)["estimator"];
  EXPECT_EQ(estimator["type"].string(), "tree_ensemble");
  EXPECT_EQ(message_of([&] { estimator["k"].string(); }), "estimator.k: must be a string, got 20");
  EXPECT_TRUE(estimator["flag"].boolean());
  EXPECT_EQ(message_of([&] { estimator["k"].boolean(); }),
            "estimator.k: must be true or false, got 20");
  EXPECT_EQ(estimator["gamma"].number(), 0.5);
  EXPECT_EQ(estimator["k"].number(), 20.0);  // an integer is a number
  EXPECT_EQ(message_of([&] { estimator["type"].number(); }),
            "estimator.type: must be a number, got \"tree_ensemble\"");
  EXPECT_EQ(message_of([&] { estimator["flag"].number(); }),
            "estimator.flag: must be a number, got true");
  EXPECT_EQ(estimator["gamma"].finite_number(), 0.5);
  // JSON text cannot spell NaN or infinity, but a document built in memory can hold them.
  const json infinite = std::numeric_limits<double>::infinity();
  EXPECT_EQ(message_of([&] { JsonReader(infinite, "w").finite_number(); }),
            "w: must be a finite number, got inf");
  const json not_a_number = std::nan("");
  EXPECT_EQ(message_of([&] { JsonReader(not_a_number, "w").finite_number(); }),
            "w: must be a finite number, got nan");
}

TEST(JsonReaderTest, IntegersInRange) {
  const auto read = [](const json& value, auto... bounds) {
    return JsonReader(value, "n").integer<int>(bounds...);
  };
  EXPECT_EQ(read(json(20)), 20);
  EXPECT_EQ(read(json(-1), -1), -1);
  EXPECT_EQ(read(json(7), 1, 7), 7);
  EXPECT_EQ(message_of([&] { read(json(2.5)); }), "n: must be an integer, got 2.5");
  EXPECT_EQ(message_of([&] { read(json(2.0)); }), "n: must be an integer, got 2.0");
  EXPECT_EQ(message_of([&] { read(json("2")); }), "n: must be an integer, got \"2\"");
  EXPECT_EQ(message_of([&] { read(json(0), 1); }), "n: must be an integer >= 1, got 0");
  EXPECT_EQ(message_of([&] { read(json(-2), -1); }), "n: must be an integer >= -1, got -2");
  EXPECT_EQ(message_of([&] { read(json(8), 1, 7); }), "n: must be an integer in [1, 7], got 8");
  EXPECT_EQ(message_of([&] { read(json(8), std::numeric_limits<int>::lowest(), 7); }),
            "n: must be an integer <= 7, got 8");
  // Beyond the type's own range: the bounds are named rather than "an integer".
  EXPECT_EQ(message_of([&] { read(json(4294967297LL)); }),
            "n: must be an integer in [-2147483648, 2147483647], got 4294967297");
  EXPECT_EQ(message_of([&] { read(json(4294967297LL), -1); }),
            "n: must be an integer in [-1, 2147483647], got 4294967297");
  // Unsigned JSON values beyond int64 are compared, not wrapped.
  EXPECT_EQ(
      message_of([&] {
        JsonReader(json(std::numeric_limits<std::uint64_t>::max()), "n").integer<std::int64_t>();
      }),
      "n: must be an integer in [-9223372036854775808, 9223372036854775807], got "
      "18446744073709551615");
  EXPECT_EQ(
      JsonReader(json(std::numeric_limits<std::uint64_t>::max()), "n").integer<std::uint64_t>(),
      std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(message_of([&] { JsonReader(json(-1), "n").integer<std::uint32_t>(); }),
            "n: must be an integer in [0, 4294967295], got -1");
}

TEST(JsonReaderTest, OneOfNamesTheChoices) {
  enum class Weighting { kUniform, kDistance };
  constexpr std::array<std::pair<std::string_view, Weighting>, 2> kChoices{
      {{"uniform", Weighting::kUniform}, {"distance", Weighting::kDistance}}};
  EXPECT_EQ(JsonReader(json("distance"), "w").one_of(kChoices), Weighting::kDistance);
  EXPECT_EQ(message_of([&] { JsonReader(json("closest"), "w").one_of(kChoices); }),
            R"(w: unknown value "closest" (expected "uniform", "distance"))");
  EXPECT_EQ(message_of([&] { JsonReader(json(1), "w").one_of(kChoices); }),
            "w: must be a string, got 1");
}

TEST(JsonReaderTest, BulkArraysNameTheFailingEntry) {
  const JsonReader estimator = JsonReader(kDocument)["estimator"];
  EXPECT_EQ(estimator["rows"][0].numbers(), (std::vector<double>{1, 2}));
  EXPECT_EQ(estimator["rows"][0].numbers(2), (std::vector<double>{1, 2}));
  EXPECT_EQ(message_of([&] { estimator["rows"][1].numbers(); }),
            "estimator.rows[1][1]: must be a number, got \"x\"");
  EXPECT_EQ(message_of([&] { estimator["rows"][0].numbers(3); }),
            "estimator.rows[0]: has 2 entries, expected 3");
  EXPECT_EQ(estimator["names"].strings(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(message_of([&] { estimator["rows"][0].strings(); }),
            "estimator.rows[0][0]: must be a string, got 1");
}

TEST(JsonReaderTest, LongValuesAreShortenedInMessages) {
  const json long_array = std::vector<int>(100, 7);
  const std::string message = message_of([&] { JsonReader(long_array, "rows").number(); });
  EXPECT_EQ(message, "rows: must be a number, got [7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,...");
  EXPECT_EQ(JsonReader::quote(long_array).size(), JsonReader::kMaxQuotedChars);
  EXPECT_EQ(JsonReader::quote(json("short")), "\"short\"");
}

TEST(JsonReaderTest, FailRelativePutsTheReadersPathInFront) {
  const json estimator = json::object();
  const JsonReader reader(estimator, "estimator.members[1].estimator");
  EXPECT_EQ(
      error_of([&] { reader.fail_relative("trees[3].left[7]: child index 99 out of range"); }),
      "estimator.members[1].estimator.trees[3].left[7]|child index 99 out of range|"
      "estimator.members[1].estimator.trees[3].left[7]: child index 99 out of range");
  EXPECT_EQ(message_of([&] { reader.fail_relative("[2]: is odd"); }),
            "estimator.members[1].estimator[2]: is odd");
  // Without a relative path the problem is the reader's own.
  EXPECT_EQ(message_of([&] { reader.fail_relative("weights sum to 2, not 1"); }),
            "estimator.members[1].estimator: weights sum to 2, not 1");
  EXPECT_EQ(message_of([&] { JsonReader(estimator).fail_relative("trees: must not be empty"); }),
            "trees: must not be empty");
}

}  // namespace
}  // namespace nbo::models
