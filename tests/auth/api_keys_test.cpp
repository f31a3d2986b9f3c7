// API keys: the token format, the stored digest, the role order and the key set's check.

#include "nbo/auth/api_keys.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "support/api_key_text.hpp"

namespace nbo::auth {
namespace {

TEST(ApiKeys, AGeneratedKeyIsATokenOfItsIdWhoseDigestIsStoredNotTheToken) {
  const NewKey made = generate_key("crm-prod", Role::kWriter);
  EXPECT_TRUE(test_support::looks_like_api_key(made.token)) << made.token;
  EXPECT_EQ(token_id(made.token), made.key.id);
  EXPECT_EQ(made.key.name, "crm-prod");
  EXPECT_EQ(made.key.role, Role::kWriter);
  EXPECT_EQ(made.key.digest, digest_of(made.token));
  // The digest is not the token nor any part of its secret.
  const std::string hex = digest_hex(made.key.digest);
  EXPECT_EQ(hex.size(), 64U);
  EXPECT_EQ(made.token.find(hex), std::string::npos);
  EXPECT_EQ(digest_from_hex(hex), made.key.digest);
}

TEST(ApiKeys, EveryKeyIsDifferent) {
  std::set<std::string> tokens;
  std::set<std::string> ids;
  for (int i = 0; i < 200; ++i) {
    const NewKey made = generate_key("k", Role::kScorer);
    tokens.insert(made.token);
    ids.insert(made.key.id);
  }
  EXPECT_EQ(tokens.size(), 200U);
  EXPECT_EQ(ids.size(), 200U);
}

TEST(ApiKeys, DigestOfAKnownTokenIsItsSha256) {
  // sha256("abc"), the FIPS 180-2 test vector.
  EXPECT_EQ(digest_hex(digest_of("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ApiKeys, RolesAreOrderedScorerWriterAdmin) {
  EXPECT_TRUE(allows(Role::kScorer, Access::kPublic));
  EXPECT_TRUE(allows(Role::kScorer, Access::kScorer));
  EXPECT_FALSE(allows(Role::kScorer, Access::kWriter));
  EXPECT_FALSE(allows(Role::kScorer, Access::kAdmin));
  EXPECT_TRUE(allows(Role::kWriter, Access::kScorer));
  EXPECT_TRUE(allows(Role::kWriter, Access::kWriter));
  EXPECT_FALSE(allows(Role::kWriter, Access::kAdmin));
  EXPECT_TRUE(allows(Role::kAdmin, Access::kAdmin));
  for (const Role role : {Role::kScorer, Role::kWriter, Role::kAdmin}) {
    EXPECT_EQ(parse_role(role_name(role)), role);
  }
  EXPECT_FALSE(parse_role("Admin").has_value());
  EXPECT_FALSE(parse_role("").has_value());
  EXPECT_EQ(access_name(Access::kPublic), "public");
  EXPECT_EQ(access_name(Access::kWriter), "writer");
}

TEST(ApiKeys, BearerTokenReadsTheSchemeInAnyCase) {
  EXPECT_EQ(bearer_token("Bearer abc"), "abc");
  EXPECT_EQ(bearer_token("bearer   abc  "), "abc");
  EXPECT_EQ(bearer_token("BEARER abc"), "abc");
  EXPECT_EQ(bearer_token("Basic abc"), "");
  EXPECT_EQ(bearer_token("Bearerabc"), "");
  EXPECT_EQ(bearer_token("Bearer"), "");
  EXPECT_EQ(bearer_token(""), "");
}

TEST(ApiKeys, TokenIdRejectsAnythingButTheExactFormat) {
  const std::string good = "nbo_0123456789abcdef_" + std::string(64, 'a');
  EXPECT_EQ(token_id(good), "0123456789abcdef");
  EXPECT_EQ(token_id(good + "a"), "");
  EXPECT_EQ(token_id(good.substr(1)), "");
  EXPECT_EQ(token_id("nbo_0123456789ABCDEF_" + std::string(64, 'a')), "");
  EXPECT_EQ(token_id("nbo_0123456789abcdef-" + std::string(64, 'a')), "");
  EXPECT_EQ(token_id("nbo_0123456789abcdef_" + std::string(63, 'a') + "g"), "");
  EXPECT_EQ(token_id(""), "");
}

TEST(ApiKeys, KeyNamesArePrintableAsciiUpToOneHundredBytes) {
  EXPECT_NO_THROW(validate_key_name("crm-prod 2"));
  EXPECT_NO_THROW(validate_key_name(std::string(100, 'x')));
  EXPECT_THROW(validate_key_name(""), std::invalid_argument);
  EXPECT_THROW(validate_key_name(std::string(101, 'x')), std::invalid_argument);
  EXPECT_THROW(validate_key_name("tab\there"), std::invalid_argument);
  EXPECT_THROW(validate_key_name("ключ"), std::invalid_argument);
}

TEST(KeySet, AcceptsActiveKeysOnlyAndNamesTheirRole) {
  NewKey scorer = generate_key("s", Role::kScorer);
  NewKey admin = generate_key("a", Role::kAdmin);
  NewKey revoked = generate_key("r", Role::kWriter);
  revoked.key.revoked_at = "2026-11-30T00:00:00.000Z";
  const KeySet keys({scorer.key, admin.key, revoked.key});
  EXPECT_EQ(keys.size(), 2U);

  const auto caller = keys.authenticate(scorer.token);
  ASSERT_TRUE(caller.has_value());
  EXPECT_EQ(caller->id, scorer.key.id);
  EXPECT_EQ(caller->role, Role::kScorer);
  ASSERT_TRUE(keys.authenticate(admin.token).has_value());
  EXPECT_EQ(keys.authenticate(admin.token)->role, Role::kAdmin);

  EXPECT_FALSE(keys.authenticate(revoked.token).has_value());
  EXPECT_FALSE(keys.authenticate("").has_value());
  EXPECT_FALSE(keys.authenticate("Bearer " + scorer.token).has_value());
  // The right id with a wrong secret: one character changed at either end of the secret.
  for (const std::size_t at : {scorer.token.size() - 1, std::size_t{21}}) {
    std::string forged = scorer.token;
    forged[at] = forged[at] == '0' ? '1' : '0';
    EXPECT_FALSE(keys.authenticate(forged).has_value()) << forged;
  }
  EXPECT_FALSE(keys.none_ever_made());
  EXPECT_TRUE(KeySet().empty());
  EXPECT_TRUE(KeySet().none_ever_made());
  // Only revoked keys: none accepted, but keys were made.
  const KeySet only_revoked({revoked.key});
  EXPECT_TRUE(only_revoked.empty());
  EXPECT_FALSE(only_revoked.none_ever_made());
}

TEST(KeySet, RejectsAMalformedStoredId) {
  NewKey made = generate_key("x", Role::kScorer);
  made.key.id = "not-hex";
  EXPECT_THROW(KeySet({made.key}), std::invalid_argument);
}

}  // namespace
}  // namespace nbo::auth
