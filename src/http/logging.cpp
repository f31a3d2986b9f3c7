#include "nbo/http/logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace nbo::http {

namespace {

std::atomic<bool> g_json{false};

// A message starting with this marker carries pre-rendered JSON members (JSON mode only).
constexpr std::string_view kFieldsMarker = "\x1enbo-fields\x1f";

std::string json_string(std::string_view text) {
  return nlohmann::json(std::string(text))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// %* in the JSON pattern: the message as a JSON string, or the pre-rendered members after it.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm& /*tm*/,
              spdlog::memory_buf_t& dest) override {
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    if (payload.substr(0, kFieldsMarker.size()) == kFieldsMarker) {
      const auto fields = payload.substr(kFieldsMarker.size());
      dest.append(fields.data(), fields.data() + fields.size());
      return;
    }
    const std::string escaped = json_string(payload);
    dest.append(escaped.data(), escaped.data() + escaped.size());
  }
  std::unique_ptr<spdlog::custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

spdlog::level::level_enum parse_level(std::string_view level) {
  if (level == "warning") return spdlog::level::warn;
  if (level == "error") return spdlog::level::err;
  const auto parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off") {
    throw std::invalid_argument("unknown log level: " + std::string(level));
  }
  return parsed;
}

bool needs_quoting(std::string_view value) noexcept {
  if (value.empty()) return true;
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F || c == '"' || c == '=' || c == '\\') return true;
  }
  return false;
}

std::string plain_value(std::string_view value) {
  return needs_quoting(value) ? json_string(value) : std::string(value);
}

double finite_or_zero(double v) noexcept {
  return std::isfinite(v) ? v : 0.0;
}

}  // namespace

namespace {

// Formatted lines to stdout through stdio's buffer; flush() writes it out.
class BufferedStdoutSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    std::fwrite(formatted.data(), 1, formatted.size(), stdout);
  }
  void flush_() override { std::fflush(stdout); }
};

}  // namespace

void use_buffered_stdout_log() {
  // stdio's own buffer for a file or a pipe is 4 KiB, one write() per 40 lines or so; each
  // write() to a file costs a system call and the file system's bookkeeping.
  if (isatty(fileno(stdout)) == 0) {
    static char buffer[64 * 1024];
    std::setvbuf(stdout, buffer, _IOFBF, sizeof buffer);
  }
  const auto previous = spdlog::default_logger();
  auto logger =
      std::make_shared<spdlog::logger>(previous->name(), std::make_shared<BufferedStdoutSink>());
  logger->set_level(previous->level());
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
}

void flush_log() noexcept {
  try {
    spdlog::default_logger_raw()->flush();
  } catch (...) {
    // Logging must never take the server down.
  }
}

void configure_logging(bool json, std::string_view level) {
  const auto parsed_level = parse_level(level);
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  if (json) {
    formatter->add_flag<JsonMessageFlag>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","msg":%*})");
  } else {
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ [%l] %v");
  }
  spdlog::set_formatter(std::move(formatter));
  spdlog::set_level(parsed_level);
  g_json.store(json, std::memory_order_relaxed);
}

bool json_logging() noexcept {
  return g_json.load(std::memory_order_relaxed);
}

void log_request(std::string_view method, std::string_view path, unsigned status, double latency_ms,
                 std::string_view request_id) noexcept {
  try {
    if (!spdlog::default_logger_raw()->should_log(spdlog::level::info)) return;
    const double latency = finite_or_zero(latency_ms);
    if (json_logging()) {
      spdlog::info(
          "{}\"request\",\"method\":{},\"path\":{},\"status\":{},\"latency_ms\":{:.3f},"
          "\"request_id\":{}",
          kFieldsMarker, json_string(method), json_string(path), status, latency,
          json_string(request_id));
    } else {
      spdlog::info("request method={} path={} status={} latency_ms={:.3f} request_id={}",
                   plain_value(method), plain_value(path), status, latency,
                   plain_value(request_id));
    }
  } catch (...) {
    // Logging must never take a request down.
  }
}

}  // namespace nbo::http
