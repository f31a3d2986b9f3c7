// A tiny synchronous HTTP/1.1 client for tests, talking to a real server over TCP.
//
// Keeps one keep-alive connection open across request() calls (it reconnects only when the
// previous response asked to close, or after a failure). Every network operation is bounded by
// the timeout given to the constructor. Failures (connect refused, reset, timeout, unparsable
// response) throw std::runtime_error and leave the client disconnected.
// Thread-safety: none; use one client per thread. No Beast in this header.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nbo::test {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  unsigned status = 0;
  unsigned version = 11;  // 10 or 11
  std::string body;
  HttpHeaders headers;  // in arrival order, names as sent
  bool keep_alive = false;

  // First header whose name matches ignoring ASCII case; "" when absent.
  std::string header(std::string_view name) const;
  bool has_header(std::string_view name) const;
};

class HttpClient {
 public:
  HttpClient(std::string host, unsigned short port,
             std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request (Host and, when there is a body, Content-Length are added; `headers` may
  // add or override others) and reads one full response. Connects first when needed.
  HttpResponse request(std::string_view method, std::string_view target, std::string_view body = {},
                       const HttpHeaders& headers = {});

  // Opens a fresh connection (not the kept-alive one), writes `bytes` as they are, and returns
  // everything received until the server closes the connection or `timeout` passes (0 = the
  // client's timeout). A connection reset ends the read too; what arrived before is returned.
  std::string raw(std::string_view bytes, std::chrono::milliseconds timeout = {});

  // Waits up to `max` for the server to close the kept-alive connection. True when it did (or
  // when there is no connection); false when it stayed open. The connection is closed either way.
  bool wait_for_close(std::chrono::milliseconds max);

  bool connected() const;                  // a kept-alive connection is open
  std::size_t connections_opened() const;  // TCP connections opened by request() so far
  void close();                            // closes the kept-alive connection, if any

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Splits raw HTTP response bytes (as returned by raw()) into a response; status 0 when there is
// not even a status line. Only the first response is parsed.
HttpResponse parse_raw_response(std::string_view bytes);

}  // namespace nbo::test
