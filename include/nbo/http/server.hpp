// nbo's HTTP/1.1 server: Boost.Beast/Asio underneath, plain nbo::http types on the surface.
//
// Model: `threads` I/O threads, each running its own io_context; accepted connections are given
// to them in turn, and each is an asynchronous session on its thread's context (that one thread
// serializes its handlers, so no strand is needed): its reads, inline handler calls and writes
// never change threads. Once a request is parsed, it is admitted if fewer than `max_in_flight`
// requests are admitted already (else 503 overloaded + Retry-After: 1, handler not called). The
// DispatchRule then says where its Handler runs:
//   * Dispatch::kInline: right away on the I/O thread that read it (for cheap, CPU-only work such
//     as scoring one customer: no hand-off between threads, no context switch);
//   * Dispatch::kWorker: queued to a separate pool of `worker_threads` threads, the response then
//     written back on the connection's thread (for batches and anything that may block on the
//     database), so a slow handler never stalls the other connections of that I/O thread.
// Without a rule every request goes to the workers. At most `worker_threads` worker handlers and
// `threads` inline handlers run at once, and at most `max_in_flight` requests are admitted.
// Requests on one connection are still handled one at a time, in order (pipelined ones included).
// Every response, including the ones the server generates itself (400, 413, 431, 500, 503),
// carries Server: nbo, X-Request-Id, Content-Type and Content-Length (except 204/304, which carry
// no body and no Content-Length, as HTTP requires), uses the JSON shape of error_body.hpp for
// errors, is reported to the Observer and is logged with log_request() (logging.hpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "nbo/http/message.hpp"

namespace nbo::http {

struct ServerOptions {
  std::string host = "127.0.0.1";  // name or address to bind (resolved once, first that binds)
  unsigned short port = 8080;      // 0 = pick a free port; Server::port() tells which
  unsigned threads = 0;            // I/O threads; 0 = platform::usable_cores()
  unsigned worker_threads = 0;     // threads running handlers; 0 = same as threads (resolved)
  std::size_t max_body_bytes = 8 * 1024 * 1024;  // larger body -> 413 payload_too_large, close
  std::size_t max_header_bytes = 16 * 1024;      // larger header block -> 431, close
  // Time allowed to read one full request (headers and body) once its first byte has arrived;
  // also bounds writing the response. On expiry the connection is closed without a response.
  std::chrono::milliseconds read_timeout{10000};
  // Time a keep-alive connection may wait for the first byte of its next request.
  std::chrono::milliseconds idle_timeout{30000};
  // Requests admitted at once (running a handler inline or on a worker, or queued for a worker);
  // past it -> 503 overloaded + Retry-After: 1, handler not run.
  std::size_t max_in_flight = 256;
  // Open connections. At the limit, a new connection takes the place of the oldest one that has
  // never been answered (idle since it connected, or still sending its first request), which is
  // closed; when every connection has been answered at least once, the new one is closed right
  // after accept.
  std::size_t max_connections = 1024;
  // How long stop() waits for in-flight requests (handler and response write) before abandoning
  // them.
  std::chrono::milliseconds shutdown_deadline{10000};
};

// Called on a worker thread, or on an I/O thread for requests the DispatchRule sends inline,
// concurrently for different connections: must be thread-safe. On a worker it may block (slow
// scoring, a database write) without delaying other connections, but it occupies a worker and an
// in-flight slot; inline it must not block, since the I/O thread serves other connections too.
// An exception it throws becomes 500 internal_error ("internal error"; details only in the log)
// and the connection stays usable. A status outside 200..599 is also turned into a 500.
using Handler = std::function<Response(const Request&)>;

enum class Dispatch { kInline, kWorker };
// Decides, on the I/O thread, where a request's Handler runs. Called once per admitted request,
// concurrently: must be cheap, thread-safe and non-blocking. An exception sends the request to
// the workers (and is logged).
using DispatchRule = std::function<Dispatch(const Request&)>;

// Hooks for metrics/logging, implemented by the application. All methods are called from I/O
// threads (never worker threads), concurrently, and must not throw (exceptions are caught and
// logged) nor block. on_request_started comes when the request is parsed (before admission),
// on_request_finished when the response is ready, just before it is written.
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

// One request read from bytes in memory exactly as a connection reads it from its socket: the
// same parser and limits (max_body_bytes, max_header_bytes), the same Request built from it and
// the same answers the server gives on its own before any handler runs (400 malformed request or
// target, 413, 431). It is the seam of the fuzz target of the whole request path (fuzz/), which
// hands a complete request to the api::Service as the server would; the server itself does not
// call it. Admission (503 overloaded), 100-continue and timeouts are the socket's business and
// are not modelled.
struct ReadResult {
  enum class Outcome {
    kRequest,     // `request` is complete: the server would call the handler with it
    kAnswered,    // the server answers `answer` itself; `request` holds what was parsed
    kIncomplete,  // the bytes end before a request does (the connection would wait, then drop)
  };
  Outcome outcome = Outcome::kIncomplete;
  Request request{};
  Response answer{};         // for kAnswered
  bool keep_alive = false;   // whether the connection would stay open after this request
  std::size_t consumed = 0;  // bytes of this request; the rest is the next, pipelined, request
};
ReadResult read_request(std::string_view bytes, const ServerOptions& options);

namespace detail {
class ServerImpl;
}

// Thread-safety: port(), stop(), wait(), in_flight() and the connection counts may be called
// from any thread
// concurrently; start() once, from one thread. stop() and the destructor must not be called from
// a Handler, DispatchRule or Observer (a worker or I/O thread): stop() throws std::logic_error
// there.
class Server {
 public:
  // Binds and listens immediately. `observer` is not owned and must outlive the Server (may be
  // null). Throws std::runtime_error naming host:port when resolving, binding or listening fails,
  // std::invalid_argument when `handler` is empty. An empty `dispatch` runs every handler on the
  // workers.
  Server(ServerOptions options, Handler handler, Observer* observer = nullptr,
         DispatchRule dispatch = {});
  ~Server();  // stop()s if needed
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  unsigned short port() const;  // the actual bound port
  // Starts the I/O and worker threads and accepting; returns immediately. Throws
  // std::logic_error when called twice or after stop().
  void start();
  // Graceful stop: stop accepting, close idle keep-alive connections, let requests in progress
  // (being read, queued for or running a handler, or being written) finish -- their handlers
  // run and their responses, which carry Connection: close, are written -- for up to
  // shutdown_deadline. Then it abandons what is left: the I/O threads stop (connections are
  // closed without a response), handlers still queued are never called, and it joins the I/O
  // threads and the worker threads, which waits for handlers already running to return.
  // Returns true if everything finished before the deadline. Idempotent and thread-safe:
  // concurrent/later calls wait for the first one and return its result. A handler that never
  // returns blocks stop() (threads cannot be killed).
  bool stop();
  void wait();  // blocks until stop() has completed
  // Requests admitted right now: queued for or running a handler. A request's slot is freed as
  // soon as its handler returns (before its response is written).
  std::size_t in_flight() const;
  // Connections closed at the connection limit since start(): evicted (the oldest never-answered
  // connection, closed to make room for a new one) and refused (a new one closed because every
  // connection had been answered at least once).
  std::uint64_t connections_evicted() const;
  std::uint64_t connections_refused() const;

 private:
  std::unique_ptr<detail::ServerImpl> impl_;
};

}  // namespace nbo::http
