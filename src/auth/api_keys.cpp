#include "nbo/auth/api_keys.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <span>
#include <stdexcept>

namespace nbo::auth {
namespace {

constexpr std::string_view kTokenPrefix = "nbo_";
constexpr std::size_t kIdBytes = 8;       // 16 hex characters
constexpr std::size_t kSecretBytes = 32;  // 64 hex characters
constexpr std::size_t kMaxNameBytes = 100;

constexpr bool is_lower_hex(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool all_lower_hex(std::string_view text) noexcept {
  for (const char c : text) {
    if (!is_lower_hex(c)) return false;
  }
  return true;
}

std::string lower_hex(std::span<const unsigned char> bytes) {
  constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes.size());
  for (const unsigned char byte : bytes) {
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 0x0F]);
  }
  return out;
}

std::string random_hex(std::size_t bytes) {
  std::array<unsigned char, kSecretBytes> buffer{};
  if (bytes > buffer.size()) throw std::logic_error("random_hex: too many bytes");
  if (RAND_bytes(buffer.data(), static_cast<int>(bytes)) != 1) {
    throw std::runtime_error("cannot make an API key: OpenSSL's random generator failed");
  }
  return lower_hex(std::span(buffer.data(), bytes));
}

bool iequals_ascii(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

}  // namespace

std::string_view role_name(Role role) noexcept {
  switch (role) {
    case Role::kScorer:
      return "scorer";
    case Role::kWriter:
      return "writer";
    case Role::kAdmin:
      return "admin";
  }
  return "scorer";
}

std::optional<Role> parse_role(std::string_view name) noexcept {
  for (const Role role : {Role::kScorer, Role::kWriter, Role::kAdmin}) {
    if (name == role_name(role)) return role;
  }
  return std::nullopt;
}

std::string_view access_name(Access access) noexcept {
  return access == Access::kPublic ? "public" : role_name(static_cast<Role>(access));
}

NewKey generate_key(std::string name, Role role) {
  validate_key_name(name);
  NewKey made;
  made.key.id = random_hex(kIdBytes);
  made.key.name = std::move(name);
  made.key.role = role;
  made.token = std::string(kTokenPrefix) + made.key.id + "_" + random_hex(kSecretBytes);
  made.key.digest = digest_of(made.token);
  return made;
}

KeyDigest digest_of(std::string_view token) {
  KeyDigest digest{};
  unsigned int length = 0;
  if (EVP_Digest(token.data(), token.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1 ||
      length != digest.size()) {
    throw std::runtime_error("cannot hash an API key: OpenSSL's SHA-256 failed");
  }
  return digest;
}

std::string digest_hex(const KeyDigest& digest) {
  return lower_hex(digest);
}

KeyDigest digest_from_hex(std::string_view hex) {
  KeyDigest digest{};
  if (hex.size() != 2 * digest.size() || !all_lower_hex(hex)) {
    throw std::invalid_argument("an API key digest must be 64 lowercase hex characters");
  }
  const auto nibble = [](char c) {
    return static_cast<unsigned char>(c <= '9' ? c - '0' : c - 'a' + 10);
  };
  for (std::size_t i = 0; i < digest.size(); ++i) {
    digest[i] = static_cast<unsigned char>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  }
  return digest;
}

std::string_view token_id(std::string_view token) noexcept {
  constexpr std::size_t kIdHex = 2 * kIdBytes;
  constexpr std::size_t kSize = kTokenPrefix.size() + kIdHex + 1 + 2 * kSecretBytes;
  if (token.size() != kSize || !token.starts_with(kTokenPrefix) ||
      token[kTokenPrefix.size() + kIdHex] != '_') {
    return {};
  }
  const std::string_view id = token.substr(kTokenPrefix.size(), kIdHex);
  const std::string_view secret = token.substr(kTokenPrefix.size() + kIdHex + 1);
  if (!all_lower_hex(id) || !all_lower_hex(secret)) return {};
  return id;
}

std::string_view bearer_token(std::string_view authorization) noexcept {
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size() ||
      !iequals_ascii(authorization.substr(0, kScheme.size()), kScheme) ||
      authorization[kScheme.size()] != ' ') {
    return {};
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
  return token;
}

void validate_key_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) {
    throw std::invalid_argument(
        fmt::format("a key name must have 1 to {} bytes, got {}", kMaxNameBytes, name.size()));
  }
  for (const char c : name) {
    if (c < 0x20 || c > 0x7E) {
      throw std::invalid_argument("a key name must be printable ASCII (letters, digits, -_. ...)");
    }
  }
}

KeySet::KeySet(const std::vector<ApiKey>& keys) : none_ever_made_(keys.empty()) {
  for (const auto& key : keys) {
    if (!key.revoked_at.empty()) continue;
    if (key.id.size() != 2 * kIdBytes || !all_lower_hex(key.id)) {
      throw std::invalid_argument(fmt::format("API key id '{}' is not 16 lowercase hex", key.id));
    }
    keys_.emplace(key.id, Entry{key.role, key.digest});
  }
}

std::optional<KeySet::Caller> KeySet::authenticate(std::string_view token) const {
  const std::string_view id = token_id(token);
  if (id.empty()) return std::nullopt;
  const auto found = keys_.find(id);
  if (found == keys_.end()) return std::nullopt;
  const KeyDigest presented = digest_of(token);
  if (CRYPTO_memcmp(presented.data(), found->second.digest.data(), presented.size()) != 0) {
    return std::nullopt;
  }
  return Caller{found->first, found->second.role};
}

}  // namespace nbo::auth
