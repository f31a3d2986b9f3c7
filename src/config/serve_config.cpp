#include "nbo/config/serve_config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/asio/ip/address.hpp>
#include <boost/program_options.hpp>
#include <sstream>
#include <string_view>

namespace nbo::config {
namespace po = boost::program_options;
namespace {

struct RawOptions {
  std::string host;
  unsigned port = 0;
  unsigned threads = 0;
  unsigned worker_threads = 0;
  std::string models;
  std::string db;
  std::string migrations;
  std::size_t max_body_bytes = 0;
  std::size_t max_in_flight = 0;
  std::size_t max_batch = 0;
  unsigned read_timeout_ms = 0;
  unsigned idle_timeout_ms = 0;
  unsigned shutdown_timeout_ms = 0;
  std::size_t request_log_bytes = 0;
  std::string request_log_overflow;
  bool request_log_input = false;
  unsigned request_log_retention_days = 0;
  std::string durability;
  bool allow_anonymous = false;
  bool metrics_public = false;
  bool log_every_line = false;
  std::string log_format;
  std::string log_level;
  // The offer engine's contact policy per channel: cool-down, cap and its window.
  int email_cooldown_days = 0;
  int email_max_offers = 0;
  int email_window_days = 0;
  int crm_cooldown_days = 0;
  int crm_max_offers = 0;
  int crm_window_days = 0;
};

po::options_description describe(RawOptions& raw, const ServeConfig& defaults) {
  po::options_description options(
      "nbo serve options (each also settable as NBO_<FLAG>, "
      "e.g. --db-path as NBO_DB_PATH)");
  options.add_options()("help,h", "print this help and exit")(
      "host", po::value(&raw.host)->default_value(defaults.server.host), "address to listen on")(
      "port", po::value(&raw.port)->default_value(defaults.server.port),
      "TCP port; 0 picks a free port and the start-up log names it")(
      "threads", po::value(&raw.threads)->default_value(0),
      "I/O threads; 0 = one per core this process may use (its CPU affinity, a cgroup CPU quota)")(
      "worker-threads", po::value(&raw.worker_threads)->default_value(0),
      "threads running request handlers; 0 = as many as --threads")(
      "models", po::value(&raw.models)->default_value(defaults.models_dir.string()),
      "directory holding churn.json")(
      "db-path", po::value(&raw.db)->default_value(defaults.db_path.string()),
      "SQLite database file (created with its directory when missing)")(
      "migrations", po::value(&raw.migrations)->default_value(defaults.migrations_dir.string()),
      "directory of NNNN_*.sql migrations applied at start")(
      "max-body-bytes",
      po::value(&raw.max_body_bytes)->default_value(defaults.server.max_body_bytes),
      "largest request body accepted (413 past it)")(
      "max-in-flight", po::value(&raw.max_in_flight)->default_value(defaults.server.max_in_flight),
      "requests handled at once (503 with Retry-After past it)")(
      "max-batch", po::value(&raw.max_batch)->default_value(defaults.limits.max_batch),
      "customers in one POST /predict batch (413 past it)")(
      "read-timeout-ms",
      po::value(&raw.read_timeout_ms)
          ->default_value(static_cast<unsigned>(defaults.server.read_timeout.count())),
      "time allowed to read one request")(
      "idle-timeout-ms",
      po::value(&raw.idle_timeout_ms)
          ->default_value(static_cast<unsigned>(defaults.server.idle_timeout.count())),
      "keep-alive connection closed after this long without a request")(
      "shutdown-timeout-ms",
      po::value(&raw.shutdown_timeout_ms)
          ->default_value(static_cast<unsigned>(defaults.server.shutdown_deadline.count())),
      "on SIGINT/SIGTERM, time in-flight requests get to finish")(
      "request-log-max-bytes",
      po::value(&raw.request_log_bytes)->default_value(defaults.request_log_bytes),
      "bytes of rows the request log's queue holds for its background writer")(
      "request-log-overflow", po::value(&raw.request_log_overflow)->default_value("reject"),
      "when that queue is full: \"reject\" answers 503 with Retry-After and logs nothing "
      "unanswered (no acknowledged request goes unlogged); \"drop\" answers and drops the row, "
      "counted in nbo_request_log_dropped_total")(
      "request-log-input", po::bool_switch(&raw.request_log_input),
      "also store each scored customer's input (JSON) in the request log")(
      "durability", po::value(&raw.durability)->default_value("full"),
      "\"full\": every customer, event and course write is on disk (fsync) before it is "
      "acknowledged; \"normal\": it survives a crash of the process, but the last writes may be "
      "lost on power loss (faster writes)")(
      "request-log-retention-days",
      po::value(&raw.request_log_retention_days)
          ->default_value(static_cast<unsigned>(defaults.request_log_retention.count() / 24)),
      "request log rows older than this are deleted in small batches in the background (0: "
      "kept for ever)")(
      "offer-email-cooldown-days",
      po::value(&raw.email_cooldown_days)
          ->default_value(defaults.limits.offer_policy.email.cooldown_days),
      "a course offered by e-mail is not offered by e-mail again within this many days")(
      "offer-email-max-offers",
      po::value(&raw.email_max_offers)
          ->default_value(defaults.limits.offer_policy.email.max_offers),
      "e-mail offers per user within --offer-email-window-days")(
      "offer-email-window-days",
      po::value(&raw.email_window_days)
          ->default_value(defaults.limits.offer_policy.email.window_days),
      "the window of the e-mail cap, in days")(
      "offer-crm-cooldown-days",
      po::value(&raw.crm_cooldown_days)
          ->default_value(defaults.limits.offer_policy.crm.cooldown_days),
      "a course offered in the CRM is not offered there again within this many days")(
      "offer-crm-max-offers",
      po::value(&raw.crm_max_offers)->default_value(defaults.limits.offer_policy.crm.max_offers),
      "CRM offers per user within --offer-crm-window-days")(
      "offer-crm-window-days",
      po::value(&raw.crm_window_days)->default_value(defaults.limits.offer_policy.crm.window_days),
      "the window of the CRM cap, in days")(
      "allow-anonymous", po::bool_switch(&raw.allow_anonymous),
      "serve every route without a key while no API key is active, also on an address other than "
      "the loopback (where `nbo serve` otherwise refuses to start without keys; see `nbo keys`)")(
      "metrics-public", po::bool_switch(&raw.metrics_public),
      "GET /metrics needs no API key (otherwise a scorer key or above, once keys exist)")(
      "log-format", po::value(&raw.log_format)->default_value("text"), "text or json")(
      "log-level", po::value(&raw.log_level)->default_value(defaults.log_level),
      "trace, debug, info, warn, error")(
      "log-every-line", po::bool_switch(&raw.log_every_line),
      "write each log line to stdout at once; by default info lines are buffered and written "
      "every second (warnings and errors at once, with everything before them), which saves a "
      "write() per request");
  return options;
}

// NBO_DB_PATH -> db-path; unknown NBO_* variables are ignored (they may belong to other tools).
std::string environment_name_to_option(const po::options_description& options,
                                       const std::string& variable) {
  constexpr std::string_view kPrefix = "NBO_";
  if (!variable.starts_with(kPrefix)) return "";
  std::string name = variable.substr(kPrefix.size());
  for (char& c : name)
    c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (name == "help" || options.find_nothrow(name, false) == nullptr) return "";
  return name;
}

}  // namespace

bool is_loopback_host(std::string_view host) {
  if (host == "localhost") return true;
  boost::system::error_code error;
  const auto address = boost::asio::ip::make_address(std::string(host), error);
  return !error && address.is_loopback();
}

std::string serve_help() {
  RawOptions raw;
  const ServeConfig defaults;
  std::ostringstream out;
  out << "Usage: nbo serve [options]\n\nServes the churn model over HTTP/JSON with state in "
         "SQLite.\n\n"
      << describe(raw, defaults);
  return out.str();
}

ParsedServeConfig parse_serve_config(const std::vector<std::string>& args,
                                     const std::vector<std::string>& environment) {
  const ServeConfig defaults;
  RawOptions raw;
  const auto options = describe(raw, defaults);
  ParsedServeConfig result;
  try {
    po::variables_map values;
    // No positional arguments: `nbo serve 9090` is an error, not silently ignored.
    po::store(po::command_line_parser(args)
                  .options(options)
                  .positional(po::positional_options_description{})
                  .run(),
              values);
    if (values.count("help") != 0) {
      result.message = serve_help();
      return result;
    }
    // The environment as a second source stored after the flags, so flags keep precedence.
    // Values are taken verbatim (a config-file parser would cut them at '#').
    po::parsed_options from_environment(&options);
    for (const auto& entry : environment) {
      const auto equals = entry.find('=');
      if (equals == std::string::npos) continue;
      const auto option = environment_name_to_option(options, entry.substr(0, equals));
      if (option.empty()) continue;
      po::option parsed;
      parsed.string_key = option;
      parsed.value.push_back(entry.substr(equals + 1));
      parsed.original_tokens = {entry.substr(0, equals), entry.substr(equals + 1)};
      from_environment.options.push_back(std::move(parsed));
    }
    po::store(from_environment, values);
    po::notify(values);
  } catch (const po::error& error) {
    result.exit_code = 2;
    result.message =
        fmt::format("nbo serve: {}\nRun 'nbo serve --help' for the options.", error.what());
    return result;
  }

  auto fail = [&](const std::string& message) {
    result.exit_code = 2;
    result.message = fmt::format("nbo serve: {}", message);
    return result;
  };
  if (raw.port > 65535) return fail(fmt::format("--port {} is not a TCP port", raw.port));
  if (raw.log_format != "text" && raw.log_format != "json") {
    return fail(fmt::format("--log-format must be text or json, got '{}'", raw.log_format));
  }
  if (raw.worker_threads > 1024) {
    return fail(fmt::format("--worker-threads must be 0 (as many as --threads) to 1024, got {}",
                            raw.worker_threads));
  }
  if (raw.threads > 1024) {
    return fail(
        fmt::format("--threads must be 0 (one per usable core) to 1024, got {}", raw.threads));
  }
  static constexpr std::array<std::string_view, 8> kLogLevels{
      "trace", "debug", "info", "warn", "warning", "error", "critical", "off"};
  if (std::find(kLogLevels.begin(), kLogLevels.end(), raw.log_level) == kLogLevels.end()) {
    return fail(fmt::format(
        "--log-level must be trace, debug, info, warn, error, critical or off, got '{}'",
        raw.log_level));
  }
  if (raw.max_in_flight == 0) return fail("--max-in-flight must be at least 1");
  if (raw.max_batch == 0) return fail("--max-batch must be at least 1");
  if (raw.max_body_bytes < 1024) return fail("--max-body-bytes must be at least 1024");
  if (raw.read_timeout_ms == 0 || raw.idle_timeout_ms == 0) {
    return fail("--read-timeout-ms and --idle-timeout-ms must be at least 1");
  }
  if (raw.request_log_bytes < 4096) return fail("--request-log-max-bytes must be at least 4096");
  if (raw.durability != "full" && raw.durability != "normal") {
    return fail("--durability must be \"full\" or \"normal\"");
  }
  if (raw.request_log_retention_days > 36500) {
    return fail("--request-log-retention-days must be at most 36500");
  }
  if (raw.request_log_overflow != "reject" && raw.request_log_overflow != "drop") {
    return fail("--request-log-overflow must be \"reject\" or \"drop\"");
  }
  for (const auto& [value, flag] :
       {std::pair{raw.email_cooldown_days, "--offer-email-cooldown-days"},
        std::pair{raw.email_max_offers, "--offer-email-max-offers"},
        std::pair{raw.email_window_days, "--offer-email-window-days"},
        std::pair{raw.crm_cooldown_days, "--offer-crm-cooldown-days"},
        std::pair{raw.crm_max_offers, "--offer-crm-max-offers"},
        std::pair{raw.crm_window_days, "--offer-crm-window-days"}}) {
    if (value < 0 || value > 3650) return fail(fmt::format("{} must be in [0, 3650]", flag));
  }

  ServeConfig config;
  config.server.host = raw.host;
  config.server.port = static_cast<unsigned short>(raw.port);
  config.server.threads = raw.threads;
  config.server.worker_threads = raw.worker_threads;
  config.server.max_body_bytes = raw.max_body_bytes;
  config.server.max_in_flight = raw.max_in_flight;
  config.server.read_timeout = std::chrono::milliseconds(raw.read_timeout_ms);
  config.server.idle_timeout = std::chrono::milliseconds(raw.idle_timeout_ms);
  config.server.shutdown_deadline = std::chrono::milliseconds(raw.shutdown_timeout_ms);
  config.limits.max_batch = raw.max_batch;
  config.limits.offer_policy.email.cooldown_days = raw.email_cooldown_days;
  config.limits.offer_policy.email.max_offers = raw.email_max_offers;
  config.limits.offer_policy.email.window_days = raw.email_window_days;
  config.limits.offer_policy.crm.cooldown_days = raw.crm_cooldown_days;
  config.limits.offer_policy.crm.max_offers = raw.crm_max_offers;
  config.limits.offer_policy.crm.window_days = raw.crm_window_days;
  config.models_dir = raw.models;
  config.db_path = raw.db;
  config.migrations_dir = raw.migrations;
  config.request_log_bytes = raw.request_log_bytes;
  config.request_log_overflow = raw.request_log_overflow == "drop"
                                    ? store::RequestLogOverflow::kDrop
                                    : store::RequestLogOverflow::kReject;
  config.limits.log_request_input = raw.request_log_input;
  config.request_log_retention = std::chrono::hours(24 * raw.request_log_retention_days);
  config.durability =
      raw.durability == "normal" ? store::Synchronous::kNormal : store::Synchronous::kFull;
  config.allow_anonymous = raw.allow_anonymous;
  config.limits.anonymous_without_keys = raw.allow_anonymous || is_loopback_host(raw.host);
  config.limits.metrics_public = raw.metrics_public;
  config.json_logs = raw.log_format == "json";
  config.log_level = raw.log_level;
  config.log_every_line = raw.log_every_line;
  result.config = std::move(config);
  return result;
}

}  // namespace nbo::config
