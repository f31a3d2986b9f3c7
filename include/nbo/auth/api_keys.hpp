// API keys and roles: who may call which route.
//
// A key is a bearer token "nbo_<id>_<secret>": <id> is 16 lowercase hex characters, public
// (listed by `nbo keys list`, named in logs); <secret> is 64 lowercase hex characters from
// OpenSSL's CSPRNG (256 bits). Only the SHA-256 of the whole token is stored; the token itself is
// shown once, when it is made, and is never logged. With 256 random bits a salt or a slow hash
// would add nothing: the stored digest cannot be reversed or guessed.
//
// Roles are ordered, each allowing what the one below it does:
//   scorer  read-only questions: /predict, /segment, /next-best-offer, GET /customers/{id}...
//   writer  also changes the data: PUT /customers/{id}, events, courses, users, offer responses
//   admin   also operates the service: POST /admin/reload and the keys (/admin/keys)
// A route states the Access it needs; kPublic routes (/health, /ready) need no key.
//
// Thread safety: KeySet is immutable after construction; authenticate() is const and safe to
// call concurrently. The free functions are thread-safe.
// Errors: std::invalid_argument for malformed input to the constructors and parse functions;
// std::runtime_error when OpenSSL fails (no randomness, no digest).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace nbo::auth {

enum class Role : std::uint8_t { kScorer = 1, kWriter = 2, kAdmin = 3 };

// What a route needs: no key, or a key of at least this role.
enum class Access : std::uint8_t { kPublic = 0, kScorer = 1, kWriter = 2, kAdmin = 3 };

std::string_view role_name(Role role) noexcept;  // "scorer", "writer", "admin"
// The role named `name`; std::nullopt for any other text.
std::optional<Role> parse_role(std::string_view name) noexcept;
std::string_view access_name(Access access) noexcept;  // "public" or the role's name

// Whether a key of `role` may use a route that needs `access`.
constexpr bool allows(Role role, Access access) noexcept {
  return static_cast<std::uint8_t>(role) >= static_cast<std::uint8_t>(access);
}

using KeyDigest = std::array<unsigned char, 32>;  // SHA-256

// A key as stored: never the token, only its digest.
struct ApiKey {
  std::string id{};    // 16 lowercase hex characters
  std::string name{};  // what the operator called it ("crm-prod"); 1..100 bytes
  Role role = Role::kScorer;
  KeyDigest digest{};
  std::string created_at{};  // RFC 3339 UTC
  std::string revoked_at{};  // RFC 3339 UTC; empty while the key is active
};

// A freshly made key: its stored form and the token to hand to the caller once.
struct NewKey {
  ApiKey key{};
  std::string token{};
};

// Makes a key with a random id and secret; created_at is left to the caller (the store).
NewKey generate_key(std::string name, Role role);

// SHA-256 of `token`.
KeyDigest digest_of(std::string_view token);
std::string digest_hex(const KeyDigest& digest);
// Reads 64 hex characters; throws std::invalid_argument otherwise.
KeyDigest digest_from_hex(std::string_view hex);

// The id inside a well-formed token, or "" when `token` is not "nbo_<16 hex>_<64 hex>".
std::string_view token_id(std::string_view token) noexcept;

// The token of an "Authorization" header value: "Bearer <token>", the scheme in any case, one or
// more spaces after it. "" when the value is empty or of another scheme.
std::string_view bearer_token(std::string_view authorization) noexcept;

// A key name: 1..100 bytes of printable ASCII; throws std::invalid_argument naming the problem.
void validate_key_name(std::string_view name);

// The active keys the server accepts. Built from the store's rows; revoked keys are left out,
// but counted: a database that ever held a key never goes back to serving without one.
class KeySet {
 public:
  KeySet() = default;
  explicit KeySet(const std::vector<ApiKey>& keys);

  struct Caller {
    std::string_view id;  // the key's id (valid as long as the KeySet)
    Role role = Role::kScorer;
  };
  // The key `token` belongs to, when it is active. The digest of the presented token is compared
  // with the stored one in constant time (CRYPTO_memcmp), so the time taken does not tell how
  // much of a guessed secret was right.
  std::optional<Caller> authenticate(std::string_view token) const;

  bool empty() const noexcept { return keys_.empty(); }
  std::size_t size() const noexcept { return keys_.size(); }  // active keys
  // True when no key was ever made: not one row, active or revoked.
  bool none_ever_made() const noexcept { return none_ever_made_; }

 private:
  struct Entry {
    Role role = Role::kScorer;
    KeyDigest digest{};
  };
  // By id; transparent, so a request's id is looked up as a string_view, without a copy.
  struct IdHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view id) const noexcept {
      return std::hash<std::string_view>{}(id);
    }
  };
  std::unordered_map<std::string, Entry, IdHash, std::equal_to<>> keys_;
  bool none_ever_made_ = true;
};

}  // namespace nbo::auth
