// Configuration of `nbo serve`: command-line flags, each also settable by an NBO_* environment
// variable (flag --db-path <-> NBO_DB_PATH). Flags win over the environment.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nbo/api/service.hpp"
#include "nbo/http/server.hpp"
#include "nbo/store/request_log.hpp"

namespace nbo::config {

struct ServeConfig {
  http::ServerOptions server;  // host, port, threads, limits, timeouts
  api::ServiceLimits limits;   // batch size, JSON depth, reasons
  std::filesystem::path models_dir = "models";
  std::filesystem::path db_path = "var/nbo.db";
  std::filesystem::path migrations_dir = "migrations";
  // The request log's queue, in bytes, and what happens to rows beyond it.
  std::size_t request_log_bytes = store::kDefaultRequestLogBytes;
  store::RequestLogOverflow request_log_overflow = store::RequestLogOverflow::kReject;
  // Commit durability of the customer and school stores: kFull fsyncs every acknowledged write
  // before its answer (--durability full, the default); kNormal survives a crash of the
  // process but may lose the last writes on power loss.
  store::Synchronous durability = store::Synchronous::kFull;
  // Request log rows older than this are deleted in the background; 0: kept for ever.
  std::chrono::hours request_log_retention{90 * 24};
  // --allow-anonymous: start on any address without API keys (every route then open until the
  // first key is made). Without it, a server on an address other than the loopback refuses to
  // start while no key is active. limits.anonymous_without_keys is this or a loopback host.
  bool allow_anonymous = false;
  bool json_logs = false;
  std::string log_level = "info";
  // --log-every-line: one write() per log line; otherwise info lines reach stdout within a
  // second (http::use_buffered_stdout_log()).
  bool log_every_line = false;
};

// Result of parsing: either a config, or text to print (help) with an exit code.
struct ParsedServeConfig {
  std::optional<ServeConfig> config;
  std::string message;  // help text or the error
  int exit_code = 0;
};

// Parses `args` (without the program and subcommand names) and the environment `environ_vars`
// ("NAME=value" strings). Never throws for bad input: returns exit_code 2 and a message naming
// the flag or variable.
ParsedServeConfig parse_serve_config(const std::vector<std::string>& args,
                                     const std::vector<std::string>& environment);

// Whether `host` (an IP address or "localhost") is a loopback address: 127.0.0.0/8, ::1.
bool is_loopback_host(std::string_view host);

// Help text of `nbo serve`.
std::string serve_help();

}  // namespace nbo::config
