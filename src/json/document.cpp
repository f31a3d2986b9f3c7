#include "nbo/json/document.hpp"

#include <fmt/format.h>

#include <limits>
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
    set_text(doc_.tokens_.back(), value);
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
    set_text(token, value);
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

  void set_text(Document::Token& token, const std::string& value) {
    if (doc_.arena_.size() + value.size() > std::numeric_limits<std::uint32_t>::max()) {
      throw ParseError(ParseError::Reason::kSyntax, 0, "the JSON text is larger than 4 GiB");
    }
    token.text_offset = static_cast<std::uint32_t>(doc_.arena_.size());
    token.text_size = static_cast<std::uint32_t>(value.size());
    doc_.arena_ += value;
  }

  Document& doc_;
  std::size_t max_depth_;
  std::vector<std::uint32_t> open_;  // indices of the containers not yet closed
};

Document Document::parse(std::string_view text, std::size_t max_depth) {
  if (text.size() >= std::numeric_limits<std::uint32_t>::max()) {
    throw ParseError(ParseError::Reason::kSyntax, 0, "the JSON text is larger than 4 GiB");
  }
  Document document;
  // A token takes at least one byte of text, usually several.
  document.tokens_.reserve(text.size() / 4 + 1);
  TapeBuilder builder(document, max_depth);
  nlohmann::json::sax_parse(text, &builder);
  return document;
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
