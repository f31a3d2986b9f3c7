// nbo's HTTP/1.1 server: Boost.Beast/Asio underneath, plain nbo::http types on the surface.
//
// Model: one io_context run by N I/O threads; each connection is an asynchronous session on its
// own strand. The Handler is called synchronously on an I/O thread, so at most `threads`
// handlers run at once; `max_in_flight` is an additional cap (useful when it is below `threads`).
// Every response, including the ones the server generates itself (400, 413, 431, 500, 503),
// carries Server: nbo, X-Request-Id, Content-Type and Content-Length (except 204/304, which carry
// no body and no Content-Length, as HTTP requires), uses the JSON shape of error_body.hpp for
// errors, is reported to the Observer and is logged with log_request() (logging.hpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "nbo/http/message.hpp"

namespace nbo::http {

struct ServerOptions {
  std::string host = "127.0.0.1";  // name or address to bind (resolved once, first that binds)
  unsigned short port = 8080;      // 0 = pick a free port; Server::port() tells which
  unsigned threads = 0;            // I/O threads; 0 = std::thread::hardware_concurrency()
  std::size_t max_body_bytes = 8 * 1024 * 1024;  // larger body -> 413 payload_too_large, close
  std::size_t max_header_bytes = 16 * 1024;      // larger header block -> 431, close
  // Time allowed to read one full request (headers and body) once its first byte has arrived;
  // also bounds writing the response. On expiry the connection is closed without a response.
  std::chrono::milliseconds read_timeout{10000};
  // Time a keep-alive connection may wait for the first byte of its next request.
  std::chrono::milliseconds idle_timeout{30000};
  // Requests being handled at once; past it -> 503 overloaded + Retry-After: 1, handler not run.
  std::size_t max_in_flight = 256;
  // Open connections; past it new connections are closed right after accept.
  std::size_t max_connections = 1024;
  // How long stop() waits for in-flight requests before abandoning them.
  std::chrono::milliseconds shutdown_deadline{10000};
};

// Called on an I/O thread, concurrently for different connections: must be thread-safe.
// An exception it throws becomes 500 internal_error ("internal error"; details only in the log)
// and the connection stays usable. A status outside 200..599 is also turned into a 500.
using Handler = std::function<Response(const Request&)>;

// Hooks for metrics/logging, implemented by the application. All methods are called from I/O
// threads, concurrently, and must not throw (exceptions are caught and logged) nor block.
// on_request_started and on_request_finished come in pairs for every response the server sends,
// including server-generated 4xx/5xx (so a gauge driven by them returns to zero).
class Observer {
 public:
  virtual ~Observer() = default;
  virtual void on_request_started() {}
  // `seconds`: from the request's first byte to the response being ready (before writing it).
  // For server-generated errors the Request holds what could be parsed (possibly only the
  // request_id) and Response::route is "".
  virtual void on_request_finished(const Request& /*request*/, const Response& /*response*/,
                                   double /*seconds*/) {}
};

namespace detail {
class ServerImpl;
}

// Thread-safety: port(), stop(), wait() and in_flight() may be called from any thread
// concurrently; start() once, from one thread. stop() and the destructor must not be called from
// a Handler or Observer (an I/O thread): stop() throws std::logic_error there.
class Server {
 public:
  // Binds and listens immediately. `observer` is not owned and must outlive the Server (may be
  // null). Throws std::runtime_error naming host:port when resolving, binding or listening fails,
  // std::invalid_argument when `handler` is empty.
  Server(ServerOptions options, Handler handler, Observer* observer = nullptr);
  ~Server();  // stop()s if needed
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  unsigned short port() const;  // the actual bound port
  // Starts the I/O threads and accepting; returns immediately. Throws std::logic_error when
  // called twice or after stop().
  void start();
  // Graceful stop: stop accepting, close idle keep-alive connections, let requests in progress
  // finish (their responses carry Connection: close) for up to shutdown_deadline, then abandon
  // what is left, and join the I/O threads. Returns true if everything finished before the
  // deadline. Idempotent and thread-safe: concurrent/later calls wait for the first one and
  // return its result. A handler that never returns blocks stop() (threads cannot be killed).
  bool stop();
  void wait();                    // blocks until stop() has completed
  std::size_t in_flight() const;  // handlers running right now

 private:
  std::unique_ptr<detail::ServerImpl> impl_;
};

}  // namespace nbo::http
