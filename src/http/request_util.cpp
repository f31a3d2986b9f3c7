#include "nbo/http/request_util.hpp"

#include <chrono>
#include <cstdint>
#include <random>

namespace nbo::http {

namespace {

bool is_id_char(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '-';
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::mt19937_64& thread_rng() {
  thread_local std::mt19937_64 rng = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  return rng;
}

}  // namespace

bool is_valid_request_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!is_id_char(c)) return false;
  }
  return true;
}

std::string generate_request_id() {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto now_ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  std::string id(32, '0');
  // 12 hex digits of milliseconds, most significant first, so that ids sort by time.
  for (std::size_t i = 0; i < 12; ++i) {
    id[11 - i] = kHex[(now_ms >> (4U * i)) & 0xFU];
  }
  // Then 80 random bits, a fresh 64-bit draw every 16 digits.
  auto& rng = thread_rng();
  std::uint64_t bits = 0;
  for (std::size_t i = 12; i < 32; ++i) {
    if ((i - 12) % 16 == 0) bits = rng();
    id[i] = kHex[bits & 0xFU];
    bits >>= 4U;
  }
  return id;
}

std::optional<std::string> percent_decode_path(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (std::size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '%') {
      if (i + 2 >= path.size()) return std::nullopt;
      const int high = hex_value(path[i + 1]);
      const int low = hex_value(path[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      c = static_cast<char>(high * 16 + low);
      i += 2;
    }
    if (c == '\0') return std::nullopt;
    out.push_back(c);
  }
  return out;
}

std::pair<std::string_view, std::string_view> split_target(std::string_view target) noexcept {
  bool absolute_form = false;
  // absolute-form: scheme "://" authority [path] ["?" query]
  if (const auto scheme_end = target.find("://");
      scheme_end != std::string_view::npos && !target.empty() && target.front() != '/') {
    absolute_form = true;
    const auto path_start = target.find_first_of("/?", scheme_end + 3);
    target = path_start == std::string_view::npos ? std::string_view{} : target.substr(path_start);
  }
  std::string_view path = target;
  std::string_view query;
  if (const auto question = target.find('?'); question != std::string_view::npos) {
    path = target.substr(0, question);
    query = target.substr(question + 1);
  }
  if (absolute_form && path.empty()) path = "/";
  return {path, query};
}

}  // namespace nbo::http
