// nbo serve configuration: flags, NBO_* environment, precedence, validation, help.

#include "nbo/config/serve_config.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace nbo::config {
namespace {

using Args = std::vector<std::string>;

ParsedServeConfig parse(const Args& args, const Args& environment = {}) {
  return parse_serve_config(args, environment);
}

// Asserts a usage error: no config, exit code 2, a message naming `needle` (the flag).
void expect_usage_error(const ParsedServeConfig& parsed, const std::string& needle) {
  EXPECT_FALSE(parsed.config.has_value());
  EXPECT_EQ(parsed.exit_code, 2);
  EXPECT_NE(parsed.message.find(needle), std::string::npos)
      << "message does not name '" << needle << "': " << parsed.message;
}

const std::vector<std::string>& all_flags() {
  static const std::vector<std::string> flags{"--host",
                                              "--port",
                                              "--threads",
                                              "--models",
                                              "--db-path",
                                              "--migrations",
                                              "--max-body-bytes",
                                              "--max-in-flight",
                                              "--max-batch",
                                              "--read-timeout-ms",
                                              "--idle-timeout-ms",
                                              "--shutdown-timeout-ms",
                                              "--request-log-max-bytes",
                                              "--request-log-overflow",
                                              "--request-log-input",
                                              "--request-log-retention-days",
                                              "--durability",
                                              "--log-format",
                                              "--log-level",
                                              "--help"};
  return flags;
}

TEST(ConfigServe, DefaultsMatchTheStructDefaults) {
  const auto parsed = parse({});
  ASSERT_TRUE(parsed.config.has_value()) << parsed.message;
  EXPECT_EQ(parsed.exit_code, 0);
  const ServeConfig& config = *parsed.config;
  const ServeConfig defaults;
  EXPECT_EQ(config.server.host, "127.0.0.1");
  EXPECT_EQ(config.server.port, 8080);
  EXPECT_EQ(config.server.threads, 0U);
  EXPECT_EQ(config.server.max_body_bytes, defaults.server.max_body_bytes);
  EXPECT_EQ(config.server.max_in_flight, defaults.server.max_in_flight);
  EXPECT_EQ(config.server.read_timeout, defaults.server.read_timeout);
  EXPECT_EQ(config.server.idle_timeout, defaults.server.idle_timeout);
  EXPECT_EQ(config.server.shutdown_deadline, defaults.server.shutdown_deadline);
  EXPECT_EQ(config.limits.max_batch, defaults.limits.max_batch);
  EXPECT_EQ(config.limits.max_json_depth, defaults.limits.max_json_depth);
  EXPECT_EQ(config.models_dir, std::filesystem::path("models"));
  EXPECT_EQ(config.db_path, std::filesystem::path("var/nbo.db"));
  EXPECT_EQ(config.migrations_dir, std::filesystem::path("migrations"));
  EXPECT_EQ(config.request_log_bytes, defaults.request_log_bytes);
  EXPECT_EQ(config.request_log_overflow, store::RequestLogOverflow::kReject);
  EXPECT_FALSE(config.limits.log_request_input);
  EXPECT_EQ(config.request_log_retention, std::chrono::hours(90 * 24));
  EXPECT_EQ(config.durability, store::Synchronous::kFull);
  EXPECT_FALSE(config.json_logs);
  EXPECT_EQ(config.log_level, "info");
}

TEST(ConfigServe, FlagsAreParsed) {
  const auto parsed = parse({"--host",
                             "0.0.0.0",
                             "--port",
                             "9090",
                             "--threads",
                             "3",
                             "--models",
                             "/m",
                             "--db-path",
                             "/tmp/x/nbo.db",
                             "--migrations",
                             "/mig",
                             "--max-body-bytes",
                             "4096",
                             "--max-in-flight",
                             "7",
                             "--max-batch",
                             "11",
                             "--read-timeout-ms",
                             "1500",
                             "--idle-timeout-ms",
                             "2500",
                             "--shutdown-timeout-ms",
                             "3500",
                             "--request-log-max-bytes",
                             "99999",
                             "--request-log-overflow",
                             "drop",
                             "--request-log-input",
                             "--request-log-retention-days",
                             "7",
                             "--durability",
                             "normal",
                             "--log-format",
                             "json",
                             "--log-level",
                             "debug"});
  ASSERT_TRUE(parsed.config.has_value()) << parsed.message;
  const ServeConfig& config = *parsed.config;
  EXPECT_EQ(config.server.host, "0.0.0.0");
  EXPECT_EQ(config.server.port, 9090);
  EXPECT_EQ(config.server.threads, 3U);
  EXPECT_EQ(config.models_dir, std::filesystem::path("/m"));
  EXPECT_EQ(config.db_path, std::filesystem::path("/tmp/x/nbo.db"));
  EXPECT_EQ(config.migrations_dir, std::filesystem::path("/mig"));
  EXPECT_EQ(config.server.max_body_bytes, 4096U);
  EXPECT_EQ(config.server.max_in_flight, 7U);
  EXPECT_EQ(config.limits.max_batch, 11U);
  EXPECT_EQ(config.server.read_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(config.server.idle_timeout, std::chrono::milliseconds(2500));
  EXPECT_EQ(config.server.shutdown_deadline, std::chrono::milliseconds(3500));
  EXPECT_EQ(config.request_log_bytes, 99999U);
  EXPECT_EQ(config.request_log_overflow, store::RequestLogOverflow::kDrop);
  EXPECT_TRUE(config.limits.log_request_input);
  EXPECT_EQ(config.request_log_retention, std::chrono::hours(7 * 24));
  EXPECT_EQ(config.durability, store::Synchronous::kNormal);
  EXPECT_TRUE(config.json_logs);
  EXPECT_EQ(config.log_level, "debug");
}

TEST(ConfigServe, EqualsSignFormAndPortZero) {
  const auto parsed = parse({"--port=0", "--db-path=/tmp/y.db"});
  ASSERT_TRUE(parsed.config.has_value()) << parsed.message;
  EXPECT_EQ(parsed.config->server.port, 0);
  EXPECT_EQ(parsed.config->db_path, std::filesystem::path("/tmp/y.db"));
}

TEST(ConfigServe, EnvironmentIsApplied) {
  const auto parsed = parse({}, {"NBO_PORT=9191", "NBO_DB_PATH=/data/env.db", "NBO_MAX_BATCH=42",
                                 "NBO_LOG_FORMAT=json", "NBO_THREADS=5", "PATH=/usr/bin",
                                 "NBO_UNRELATED_TOOL_SETTING=1", "NBO_HELP=1", "MALFORMED"});
  ASSERT_TRUE(parsed.config.has_value()) << parsed.message;
  EXPECT_EQ(parsed.config->server.port, 9191);
  EXPECT_EQ(parsed.config->db_path, std::filesystem::path("/data/env.db"));
  EXPECT_EQ(parsed.config->limits.max_batch, 42U);
  EXPECT_TRUE(parsed.config->json_logs);
  EXPECT_EQ(parsed.config->server.threads, 5U);
}

TEST(ConfigServe, FlagBeatsEnvironment) {
  const auto parsed =
      parse({"--port", "7000", "--db-path", "/flag.db"}, {"NBO_PORT=9191", "NBO_DB_PATH=/env.db"});
  ASSERT_TRUE(parsed.config.has_value()) << parsed.message;
  EXPECT_EQ(parsed.config->server.port, 7000);
  EXPECT_EQ(parsed.config->db_path, std::filesystem::path("/flag.db"));
}

// An environment value is taken verbatim: a '#' in a path is not a comment.
TEST(ConfigServe, EnvironmentValueIsVerbatim) {
  const auto parsed = parse({}, {"NBO_DB_PATH=/data/run#2/nbo.db"});
  ASSERT_TRUE(parsed.config.has_value()) << parsed.message;
  EXPECT_EQ(parsed.config->db_path, std::filesystem::path("/data/run#2/nbo.db"));
}

TEST(ConfigServe, BadValuesAreUsageErrorsNamingTheFlag) {
  expect_usage_error(parse({"--port", "70000"}), "--port");
  expect_usage_error(parse({"--port", "http"}), "port");
  expect_usage_error(parse({"--log-format", "xml"}), "--log-format");
  expect_usage_error(parse({"--frobnicate"}), "--frobnicate");
  expect_usage_error(parse({"--max-batch", "0"}), "--max-batch");
  expect_usage_error(parse({"--max-in-flight", "0"}), "--max-in-flight");
  expect_usage_error(parse({"--max-body-bytes", "10"}), "--max-body-bytes");
  expect_usage_error(parse({"--read-timeout-ms", "0"}), "--read-timeout-ms");
  expect_usage_error(parse({"--request-log-max-bytes", "100"}), "--request-log-max-bytes");
  expect_usage_error(parse({"--request-log-overflow", "block"}), "--request-log-overflow");
  expect_usage_error(parse({"--durability", "eventual"}), "--durability");
  expect_usage_error(parse({"--port"}), "port");
}

// `nbo serve 9090` (a forgotten --port) must not start with the defaults, ignoring the argument.
TEST(ConfigServe, PositionalArgumentIsAUsageError) {
  const auto parsed = parse({"9090"});
  EXPECT_FALSE(parsed.config.has_value());
  EXPECT_EQ(parsed.exit_code, 2);
  EXPECT_FALSE(parsed.message.empty());
}

TEST(ConfigServe, BadEnvironmentValuesAreUsageErrors) {
  expect_usage_error(parse({}, {"NBO_PORT=70000"}), "port");
  expect_usage_error(parse({}, {"NBO_PORT=abc"}), "port");
  expect_usage_error(parse({}, {"NBO_LOG_FORMAT=xml"}), "log-format");
}

// An unknown log level is a usage error at parse time (exit 2), not a failure after start-up.
TEST(ConfigServe, UnknownLogLevelIsAUsageError) {
  expect_usage_error(parse({"--log-level", "verbose"}), "--log-level");
}

// Unsigned options must not take negative numbers (Boost would wrap "-1" to 4294967295 and the
// server would try to start four billion threads).
TEST(ConfigServe, NegativeThreadsIsAUsageError) {
  expect_usage_error(parse({"--threads=-1"}), "--threads");
}

TEST(ConfigServe, HelpExitsZeroWithEveryFlag) {
  for (const Args& args : {Args{"--help"}, Args{"-h"}, Args{"--port", "1", "--help"}}) {
    const auto parsed = parse(args);
    EXPECT_FALSE(parsed.config.has_value());
    EXPECT_EQ(parsed.exit_code, 0);
    EXPECT_NE(parsed.message.find("Usage: nbo serve"), std::string::npos) << parsed.message;
    for (const auto& flag : all_flags()) {
      EXPECT_NE(parsed.message.find(flag), std::string::npos) << flag << " not in help";
    }
    EXPECT_NE(parsed.message.find("NBO_DB_PATH"), std::string::npos);
  }
  EXPECT_EQ(parse({"--help"}).message, serve_help());
}

}  // namespace
}  // namespace nbo::config

namespace nbo::config {
namespace {

TEST(ConfigServe, OfferContactPolicyPerChannel) {
  const auto defaults = parse_serve_config({}, {});
  ASSERT_TRUE(defaults.config.has_value());
  EXPECT_EQ(defaults.config->limits.offer_policy.email.cooldown_days, 14);
  EXPECT_EQ(defaults.config->limits.offer_policy.crm.max_offers, 5);
  const auto parsed =
      parse_serve_config({"--offer-email-cooldown-days", "30", "--offer-email-max-offers", "1",
                          "--offer-crm-window-days", "14"},
                         {"NBO_OFFER_CRM_COOLDOWN_DAYS=3"});
  ASSERT_TRUE(parsed.config.has_value()) << parsed.message;
  const auto& policy = parsed.config->limits.offer_policy;
  EXPECT_EQ(policy.email.cooldown_days, 30);
  EXPECT_EQ(policy.email.max_offers, 1);
  EXPECT_TRUE(policy.email.needs_email_consent);
  EXPECT_EQ(policy.crm.window_days, 14);
  EXPECT_EQ(policy.crm.cooldown_days, 3);
  const auto bad = parse_serve_config({"--offer-crm-max-offers=-1"}, {});
  EXPECT_FALSE(bad.config.has_value());
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.message.find("offer-crm-max-offers"), std::string::npos) << bad.message;
}

}  // namespace
}  // namespace nbo::config
