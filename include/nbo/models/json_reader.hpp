// One reader for nbo's JSON file formats (the model file today; segment and offer files next), so
// that every format reports a problem the same way: "<JSON path>: <problem>", e.g.
// "estimator.trees[3].left[7]: must be an integer >= -1, got 2.5". A JsonReader is a cursor over
// a parsed document that carries its own path: reader["estimator"]["trees"][3] is at
// "estimator.trees[3]". The loader of a file adds the file name once, in front.
//
//   const JsonReader root(document);                    // path "" (the whole file)
//   root.only_keys({"format", "trees"});                // a misspelt key is an error
//   const JsonReader trees = root["trees"];             // required member
//   for (std::size_t t = 0, n = trees.array_size(1, 100); t < n; ++t) {
//     const double weight = trees[t]["weight"].finite_number();
//     if (weight < 0) trees[t]["weight"].fail(fmt::format("must be >= 0, got {}", weight));
//   }
//
// Paths: members are joined with '.', array elements as [i]; a key that is not made of letters,
// digits and '_' is written as ["key"] (JSON-quoted) so the path stays unambiguous.
//
// Ownership: a reader borrows the document (it holds a pointer into it) and owns a copy of its
// path; the document must outlive every reader made from it, and must not be modified while
// they are used. Readers are cheap values to copy (one string).
// Thread safety: every method is const and only reads the document, so readers over one
// document may be used from several threads as long as nothing writes to the document.
// Failure: every check throws JsonError (a std::invalid_argument, which callers of the model
// loaders already catch) whose what() is "<path>: <problem>" (only "<problem>" at the root,
// whose path is empty). No accessor converts or defaults a value of the wrong type: a number is
// never read from a string, an integer never from 2.5. Messages quote the offending value,
// shortened to kMaxQuotedChars.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace nbo::models {

// A problem at one place of a JSON document.
class JsonError : public std::invalid_argument {
 public:
  JsonError(std::string path, std::string problem)
      : std::invalid_argument(path.empty() ? problem : path + ": " + problem),
        path_(std::move(path)),
        problem_(std::move(problem)) {}

  // Where: "estimator.trees[3].left[7]"; empty for the document itself.
  const std::string& path() const noexcept { return path_; }
  // What: "must be an integer >= -1, got 2.5".
  const std::string& problem() const noexcept { return problem_; }

 private:
  std::string path_;
  std::string problem_;
};

class JsonReader {
 public:
  // Longest quoted value in a message; longer ones are cut and end in "...".
  static constexpr std::size_t kMaxQuotedChars = 40;

  // A reader at `path` over `value`; a whole document is read from path "" (the default).
  // Sub-documents read on their own take the path they have in their file ("estimator").
  explicit JsonReader(const nlohmann::json& value, std::string path = {})
      : value_(&value), path_(std::move(path)) {}

  const nlohmann::json& json() const noexcept { return *value_; }
  const std::string& path() const noexcept { return path_; }

  // Throws JsonError(path(), problem): for checks the accessors below do not make.
  [[noreturn]] void fail(std::string problem) const { throw JsonError(path_, std::move(problem)); }

  // Rethrows a problem that a validator reported relative to this value as "<relative path>:
  // <problem>" (the TreeEnsemble constructor's "trees[1].left[1]: child index 99 out of
  // range") at its full path ("estimator.trees[1].left[1]"). A message without ": " is taken as
  // a problem of this value itself.
  [[noreturn]] void fail_relative(std::string_view message) const {
    const auto colon = message.find(": ");
    if (colon == std::string_view::npos) fail(std::string(message));
    const std::string_view relative = message.substr(0, colon);
    std::string path = path_;
    if (!path.empty() && !relative.empty() && relative.front() != '[') path += '.';
    path += relative;
    throw JsonError(std::move(path), std::string(message.substr(colon + 2)));
  }

  // `value` as a message quotes it: its JSON text, cut to kMaxQuotedChars.
  static std::string quote(const nlohmann::json& value) {
    std::string text = value.dump();
    if (text.size() > kMaxQuotedChars) {
      text.resize(kMaxQuotedChars - 3);
      text += "...";
    }
    return text;
  }

  // ---- objects

  // Checks that this is an object.
  void expect_object() const {
    if (!value_->is_object()) fail_type("must be an object");
  }

  // Checks that this is an object whose keys are all in `allowed` (it need not have them all;
  // required members are checked when they are read). The first other key is reported at its
  // own path: "calibration.slop: unknown key (allowed: "type", "slope", "offset")".
  void only_keys(std::initializer_list<std::string_view> allowed) const {
    expect_object();
    for (const auto& [key, value] : value_->items()) {
      bool known = false;
      for (const std::string_view name : allowed) known = known || name == key;
      if (!known) {
        std::string names;
        for (const std::string_view name : allowed) {
          names += fmt::format("{}\"{}\"", names.empty() ? "" : ", ", name);
        }
        throw JsonError(member_path(key), fmt::format("unknown key (allowed: {})", names));
      }
    }
  }

  // The required member `key`: "<path>.<key>: is required" when absent, "<path>: must be an
  // object" when this is not an object.
  JsonReader operator[](std::string_view key) const {
    if (auto found = find(key)) return *std::move(found);
    throw JsonError(member_path(key), "is required");
  }

  // The optional member `key`, or nullopt when absent. This must be an object.
  std::optional<JsonReader> find(std::string_view key) const {
    expect_object();
    const auto found = value_->find(key);
    if (found == value_->end()) return std::nullopt;
    return JsonReader(*found, member_path(key));
  }

  bool contains(std::string_view key) const { return find(key).has_value(); }

  // ---- arrays

  // Checks that this is an array; returns its size.
  std::size_t array_size() const {
    if (!value_->is_array()) fail_type("must be an array");
    return value_->size();
  }

  // Checks that this is an array of `min` to `max` entries; returns its size.
  std::size_t array_size(std::size_t min, std::size_t max) const {
    const std::size_t size = array_size();
    if (size < min || size > max) {
      if (min == max) fail(fmt::format("has {} entries, expected {}", size, min));
      if (size < min && min == 1) fail("must not be empty");
      if (max == std::numeric_limits<std::size_t>::max()) {
        fail(fmt::format("has {} entries, expected at least {}", size, min));
      }
      fail(fmt::format("has {} entries, expected {} to {}", size, min, max));
    }
    return size;
  }

  // Element `index`; this must be an array with more than `index` entries.
  JsonReader operator[](std::size_t index) const {
    const std::size_t size = array_size();
    if (index >= size) {
      throw JsonError(element_path(index),
                      fmt::format("is missing (the array has {} entries)", size));
    }
    return JsonReader((*value_)[index], element_path(index));
  }

  // ---- values

  const std::string& string() const {
    if (!value_->is_string()) fail_type("must be a string");
    return value_->get_ref<const std::string&>();
  }

  bool boolean() const {
    if (!value_->is_boolean()) fail_type("must be true or false");
    return value_->get<bool>();
  }

  // Any JSON number (integer or not), as a double.
  double number() const {
    if (!value_->is_number()) fail_type("must be a number");
    return value_->get<double>();
  }

  // A number that is neither infinite nor NaN (JSON text cannot spell those, but a document
  // built in memory can hold them).
  double finite_number() const {
    const double value = number();
    if (!std::isfinite(value)) fail(fmt::format("must be a finite number, got {}", value));
    return value;
  }

  // An integer written as one (2, not 2.0 or "2") within [min, max]. The message names the
  // bounds that are not T's own: "must be an integer >= -1, got 2.5".
  template <typename T>
  T integer(T min = std::numeric_limits<T>::lowest(), T max = std::numeric_limits<T>::max()) const {
    static_assert(std::numeric_limits<T>::is_integer);
    const nlohmann::json& value = *value_;
    // JSON integers arrive as int64 or (above its range) uint64; cmp_* compare either with T.
    const auto within = [&](auto got) {
      return std::cmp_greater_equal(got, min) && std::cmp_less_equal(got, max);
    };
    const auto fits_type = [](auto got) { return std::in_range<T>(got); };
    bool in_range = false;
    bool fits = false;
    if (value.is_number_unsigned()) {
      in_range = within(value.get<std::uint64_t>());
      fits = fits_type(value.get<std::uint64_t>());
    } else if (value.is_number_integer()) {
      in_range = within(value.get<std::int64_t>());
      fits = fits_type(value.get<std::int64_t>());
    }
    if (in_range) {
      return value.is_number_unsigned() ? static_cast<T>(value.get<std::uint64_t>())
                                        : static_cast<T>(value.get<std::int64_t>());
    }
    const bool own_min = min == std::numeric_limits<T>::lowest();
    const bool own_max = max == std::numeric_limits<T>::max();
    std::string bounds;
    if ((!own_min && !own_max) || (value.is_number_integer() && !fits)) {
      bounds = fmt::format(" in [{}, {}]", min, max);
    } else if (!own_min) {
      bounds = fmt::format(" >= {}", min);
    } else if (!own_max) {
      bounds = fmt::format(" <= {}", max);
    }
    fail(fmt::format("must be an integer{}, got {}", bounds, quote(value)));
  }

  // A string that must be one of `choices`' names; returns the matching value:
  // "unknown value "binned" (expected "numeric", "one_hot")" otherwise.
  template <typename T, std::size_t N>
  T one_of(const std::array<std::pair<std::string_view, T>, N>& choices) const {
    const std::string& text = string();
    for (const auto& [name, value] : choices) {
      if (name == text) return value;
    }
    std::string names;
    for (const auto& choice : choices) {
      names += fmt::format("{}\"{}\"", names.empty() ? "" : ", ", choice.first);
    }
    fail(fmt::format("unknown value {} (expected {})", quote(*value_), names));
  }

  // An array of numbers (a failing entry is named by its index). With `size` set, the array
  // must have exactly that many entries.
  std::vector<double> numbers(std::optional<std::size_t> size = std::nullopt) const {
    const std::size_t count = size ? array_size(*size, *size) : array_size();
    std::vector<double> out;
    out.reserve(count);
    // Entries are checked in place; a reader (and its path) is made only for a bad one.
    for (std::size_t i = 0; i < count; ++i) {
      const nlohmann::json& entry = (*value_)[i];
      if (!entry.is_number()) (*this)[i].number();
      out.push_back(entry.get<double>());
    }
    return out;
  }

  // An array of strings (a failing entry is named by its index).
  std::vector<std::string> strings() const {
    const std::size_t count = array_size();
    std::vector<std::string> out;
    out.reserve(count);
    for (std::size_t i = 0; i < count; ++i) out.push_back((*this)[i].string());
    return out;
  }

 private:
  [[noreturn]] void fail_type(std::string_view expected) const {
    fail(fmt::format("{}, got {}", expected, quote(*value_)));
  }

  std::string member_path(std::string_view key) const {
    const bool plain = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    });
    if (!plain) return fmt::format("{}[{}]", path_, nlohmann::json(key).dump());
    return path_.empty() ? std::string(key) : fmt::format("{}.{}", path_, key);
  }

  std::string element_path(std::size_t index) const { return fmt::format("{}[{}]", path_, index); }

  const nlohmann::json* value_;
  std::string path_;
};

}  // namespace nbo::models
