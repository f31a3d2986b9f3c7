// Recognizing API keys in text (command output, answers, logs), without std::regex: GCC 12's
// libstdc++ regex does not compile warning-free in the sanitizer build.
#pragma once

#include <string>
#include <string_view>

namespace nbo::test_support {

// "nbo_" + 16 lowercase hex + "_" + 64 lowercase hex (auth/api_keys.hpp).
inline bool looks_like_api_key(std::string_view text) {
  constexpr std::size_t kSize = 4 + 16 + 1 + 64;
  if (text.size() != kSize || !text.starts_with("nbo_") || text[20] != '_') return false;
  for (std::size_t i = 4; i < kSize; ++i) {
    if (i == 20) continue;
    const char c = text[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// The first API key in `text`; "" when there is none.
inline std::string find_api_key(std::string_view text) {
  for (auto at = text.find("nbo_"); at != std::string_view::npos; at = text.find("nbo_", at + 1)) {
    const std::string_view candidate = text.substr(at, 85);
    if (looks_like_api_key(candidate)) return std::string(candidate);
  }
  return {};
}

// The id (16 hex characters) of a key found by find_api_key().
inline std::string api_key_id(std::string_view key) {
  return std::string(key.substr(4, 16));
}

}  // namespace nbo::test_support
