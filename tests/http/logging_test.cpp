#include "nbo/http/logging.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace nbo::http {
namespace {

// Routes the default logger into a string for the duration of a test.
class CapturedLog {
 public:
  CapturedLog()
      : previous_(spdlog::default_logger()),
        logger_(std::make_shared<spdlog::logger>(
            "http-log-test", std::make_shared<spdlog::sinks::ostream_sink_mt>(out_))) {
    spdlog::set_default_logger(logger_);
  }
  ~CapturedLog() {
    configure_logging(false, "info");
    spdlog::set_default_logger(previous_);
  }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;

  std::vector<std::string> lines() const {
    std::vector<std::string> result;
    std::istringstream in(out_.str());
    for (std::string line; std::getline(in, line);) result.push_back(line);
    return result;
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
  std::shared_ptr<spdlog::logger> logger_;
};

TEST(Logging, JsonModeRequestLineIsStructuredJson) {
  CapturedLog log;
  configure_logging(true, "info");
  log_request("POST", "/pre \"dict\"\n", 200, 0.4123, "abc");
  const auto lines = log.lines();
  ASSERT_EQ(lines.size(), 1U);
  const auto j = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["msg"], "request");
  EXPECT_EQ(j["method"], "POST");
  EXPECT_EQ(j["path"], "/pre \"dict\"\n");
  EXPECT_EQ(j["status"], 200);
  EXPECT_DOUBLE_EQ(j["latency_ms"].get<double>(), 0.412);
  EXPECT_EQ(j["request_id"], "abc");
  const auto time = j["time"].get<std::string>();
  ASSERT_FALSE(time.empty());
  EXPECT_EQ(time.back(), 'Z');
  EXPECT_EQ(time[10], 'T');
}

TEST(Logging, JsonModeEscapesArbitraryMessages) {
  CapturedLog log;
  configure_logging(true, "debug");
  spdlog::warn("quote \" backslash \\ tab \t bad utf8 \xff end");
  spdlog::debug("debug is on");
  const auto lines = log.lines();
  ASSERT_EQ(lines.size(), 2U);
  const auto j = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(j["level"], "warning");
  EXPECT_NE(j["msg"].get<std::string>().find("quote \" backslash \\ tab \t"), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(lines[1])["msg"], "debug is on");
}

TEST(Logging, PlainModeRequestLineHasKeyValuePairs) {
  CapturedLog log;
  configure_logging(false, "info");
  log_request("GET", "/customers/42", 404, 1.5, "req-1");
  log_request("GET", "/a b", 200, 0.0, "req-2");
  const auto lines = log.lines();
  ASSERT_EQ(lines.size(), 2U);
  EXPECT_NE(lines[0].find("[info] request method=GET path=/customers/42 status=404 "
                          "latency_ms=1.500 request_id=req-1"),
            std::string::npos)
      << lines[0];
  EXPECT_NE(lines[1].find("path=\"/a b\""), std::string::npos) << lines[1];
}

TEST(Logging, LevelFiltersAndUnknownLevelThrows) {
  CapturedLog log;
  configure_logging(false, "warn");
  log_request("GET", "/", 200, 1.0, "x");
  EXPECT_TRUE(log.lines().empty());
  EXPECT_THROW(configure_logging(false, "loud"), std::invalid_argument);
  configure_logging(false, "warning");
  configure_logging(false, "error");
  configure_logging(false, "off");
}

// stdout goes to a file for the duration of a test (the real file descriptor 1, so what the
// buffered logger writes can be read back), and the default logger is restored after it.
class StdoutToFile {
 public:
  StdoutToFile()
      : path_(std::filesystem::temp_directory_path() /
              ("nbo-log-test-" + std::to_string(::getpid()) + ".txt")),
        previous_logger_(spdlog::default_logger()) {
    std::fflush(stdout);
    saved_ = ::dup(STDOUT_FILENO);
    const int file = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (saved_ < 0 || file < 0 || ::dup2(file, STDOUT_FILENO) < 0) {
      throw std::runtime_error("cannot redirect stdout");
    }
    ::close(file);
  }
  ~StdoutToFile() {
    std::fflush(stdout);
    ::dup2(saved_, STDOUT_FILENO);
    ::close(saved_);
    configure_logging(false, "info");
    spdlog::set_default_logger(previous_logger_);
    std::filesystem::remove(path_);
  }
  StdoutToFile(const StdoutToFile&) = delete;
  StdoutToFile& operator=(const StdoutToFile&) = delete;

  std::string text() const {
    std::ifstream in(path_);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

 private:
  std::filesystem::path path_;
  std::shared_ptr<spdlog::logger> previous_logger_;
  int saved_ = -1;
};

TEST(Logging, BufferedStdoutHoldsInfoLinesUntilAFlushOrAWarning) {
  const StdoutToFile stdout_file;
  use_buffered_stdout_log();
  configure_logging(false, "info");
  log_request("POST", "/predict", 200, 0.5, "first");
  EXPECT_EQ(stdout_file.text(), "") << "an info line was written at once";
  flush_log();
  EXPECT_NE(stdout_file.text().find("request_id=first"), std::string::npos) << stdout_file.text();

  log_request("POST", "/predict", 200, 0.5, "second");
  spdlog::warn("something to see at once");
  const std::string text = stdout_file.text();
  EXPECT_NE(text.find("request_id=second"), std::string::npos) << text;
  EXPECT_NE(text.find("[warning] something to see at once"), std::string::npos) << text;
}

}  // namespace
}  // namespace nbo::http
