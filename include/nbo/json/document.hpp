// A parsed JSON text as a flat token tape: what request bodies and stored rows are read from.
//
// Document::parse() reads the text with simdjson (strict RFC 8259, UTF-8 validated) into one
// vector of tokens and one string arena, and falls back to nlohmann's SAX parser, the
// reference, wherever the two could differ (errors included), with the nesting limit checked
// as containers open. Nothing like a DOM is built: no node per value, no map per object, member
// order is the text's own. Typed readers (features/customer_json.hpp, the API's request
// readers) then walk it with Value views and turn it into the project's structs, naming the
// JSON path of whatever they reject.
//
// Why a tape rather than typed SAX callbacks: a body must be rejected as invalid JSON even when
// its first fields are also invalid values (syntax errors first, then values), and batch items
// are validated one by one; reading a finished tape gives both orders for free at a fraction
// of a DOM's cost.
//
// Thread safety: a Document is immutable after parse(); any number of threads may read it.
// Value views borrow the Document and must not outlive it.
// Failure behaviour: parse() throws ParseError (syntax, nesting, number range) with the byte
// offset; it never crashes on any input. Accessors of a Value of the wrong kind throw
// std::logic_error (a bug in the reader, not bad input: readers check kind() first).
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace nbo::json {

enum class Kind : std::uint8_t { kNull, kBoolean, kNumber, kString, kObject, kArray };

// The name nlohmann gives a value of this kind ("null", "boolean", "number", "string",
// "object", "array"), kept so that error messages read as they always have.
std::string_view kind_name(Kind kind) noexcept;

class ParseError : public std::runtime_error {
 public:
  enum class Reason { kSyntax, kTooDeep, kNumberOutOfRange };
  ParseError(Reason reason, std::size_t byte, const std::string& message)
      : std::runtime_error(message), reason_(reason), byte_(byte) {}
  Reason reason() const noexcept { return reason_; }
  // 1-based offset of the byte where parsing stopped (nlohmann's convention); 0 when unknown.
  std::size_t byte() const noexcept { return byte_; }

 private:
  Reason reason_;
  std::size_t byte_;
};

class Document;

// A view of one value of a Document. Cheap to copy.
class Value {
 public:
  Kind kind() const noexcept;
  std::string_view type_name() const noexcept { return kind_name(kind()); }
  bool is_null() const noexcept { return kind() == Kind::kNull; }
  bool is_object() const noexcept { return kind() == Kind::kObject; }
  bool is_array() const noexcept { return kind() == Kind::kArray; }
  bool is_string() const noexcept { return kind() == Kind::kString; }
  bool is_number() const noexcept { return kind() == Kind::kNumber; }
  bool is_boolean() const noexcept { return kind() == Kind::kBoolean; }

  bool boolean() const;
  // Any JSON number as a double (an integer literal beyond 2^53 is rounded, as nlohmann's
  // get<double>() does).
  double number() const;
  std::string_view string() const;
  // Members of an object / elements of an array.
  std::size_t size() const;

  // Members of an object in text order (duplicates included), elements of an array.
  template <typename Visit>
  void for_each_member(Visit&& visit) const;  // visit(std::string_view key, Value value)
  template <typename Visit>
  void for_each_element(Visit&& visit) const;  // visit(std::size_t index, Value value)
  // The last member named `key` (as nlohmann's DOM keeps the last duplicate), or a null-kind
  // Value with found() false.
  Value find(std::string_view key) const;
  bool found() const noexcept { return document_ != nullptr; }

 private:
  friend class Document;
  Value() = default;
  Value(const Document* document, std::uint32_t index) : document_(document), index_(index) {}

  const Document* document_ = nullptr;
  std::uint32_t index_ = 0;
};

class Document {
 public:
  // Parses `text` (one JSON value, surrounding whitespace allowed). Containers nested deeper
  // than `max_depth` are rejected as soon as they open, so a hostile body costs O(n).
  // simdjson reads the text first; whenever it might disagree with nlohmann (any error, and
  // the few valid texts listed in document.cpp) the text is parsed again by parse_reference(),
  // so the tape, the errors and their messages are nlohmann's in every case.
  static Document parse(std::string_view text, std::size_t max_depth);
  // nlohmann's SAX parser alone: what parse() must agree with (the differential tests call it).
  static Document parse_reference(std::string_view text, std::size_t max_depth);

  // True when parse() took the simdjson path (tests check that it is the common one).
  bool parsed_by_simdjson() const noexcept { return fast_path_; }

  // The same tape: token for token, numbers bit for bit, the same string bytes (which parser
  // made either does not matter).
  friend bool operator==(const Document& a, const Document& b) noexcept;

  Value root() const { return Value(this, 0); }
  std::size_t token_count() const noexcept { return tokens_.size(); }

 private:
  friend class Value;
  friend class TapeBuilder;
  friend class SimdTapeReader;

  struct Token {
    Kind kind = Kind::kNull;
    bool boolean = false;
    // Objects: the tape holds [object][key-string value]...; `next` is the index just past the
    // token's value (its whole subtree for containers), so skipping a value is O(1).
    std::uint32_t next = 0;
    std::uint32_t count = 0;        // members or elements of a container
    std::uint32_t text_offset = 0;  // strings and keys: their bytes in `arena_`
    std::uint32_t text_size = 0;
    double number = 0.0;
  };

  // Appends `value` to the arena and points `token` at it; throws ParseError past 4 GiB of
  // strings (32-bit offsets).
  void set_text(Token& token, std::string_view value);

  std::vector<Token> tokens_;
  std::string arena_;
  bool fast_path_ = false;
};

template <typename Visit>
void Value::for_each_member(Visit&& visit) const {
  const auto& tokens = document_->tokens_;
  const auto& token = tokens[index_];
  if (token.kind != Kind::kObject) throw std::logic_error("json::Value: not an object");
  std::uint32_t i = index_ + 1;
  while (i < token.next) {
    const auto& key = tokens[i];
    const std::string_view name(document_->arena_.data() + key.text_offset, key.text_size);
    visit(name, Value(document_, i + 1));
    i = tokens[i + 1].next;
  }
}

template <typename Visit>
void Value::for_each_element(Visit&& visit) const {
  const auto& tokens = document_->tokens_;
  const auto& token = tokens[index_];
  if (token.kind != Kind::kArray) throw std::logic_error("json::Value: not an array");
  std::uint32_t i = index_ + 1;
  std::size_t position = 0;
  while (i < token.next) {
    visit(position++, Value(document_, i));
    i = tokens[i].next;
  }
}

}  // namespace nbo::json
