#include "nbo/json/document.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>

namespace nbo::json {

std::string_view kind_name(Kind kind) noexcept {
  switch (kind) {
    case Kind::kNull:
      return "null";
    case Kind::kBoolean:
      return "boolean";
    case Kind::kNumber:
      return "number";
    case Kind::kString:
      return "string";
    case Kind::kObject:
      return "object";
    case Kind::kArray:
      return "array";
  }
  return "value";
}

// The SAX handler nlohmann's parser drives: appends tokens to the tape.
class TapeBuilder {
 public:
  using number_integer_t = nlohmann::json::number_integer_t;
  using number_unsigned_t = nlohmann::json::number_unsigned_t;
  using number_float_t = nlohmann::json::number_float_t;
  using string_t = nlohmann::json::string_t;
  using binary_t = nlohmann::json::binary_t;

  TapeBuilder(Document& document, std::size_t max_depth) : doc_(document), max_depth_(max_depth) {}

  bool null() { return scalar(Kind::kNull); }
  bool boolean(bool value) {
    scalar(Kind::kBoolean);
    doc_.tokens_.back().boolean = value;
    return true;
  }
  bool number_integer(number_integer_t value) { return number(static_cast<double>(value)); }
  bool number_unsigned(number_unsigned_t value) { return number(static_cast<double>(value)); }
  bool number_float(number_float_t value, const string_t& /*literal*/) { return number(value); }
  bool string(string_t& value) {
    scalar(Kind::kString);
    doc_.set_text(doc_.tokens_.back(), value);
    return true;
  }
  bool binary(binary_t& /*value*/) { return false; }  // never produced by the JSON parser
  bool start_object(std::size_t /*elements*/) { return open(Kind::kObject); }
  bool end_object() { return close(); }
  bool start_array(std::size_t /*elements*/) { return open(Kind::kArray); }
  bool end_array() { return close(); }
  bool key(string_t& value) {
    Document::Token token;
    token.kind = Kind::kString;
    doc_.set_text(token, value);
    token.next = index() + 1;
    doc_.tokens_.push_back(token);
    return true;
  }
  bool parse_error(std::size_t position, const std::string& /*last_token*/,
                   const nlohmann::json::exception& error) {
    // nlohmann reports a number too large for a double (1e400) as out_of_range.406.
    if (error.id == 406) {
      throw ParseError(ParseError::Reason::kNumberOutOfRange, position,
                       "a number is too large for a double");
    }
    throw ParseError(ParseError::Reason::kSyntax, position, error.what());
  }

 private:
  std::uint32_t index() const { return static_cast<std::uint32_t>(doc_.tokens_.size()); }

  void count_in_parent() {
    if (!open_.empty()) ++doc_.tokens_[open_.back()].count;
  }

  bool scalar(Kind kind) {
    count_in_parent();
    Document::Token token;
    token.kind = kind;
    token.next = index() + 1;
    doc_.tokens_.push_back(token);
    return true;
  }

  bool number(double value) {
    scalar(Kind::kNumber);
    doc_.tokens_.back().number = value;
    return true;
  }

  bool open(Kind kind) {
    if (open_.size() + 1 > max_depth_) {
      throw ParseError(ParseError::Reason::kTooDeep, 0,
                       fmt::format("the JSON body nests deeper than {} levels", max_depth_));
    }
    count_in_parent();
    Document::Token token;
    token.kind = kind;
    open_.push_back(index());
    doc_.tokens_.push_back(token);
    return true;
  }

  bool close() {
    doc_.tokens_[open_.back()].next = index();
    open_.pop_back();
    return true;
  }

  Document& doc_;
  std::size_t max_depth_;
  std::vector<std::uint32_t> open_;  // indices of the containers not yet closed
};

// The fast path: simdjson's DOM parser (SIMD, validating) read into the same tape. It answers
// only for texts on which it is known to agree with nlohmann token for token, and gives up
// (returns false, the tape half written) on anything else: a text simdjson rejects (nlohmann
// then reports the error, with its own message and offset), nesting past max_depth (nlohmann
// then rejects it where it opens), a negative zero (nlohmann reads "-0" as the integer 0, where
// simdjson versions differ), and a string holding an unpaired surrogate escape (should a simdjson
// version write it as the bytes ED A0..BF; nlohmann rejects it).
class SimdTapeReader {
 public:
  SimdTapeReader(Document& document, std::size_t max_depth)
      : doc_(document), max_depth_(max_depth) {}

  bool read(simdjson::dom::element element, std::size_t depth) {
    switch (element.type()) {
      case simdjson::dom::element_type::ARRAY: {
        if (depth + 1 > max_depth_) return false;
        const std::uint32_t open = open_container(Kind::kArray);
        std::uint32_t count = 0;
        for (simdjson::dom::element child : simdjson::dom::array(element)) {
          if (!read(child, depth + 1)) return false;
          ++count;
        }
        close_container(open, count);
        return true;
      }
      case simdjson::dom::element_type::OBJECT: {
        if (depth + 1 > max_depth_) return false;
        const std::uint32_t open = open_container(Kind::kObject);
        std::uint32_t count = 0;
        for (simdjson::dom::key_value_pair member : simdjson::dom::object(element)) {
          if (!key(member.key) || !read(member.value, depth + 1)) return false;
          ++count;
        }
        close_container(open, count);
        return true;
      }
      case simdjson::dom::element_type::INT64:
        return number(static_cast<double>(std::int64_t(element)));
      case simdjson::dom::element_type::UINT64:
        return number(static_cast<double>(std::uint64_t(element)));
      case simdjson::dom::element_type::DOUBLE: {
        const double value = double(element);
        if (value == 0.0 && std::signbit(value)) return false;
        return number(value);
      }
      case simdjson::dom::element_type::STRING: {
        const std::string_view text(element);
        if (!nlohmann_would_accept(text)) return false;
        Document::Token& token = push(Kind::kString);
        doc_.set_text(token, text);
        return true;
      }
      case simdjson::dom::element_type::BOOL:
        push(Kind::kBoolean).boolean = bool(element);
        return true;
      case simdjson::dom::element_type::NULL_VALUE:
        push(Kind::kNull);
        return true;
    }
    return false;
  }

 private:
  // Valid UTF-8 never holds ED followed by A0..BF (those would be UTF-16 surrogates); simdjson
  // validated the text itself, so such bytes can only come from a \uD8xx-style escape.
  static bool nlohmann_would_accept(std::string_view text) noexcept {
    const char* at = text.data();
    const char* end = text.data() + text.size();
    while (at != end) {
      const void* found = std::memchr(at, 0xED, static_cast<std::size_t>(end - at));
      if (found == nullptr) return true;
      at = static_cast<const char*>(found) + 1;
      if (at != end && static_cast<unsigned char>(*at) >= 0xA0) return false;
    }
    return true;
  }

  std::uint32_t index() const { return static_cast<std::uint32_t>(doc_.tokens_.size()); }

  Document::Token& push(Kind kind) {
    Document::Token& token = doc_.tokens_.emplace_back();
    token.kind = kind;
    token.next = index();
    return token;
  }

  bool number(double value) {
    push(Kind::kNumber).number = value;
    return true;
  }

  bool key(std::string_view name) {
    if (!nlohmann_would_accept(name)) return false;
    doc_.set_text(push(Kind::kString), name);
    return true;
  }

  std::uint32_t open_container(Kind kind) {
    const std::uint32_t open = index();
    doc_.tokens_.emplace_back().kind = kind;
    return open;
  }

  void close_container(std::uint32_t open, std::uint32_t count) {
    doc_.tokens_[open].next = index();
    doc_.tokens_[open].count = count;
  }

  Document& doc_;
  std::size_t max_depth_;
};

namespace {

// Bodies up to this size are parsed by a parser kept per thread (its buffers reused); larger
// ones by a parser of their own, so that one large body does not leave a thread holding
// buffers of its size.
constexpr std::size_t kReusedParserBytes = 256 * 1024;

bool parse_fast(std::string_view text, SimdTapeReader& reader) {
  thread_local simdjson::dom::parser reused;
  std::unique_ptr<simdjson::dom::parser> own;
  simdjson::dom::parser* parser = &reused;
  if (text.size() > kReusedParserBytes) {
    own = std::make_unique<simdjson::dom::parser>();
    parser = own.get();
  }
  simdjson::dom::element root;
  if (parser->parse(text.data(), text.size()).get(root) != simdjson::SUCCESS) return false;
  return reader.read(root, 0);
}

}  // namespace

namespace {

// Token offsets and sizes are 32-bit; the strings of a text are never longer than the text.
void check_text_size(std::string_view text) {
  if (text.size() >= std::numeric_limits<std::uint32_t>::max()) {
    throw ParseError(ParseError::Reason::kSyntax, 0, "the JSON text is larger than 4 GiB");
  }
}

}  // namespace

Document Document::parse(std::string_view text, std::size_t max_depth) {
  check_text_size(text);
  {
    Document document;
    document.tokens_.reserve(text.size() / 8 + 1);
    // Keys and strings, unescaped, are never longer than the text: one allocation, not a dozen.
    document.arena_.reserve(text.size());
    SimdTapeReader reader(document, max_depth);
    if (parse_fast(text, reader)) {
      document.fast_path_ = true;
      return document;
    }
  }
  return parse_reference(text, max_depth);
}

Document Document::parse_reference(std::string_view text, std::size_t max_depth) {
  check_text_size(text);
  Document document;
  // A token takes at least one byte of text, usually several.
  document.tokens_.reserve(text.size() / 4 + 1);
  document.arena_.reserve(text.size());
  TapeBuilder builder(document, max_depth);
  nlohmann::json::sax_parse(text, &builder);
  return document;
}

void Document::set_text(Token& token, std::string_view value) {
  if (arena_.size() + value.size() > std::numeric_limits<std::uint32_t>::max()) {
    throw ParseError(ParseError::Reason::kSyntax, 0, "the JSON text is larger than 4 GiB");
  }
  token.text_offset = static_cast<std::uint32_t>(arena_.size());
  token.text_size = static_cast<std::uint32_t>(value.size());
  arena_ += value;
}

bool operator==(const Document& a, const Document& b) noexcept {
  if (a.arena_ != b.arena_ || a.tokens_.size() != b.tokens_.size()) return false;
  for (std::size_t i = 0; i < a.tokens_.size(); ++i) {
    const Document::Token& x = a.tokens_[i];
    const Document::Token& y = b.tokens_[i];
    if (x.kind != y.kind || x.boolean != y.boolean || x.next != y.next || x.count != y.count ||
        x.text_offset != y.text_offset || x.text_size != y.text_size ||
        std::memcmp(&x.number, &y.number, sizeof x.number) != 0) {
      return false;
    }
  }
  return true;
}

Kind Value::kind() const noexcept {
  return document_ == nullptr ? Kind::kNull : document_->tokens_[index_].kind;
}

bool Value::boolean() const {
  if (kind() != Kind::kBoolean) throw std::logic_error("json::Value: not a boolean");
  return document_->tokens_[index_].boolean;
}

double Value::number() const {
  if (kind() != Kind::kNumber) throw std::logic_error("json::Value: not a number");
  return document_->tokens_[index_].number;
}

std::string_view Value::string() const {
  if (kind() != Kind::kString) throw std::logic_error("json::Value: not a string");
  const auto& token = document_->tokens_[index_];
  return {document_->arena_.data() + token.text_offset, token.text_size};
}

std::size_t Value::size() const {
  const Kind k = kind();
  if (k != Kind::kObject && k != Kind::kArray) {
    throw std::logic_error("json::Value: not a container");
  }
  return document_->tokens_[index_].count;
}

Value Value::find(std::string_view key) const {
  Value found;
  for_each_member([&](std::string_view name, Value value) {
    if (name == key) found = value;
  });
  return found;
}

}  // namespace nbo::json
