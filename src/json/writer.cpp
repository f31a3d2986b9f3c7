#include "nbo/json/writer.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <nlohmann/detail/conversions/to_chars.hpp>

namespace nbo::json {
namespace {

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

// Length of the well-formed UTF-8 sequence starting at `text[i]` (RFC 3629, the same table as
// the DFA nlohmann uses: no overlong forms, no surrogates, nothing above U+10FFFF). On an
// ill-formed sequence returns 0 and sets `valid_prefix` to the number of bytes that were still
// acceptable (0 when the lead byte itself is invalid).
std::size_t utf8_sequence_length(std::string_view text, std::size_t i, std::size_t& valid_prefix) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  std::size_t length = 0;
  unsigned char second_low = 0x80;
  unsigned char second_high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) second_low = 0xA0;
    if (lead == 0xED) second_high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) second_low = 0x90;
    if (lead == 0xF4) second_high = 0x8F;
  } else {
    valid_prefix = 0;
    return 0;
  }
  for (std::size_t k = 1; k < length; ++k) {
    const bool in_text = i + k < text.size();
    const unsigned char low = k == 1 ? second_low : 0x80;
    const unsigned char high = k == 1 ? second_high : 0xBF;
    if (!in_text || byte(i + k) < low || byte(i + k) > high) {
      valid_prefix = k;
      return 0;
    }
  }
  return length;
}

void append_escaped_control(std::string& out, unsigned char c) {
  switch (c) {
    case '\b':
      out += "\\b";
      return;
    case '\t':
      out += "\\t";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\f':
      out += "\\f";
      return;
    case '\r':
      out += "\\r";
      return;
    default: {
      std::array<char, 8> buffer{};
      std::snprintf(buffer.data(), buffer.size(), "\\u%04x", static_cast<unsigned>(c));
      out.append(buffer.data(), 6);
    }
  }
}

// Whether none of the 8 bytes at `text` needs more than a copy: none is a control character
// (< 0x20), '"', '\\' or outside ASCII (>= 0x80). The usual test for a zero byte,
// (x - 0x01..) & ~x & 0x80.., answers "is there one" exactly (its false positives fall only
// on bytes above a true one), and x - 0x20.. likewise finds a byte below 0x20.
bool plain_ascii_word(const char* text) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHighBits = 0x8080808080808080ULL;
  std::uint64_t word = 0;
  std::memcpy(&word, text, sizeof word);
  const auto has_zero_byte = [](std::uint64_t x) { return (x - kOnes) & ~x & kHighBits; };
  const std::uint64_t control = (word - 0x20 * kOnes) & ~word & kHighBits;
  const std::uint64_t quote = has_zero_byte(word ^ (static_cast<std::uint64_t>('"') * kOnes));
  const std::uint64_t backslash = has_zero_byte(word ^ (static_cast<std::uint64_t>('\\') * kOnes));
  return ((word & kHighBits) | control | quote | backslash) == 0;
}

}  // namespace

void append_string(std::string& out, std::string_view value) {
  out.push_back('"');
  std::size_t run_start = 0;  // start of the bytes not yet copied
  std::size_t i = 0;
  const auto flush = [&](std::size_t end) {
    out.append(value.data() + run_start, end - run_start);
  };
  while (i < value.size()) {
    // Most text (keys, ids, descriptions) is plain ASCII: skipped eight bytes at a time.
    while (i + 8 <= value.size() && plain_ascii_word(value.data() + i)) i += 8;
    if (i >= value.size()) break;
    const auto c = static_cast<unsigned char>(value[i]);
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    if (c < 0x80) {
      flush(i);
      if (c == '"') {
        out += "\\\"";
      } else if (c == '\\') {
        out += "\\\\";
      } else {
        append_escaped_control(out, c);
      }
      run_start = ++i;
      continue;
    }
    std::size_t valid_prefix = 0;
    const std::size_t length = utf8_sequence_length(value, i, valid_prefix);
    if (length != 0) {
      i += length;
      continue;
    }
    // nlohmann's "replace": one U+FFFD for the ill-formed bytes; a byte that broke a sequence
    // begun before it is read again as the start of the next one.
    flush(i);
    out += kReplacementCharacter;
    i += valid_prefix == 0 ? 1 : valid_prefix;
    run_start = i;
  }
  flush(i);
  out.push_back('"');
}

void append_number(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  std::array<char, 64> buffer{};
  // The very routine nlohmann::json::dump() uses (Grisu2, then its own layout), so a value
  // written here reads the same as one dumped from a document.
  const char* end = nlohmann::detail::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  out.append(buffer.data(), static_cast<std::size_t>(end - buffer.data()));
}

void Writer::open_container() {
  if (depth_ < kShallowDepth) {
    shallow_items_ &= ~(std::uint64_t{1} << depth_);
  } else {
    deep_items_.push_back(false);
  }
  ++depth_;
}

void Writer::close_container() {
  --depth_;
  if (depth_ >= kShallowDepth) deep_items_.pop_back();
}

bool Writer::add_item() {
  if (depth_ == 0) return false;
  const std::size_t innermost = depth_ - 1;
  if (innermost < kShallowDepth) {
    const std::uint64_t bit = std::uint64_t{1} << innermost;
    const bool had_items = (shallow_items_ & bit) != 0;
    shallow_items_ |= bit;
    return had_items;
  }
  const bool had_items = deep_items_.back();
  deep_items_.back() = true;
  return had_items;
}

void Writer::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (add_item()) out_.push_back(',');
}

void Writer::begin_object() {
  before_value();
  out_.push_back('{');
  open_container();
}

void Writer::end_object() {
  out_.push_back('}');
  close_container();
}

void Writer::begin_array() {
  before_value();
  out_.push_back('[');
  open_container();
}

void Writer::end_array() {
  out_.push_back(']');
  close_container();
}

void Writer::key(std::string_view name) {
  if (add_item()) out_.push_back(',');
  append_string(out_, name);
  out_.push_back(':');
  after_key_ = true;
}

void Writer::string(std::string_view value) {
  before_value();
  append_string(out_, value);
}

void Writer::number(double value) {
  before_value();
  append_number(out_, value);
}

void Writer::integer(std::int64_t value) {
  before_value();
  std::array<char, 24> buffer{};
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  out_.append(buffer.data(), result.ptr);
}

void Writer::unsigned_integer(std::uint64_t value) {
  before_value();
  std::array<char, 24> buffer{};
  const auto result = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  out_.append(buffer.data(), result.ptr);
}

void Writer::boolean(bool value) {
  before_value();
  out_ += value ? "true" : "false";
}

void Writer::null() {
  before_value();
  out_ += "null";
}

void Writer::raw(std::string_view json_text) {
  before_value();
  out_.append(json_text);
}

}  // namespace nbo::json
