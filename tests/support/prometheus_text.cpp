#include "support/prometheus_text.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>
#include <system_error>
#include <tuple>
#include <unordered_map>

namespace nbo::test {
namespace {

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}
bool is_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  while (i < s.size()) {
    const unsigned char b = byte(i);
    std::size_t n = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b < 0x80) {
      ++i;
      continue;
    } else if (b >= 0xC2 && b <= 0xDF) {
      n = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      n = 3;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      n = 4;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (i + n > s.size() || byte(i + 1) < lo || byte(i + 1) > hi) return false;
    for (std::size_t k = 2; k < n; ++k) {
      if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return false;
    }
    i += n;
  }
  return true;
}

// Decimal floats, NaN and [+-]Inf(inity), as Go's strconv.ParseFloat reads them (hexadecimal
// and underscore forms are not accepted here: no sane exporter writes them).
std::optional<double> parse_float(std::string_view text) {
  std::string_view body = text;
  bool negative = false;
  if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (equals_ignore_case(body, "inf") || equals_ignore_case(body, "infinity")) {
    return negative ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
  }
  if (equals_ignore_case(body, "nan")) return std::numeric_limits<double>::quiet_NaN();
  // [0-9]+ ( . [0-9]* )? | . [0-9]+ , then optional exponent.
  std::size_t i = 0;
  std::size_t digits = 0;
  while (i < body.size() && is_digit(body[i])) ++i, ++digits;
  if (i < body.size() && body[i] == '.') {
    ++i;
    while (i < body.size() && is_digit(body[i])) ++i, ++digits;
  }
  if (digits == 0) return std::nullopt;
  if (i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
    ++i;
    if (i < body.size() && (body[i] == '+' || body[i] == '-')) ++i;
    std::size_t exponent_digits = 0;
    while (i < body.size() && is_digit(body[i])) ++i, ++exponent_digits;
    if (exponent_digits == 0) return std::nullopt;
  }
  if (i != body.size()) return std::nullopt;
  double value = 0.0;
  const auto result = std::from_chars(body.data(), body.data() + body.size(), value);
  if (result.ec != std::errc{} || result.ptr != body.data() + body.size()) return std::nullopt;
  return negative ? -value : value;
}

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (!(is_letter(c) || c == '_' || c == ':' || (i > 0 && is_digit(c)))) return false;
  }
  return true;
}

bool valid_label_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (!(is_letter(c) || c == '_' || (i > 0 && is_digit(c)))) return false;
  }
  return true;
}

// A cursor over one line.
class LineReader {
 public:
  LineReader(std::string_view line, int number) : line_(line), number_(number) {}

  [[noreturn]] void fail(const std::string& message) const {
    throw PrometheusParseError(number_, message);
  }
  bool at_end() const { return pos_ >= line_.size(); }
  char peek() const { return at_end() ? '\0' : line_[pos_]; }
  void advance() { ++pos_; }
  std::size_t skip_blanks() {
    const std::size_t start = pos_;
    while (!at_end() && is_blank(line_[pos_])) ++pos_;
    return pos_ - start;
  }
  // A run of non-blank characters.
  std::string_view token() {
    const std::size_t start = pos_;
    while (!at_end() && !is_blank(line_[pos_])) ++pos_;
    return line_.substr(start, pos_ - start);
  }
  // A run of [a-zA-Z0-9_:] characters (validated by the caller).
  std::string_view name() {
    const std::size_t start = pos_;
    while (!at_end() && (is_letter(peek()) || is_digit(peek()) || peek() == '_' || peek() == ':')) {
      ++pos_;
    }
    return line_.substr(start, pos_ - start);
  }
  std::string_view rest() {
    const std::string_view r = line_.substr(pos_);
    pos_ = line_.size();
    return r;
  }

 private:
  std::string_view line_;
  std::size_t pos_ = 0;
  int number_;
};

std::string unescape_help(LineReader& reader, std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    if (i + 1 == text.size()) reader.fail("HELP text ends with a lone backslash");
    const char next = text[++i];
    if (next == '\\') {
      out += '\\';
    } else if (next == 'n') {
      out += '\n';
    } else {
      reader.fail(std::string("invalid escape \\") + next + " in HELP text");
    }
  }
  return out;
}

PrometheusLabels parse_labels(LineReader& reader) {
  PrometheusLabels labels;
  reader.advance();  // '{'
  reader.skip_blanks();
  while (reader.peek() != '}') {
    if (reader.at_end()) reader.fail("unterminated label set");
    const std::string label(reader.name());
    if (!valid_label_name(label)) reader.fail("invalid label name '" + label + "'");
    reader.skip_blanks();
    if (reader.peek() != '=') reader.fail("expected '=' after label name '" + label + "'");
    reader.advance();
    reader.skip_blanks();
    if (reader.peek() != '"') reader.fail("expected '\"' to open the value of '" + label + "'");
    reader.advance();
    std::string value;
    for (;;) {
      if (reader.at_end()) reader.fail("unterminated value of label '" + label + "'");
      const char c = reader.peek();
      reader.advance();
      if (c == '"') break;
      if (c != '\\') {
        value += c;
        continue;
      }
      if (reader.at_end()) reader.fail("unterminated escape in label '" + label + "'");
      const char next = reader.peek();
      reader.advance();
      if (next == '\\') {
        value += '\\';
      } else if (next == '"') {
        value += '"';
      } else if (next == 'n') {
        value += '\n';
      } else {
        reader.fail(std::string("invalid escape \\") + next + " in label '" + label + "'");
      }
    }
    if (!valid_utf8(value)) reader.fail("label '" + label + "' value is not valid UTF-8");
    if (!labels.emplace(label, std::move(value)).second) {
      reader.fail("label '" + label + "' repeated");
    }
    reader.skip_blanks();
    if (reader.peek() == ',') {
      reader.advance();
      reader.skip_blanks();
    } else if (reader.peek() != '}') {
      reader.fail("expected ',' or '}' after the value of label '" + label + "'");
    }
  }
  reader.advance();  // '}'
  return labels;
}

bool is_known_type(std::string_view type) {
  return type == "counter" || type == "gauge" || type == "histogram" || type == "summary" ||
         type == "untyped";
}

struct HistogramSeries {
  std::vector<std::tuple<double, double, int>> buckets;  // le, value, line
  std::optional<double> sum;
  std::optional<double> count;
  int first_line = 0;
};

std::string describe(const PrometheusLabels& labels) {
  std::string out = "{";
  for (const auto& [k, v] : labels) {
    if (out.size() > 1) out += ',';
    out += k + "=\"" + v + "\"";
  }
  return out + "}";
}

}  // namespace

PrometheusParseError::PrometheusParseError(int line, const std::string& message)
    : std::runtime_error("prometheus text line " + std::to_string(line) + ": " + message),
      line_(line) {}

PrometheusText parse_prometheus_text(std::string_view text) {
  PrometheusText result;
  std::unordered_map<std::string, std::size_t> family_index;  // name -> index in families_
  std::set<std::string> has_help;
  std::set<std::string> has_type;
  std::set<std::string> has_samples;
  std::set<std::string> closed_groups;
  std::string current_group;
  std::set<std::pair<std::string, PrometheusLabels>> seen_series;

  const auto family_of = [&](const std::string& name) -> PrometheusFamily& {
    auto [it, inserted] = family_index.try_emplace(name, result.families_.size());
    if (inserted) result.families_.push_back(PrometheusFamily{name, "untyped", std::nullopt});
    return result.families_[it->second];
  };
  const auto enter_group = [&](const LineReader& reader, const std::string& family) {
    if (family == current_group) return;
    if (closed_groups.contains(family)) {
      reader.fail("lines of family '" + family + "' are not in one contiguous group");
    }
    if (!current_group.empty()) closed_groups.insert(current_group);
    current_group = family;
  };

  int line_number = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    ++line_number;
    const std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      throw PrometheusParseError(line_number, "last line does not end with '\\n'");
    }
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    LineReader reader(line, line_number);
    if (line.find('\r') != std::string_view::npos) reader.fail("carriage return in line");
    reader.skip_blanks();
    if (reader.at_end()) continue;  // blank line

    if (reader.peek() == '#') {
      reader.advance();
      reader.skip_blanks();
      const std::string_view keyword = reader.token();
      if (keyword != "HELP" && keyword != "TYPE") continue;  // plain comment
      if (reader.skip_blanks() == 0) reader.fail(std::string(keyword) + " without a metric name");
      const std::string name(reader.token());
      if (!valid_metric_name(name)) reader.fail("invalid metric name '" + name + "'");
      enter_group(reader, name);
      PrometheusFamily& family = family_of(name);
      if (keyword == "HELP") {
        if (!has_help.insert(name).second) reader.fail("second HELP for '" + name + "'");
        if (!reader.at_end() && reader.skip_blanks() == 0) reader.fail("malformed HELP line");
        family.help = unescape_help(reader, reader.rest());
      } else {
        if (!has_type.insert(name).second) reader.fail("second TYPE for '" + name + "'");
        if (has_samples.contains(name)) reader.fail("TYPE for '" + name + "' after its samples");
        reader.skip_blanks();
        const std::string type(reader.token());
        if (!is_known_type(type)) reader.fail("unknown type '" + type + "'");
        reader.skip_blanks();
        if (!reader.at_end()) reader.fail("trailing characters after TYPE");
        family.type = type;
      }
      continue;
    }

    // A sample.
    PrometheusSample sample;
    sample.line = line_number;
    sample.name = std::string(reader.name());
    if (!valid_metric_name(sample.name)) {
      reader.fail("invalid metric name at '" + std::string(reader.rest()) + "'");
    }
    std::size_t blanks = reader.skip_blanks();
    if (reader.peek() == '{') {
      sample.labels = parse_labels(reader);
      blanks = reader.skip_blanks();
    }
    if (blanks == 0) reader.fail("expected a blank before the value");
    const std::string_view value_text = reader.token();
    const std::optional<double> value = parse_float(value_text);
    if (!value) reader.fail("invalid value '" + std::string(value_text) + "'");
    sample.value = *value;
    reader.skip_blanks();
    if (!reader.at_end()) {
      const std::string_view ts = reader.token();
      std::int64_t timestamp = 0;
      const auto parsed = std::from_chars(ts.data(), ts.data() + ts.size(), timestamp);
      if (parsed.ec != std::errc{} || parsed.ptr != ts.data() + ts.size()) {
        reader.fail("invalid timestamp '" + std::string(ts) + "'");
      }
      sample.timestamp = timestamp;
      reader.skip_blanks();
      if (!reader.at_end()) reader.fail("trailing characters after the timestamp");
    }

    // Which family? <base>_bucket/_sum/_count belong to a declared histogram (or summary).
    sample.family = sample.name;
    for (const std::string_view suffix : {"_bucket", "_sum", "_count"}) {
      if (!sample.name.ends_with(suffix)) continue;
      const std::string base = sample.name.substr(0, sample.name.size() - suffix.size());
      const auto it = family_index.find(base);
      if (it == family_index.end()) continue;
      const std::string& type = result.families_[it->second].type;
      if (type == "histogram" || (type == "summary" && suffix != "_bucket")) sample.family = base;
    }
    enter_group(reader, sample.family);
    const std::string type = family_of(sample.family).type;
    has_samples.insert(sample.family);
    if (!seen_series.emplace(sample.name, sample.labels).second) {
      reader.fail("duplicate series " + sample.name + describe(sample.labels));
    }
    if (type == "counter" && !(sample.value >= 0.0)) {
      reader.fail("counter '" + sample.name + "' is negative or NaN");
    }
    if (type == "histogram") {
      if (sample.name == sample.family) {
        reader.fail("histogram sample '" + sample.name + "' lacks a _bucket/_sum/_count suffix");
      }
      const bool is_bucket = sample.name.ends_with("_bucket");
      const auto le = sample.labels.find("le");
      if (is_bucket && (le == sample.labels.end() || !parse_float(le->second))) {
        reader.fail("histogram bucket without a numeric 'le' label");
      }
      if (!is_bucket && le != sample.labels.end()) {
        reader.fail("'le' label on histogram sample '" + sample.name + "'");
      }
    }
    result.samples_.push_back(std::move(sample));
  }

  // Histogram semantics, per family and label set (without le).
  std::map<std::pair<std::string, PrometheusLabels>, HistogramSeries> histograms;
  for (const PrometheusSample& sample : result.samples_) {
    if (result.type_of(sample.family) != "histogram") continue;
    PrometheusLabels key_labels = sample.labels;
    key_labels.erase("le");
    HistogramSeries& series = histograms[{sample.family, key_labels}];
    if (series.first_line == 0) series.first_line = sample.line;
    if (sample.name.ends_with("_bucket")) {
      const double le = *parse_float(sample.labels.at("le"));
      series.buckets.emplace_back(le, sample.value, sample.line);
    } else if (sample.name.ends_with("_sum")) {
      series.sum = sample.value;
    } else {
      series.count = sample.value;
    }
  }
  for (auto& [key, series] : histograms) {
    const std::string where = key.first + describe(key.second);
    std::sort(series.buckets.begin(), series.buckets.end());
    if (series.buckets.empty() || !std::isinf(std::get<0>(series.buckets.back())) ||
        std::get<0>(series.buckets.back()) < 0) {
      throw PrometheusParseError(series.first_line, "histogram " + where + " has no +Inf bucket");
    }
    for (std::size_t i = 0; i < series.buckets.size(); ++i) {
      const auto& [le, count, line] = series.buckets[i];
      if (!(count >= 0.0)) {
        throw PrometheusParseError(line, "histogram " + where + " bucket is negative or NaN");
      }
      if (i > 0 && std::get<0>(series.buckets[i - 1]) == le) {
        throw PrometheusParseError(line, "histogram " + where + " repeats a bucket bound");
      }
      if (i > 0 && count < std::get<1>(series.buckets[i - 1])) {
        throw PrometheusParseError(line, "histogram " + where + " buckets are not cumulative");
      }
    }
    if (!series.sum) {
      throw PrometheusParseError(series.first_line, "histogram " + where + " has no _sum");
    }
    if (!series.count) {
      throw PrometheusParseError(series.first_line, "histogram " + where + " has no _count");
    }
    if (*series.count != std::get<1>(series.buckets.back())) {
      throw PrometheusParseError(series.first_line,
                                 "histogram " + where + " _count differs from the +Inf bucket");
    }
  }
  return result;
}

std::vector<PrometheusSample> PrometheusText::samples(std::string_view name) const {
  std::vector<PrometheusSample> out;
  for (const PrometheusSample& sample : samples_) {
    if (sample.name == name) out.push_back(sample);
  }
  return out;
}

std::optional<double> PrometheusText::value(std::string_view name,
                                            const PrometheusLabels& labels) const {
  for (const PrometheusSample& sample : samples_) {
    if (sample.name == name && sample.labels == labels) return sample.value;
  }
  return std::nullopt;
}

std::string PrometheusText::type_of(std::string_view family) const {
  for (const PrometheusFamily& f : families_) {
    if (f.name == family) return f.type;
  }
  return "";
}

std::optional<std::string> PrometheusText::help_of(std::string_view family) const {
  for (const PrometheusFamily& f : families_) {
    if (f.name == family) return f.help;
  }
  return std::nullopt;
}

std::vector<std::pair<double, double>> PrometheusText::buckets(
    std::string_view family, const PrometheusLabels& labels) const {
  std::vector<std::pair<double, double>> out;
  const std::string bucket_name = std::string(family) + "_bucket";
  for (const PrometheusSample& sample : samples_) {
    if (sample.name != bucket_name || sample.family != family) continue;
    PrometheusLabels without_le = sample.labels;
    const auto le = without_le.find("le");
    if (le == without_le.end()) continue;
    const std::optional<double> bound = parse_float(le->second);
    without_le.erase(le);
    if (bound && without_le == labels) out.emplace_back(*bound, sample.value);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace nbo::test
