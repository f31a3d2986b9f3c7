// A direct JSON writer: appends JSON text to a std::string as the caller walks its own typed
// data, with no document built in between. Handlers, the error body, the store and the bench
// write their JSON through it.
//
// Output is byte-identical to nlohmann::json::dump() of the same values with error handler
// "replace" (compact, no ASCII escaping): numbers use the same shortest round-trip form
// ("0.1", "100.0", "1e-05"), non-finite doubles are written as null, control characters are
// escaped as \u00XX, and invalid UTF-8 in a string is replaced by U+FFFD exactly as dump() does.
// Keys are written in the order the caller gives them: callers that must match an nlohmann
// object (whose keys are sorted) write them in sorted order.
//
// Usage:
//   std::string out;
//   nbo::json::Writer w(out);
//   w.begin_object();
//   w.key("probability"); w.number(0.98);
//   w.key("reasons"); w.begin_array(); ... w.end_array();
//   w.end_object();
//
// The writer inserts commas itself; it does not check that the calls form valid JSON (a key
// outside an object, an unbalanced end): that is the caller's contract, checked by its tests.
// Thread safety: a Writer is used by one thread at a time; it borrows the output string, which
// must outlive it. Failure behaviour: throws only std::bad_alloc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nbo::json {

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  void begin_object();
  void end_object();
  void begin_array();
  void end_array();
  // An object member's name; the next call writes its value.
  void key(std::string_view name);

  void string(std::string_view value);
  void number(double value);  // non-finite -> null
  void integer(std::int64_t value);
  void unsigned_integer(std::uint64_t value);
  void boolean(bool value);
  void null();
  // Already serialized JSON (one complete value), copied as is.
  void raw(std::string_view json_text);

  // Members in one call, for the common scalar cases.
  void member(std::string_view name, std::string_view value) {
    key(name);
    string(value);
  }
  void member(std::string_view name, const char* value) {
    key(name);
    string(value);
  }
  void member(std::string_view name, double value) {
    key(name);
    number(value);
  }
  void member(std::string_view name, bool value) {
    key(name);
    boolean(value);
  }
  void member_integer(std::string_view name, std::int64_t value) {
    key(name);
    integer(value);
  }

  std::string& output() noexcept { return out_; }

 private:
  void before_value();
  void open_container();
  void close_container();
  // Marks the innermost open container as holding an item; true when it held one already (a
  // comma goes first). False outside any container.
  bool add_item();

  // Whether each open container already holds a member or element: bit d of shallow_items_ for
  // the container at depth d < kShallowDepth, deeper ones in deep_items_, so that only output
  // nested deeper than that allocates.
  static constexpr std::size_t kShallowDepth = 64;
  std::string& out_;
  std::uint64_t shallow_items_ = 0;
  std::size_t depth_ = 0;
  std::vector<bool> deep_items_;
  bool after_key_ = false;
};

// `value` as a JSON string literal (quotes included), escaped as Writer::string() does.
void append_string(std::string& out, std::string_view value);
// `value` as nlohmann::json::dump() writes a double (null when not finite).
void append_number(std::string& out, double value);

}  // namespace nbo::json
