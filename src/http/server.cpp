#include "nbo/http/server.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "nbo/http/error_body.hpp"
#include "nbo/http/logging.hpp"
#include "nbo/http/request_util.hpp"
#include "nbo/platform/cores.hpp"

namespace nbo::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace detail {

class Session;

namespace {

// Set on the I/O and worker threads of a server, to refuse stop() from inside a handler.
thread_local const ServerImpl* t_current_server = nullptr;

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
// After a response that closes the connection, unread request bytes are drained for at most this
// long / this many bytes, so the peer reads the response instead of getting a TCP reset.
constexpr std::chrono::milliseconds kLingerTime{1000};
constexpr std::size_t kLingerBytes = 4 * 1024 * 1024;
constexpr std::size_t kFirstReadBytes = 4096;
// Free room made for the reads of a body larger than what the buffer holds (64 KiB, a loopback
// segment), and given back once the connection is idle again.
constexpr std::size_t kLargeBodyReadBytes = 64 * 1024;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

bool is_reserved_header(std::string_view name) {
  static constexpr std::array<std::string_view, 6> kReserved = {
      "content-length", "transfer-encoding", "connection",
      "server",         "x-request-id",      "content-type"};
  return std::any_of(kReserved.begin(), kReserved.end(),
                     [name](std::string_view reserved) { return iequals(name, reserved); });
}

bool is_token_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u >= 0x7F) return false;
  return std::string_view("()<>@,;:\\\"/[]?={}").find(c) == std::string_view::npos;
}

bool is_safe_header(std::string_view name, std::string_view value) {
  if (name.empty() || !std::all_of(name.begin(), name.end(), is_token_char)) return false;
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// What follows is shared by the sessions and by read_request(), so that the fuzz target of the
// request path parses and rejects bytes exactly as a connection does.
using Parser = bhttp::request_parser<bhttp::string_body>;

void apply_limits(Parser& parser, const ServerOptions& options) {
  parser.body_limit(static_cast<std::uint64_t>(options.max_body_bytes));
  parser.header_limit(static_cast<std::uint32_t>(
      std::min<std::size_t>(options.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
}

// Whether a parsed header asks for 100 Continue before its body is sent.
bool expects_continue(const Parser& parser) {
  const auto& message = parser.get();
  return message.version() >= 11 && iequals(message[bhttp::field::expect], "100-continue");
}

// Puts bytes that have arrived into the parser as Beast's read operations do before they read
// from the socket, until the request is done, the bytes run out or the parser fails (`ec`; an
// incomplete request is no failure: the caller reads on). With `stop_for_continue`, also after a
// header that expects 100 Continue, which a connection answers before reading the body. Returns
// the bytes used.
std::size_t put_arrived(Parser& parser, net::const_buffer bytes, bool stop_for_continue,
                        beast::error_code& ec) {
  std::size_t consumed = 0;
  while (!parser.is_done() && consumed < bytes.size()) {
    const std::size_t used = parser.put(bytes + consumed, ec);
    consumed += used;
    if (ec == bhttp::error::need_more) {
      ec = {};
      break;
    }
    if (ec || used == 0) break;
    if (stop_for_continue && parser.is_header_done() && !parser.is_done() &&
        expects_continue(parser)) {
      break;
    }
  }
  return consumed;
}

// The Request fields that come from a parsed header (everything but the body and the time).
void fill_from_header(const Parser::value_type& message, Request& request) {
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  // One allocation for the list instead of one per doubling (a request has a handful of fields).
  request.headers.reserve(static_cast<std::size_t>(std::distance(message.begin(), message.end())));
  for (const auto& field : message) {
    request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  request.content_type = std::string(message[bhttp::field::content_type]);
  const std::string_view caller_id = message["X-Request-Id"];
  request.request_id =
      is_valid_request_id(caller_id) ? std::string(caller_id) : generate_request_id();
  const auto [raw_path, query] = split_target(request.target);
  request.query = std::string(query);
  if (auto decoded = percent_decode_path(raw_path)) request.path = std::move(*decoded);
}

// True when a read failed because the peer or the clock ended it (timeout, reset, EOF in the
// middle of a request): there is nobody to answer.
bool is_transport_error(beast::error_code ec) {
  return ec.category() != bhttp::make_error_code(bhttp::error::bad_method).category() ||
         ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
         ec == bhttp::error::short_read;
}

// The server's answer to bytes that are not a request it accepts (413, 431, else 400).
Response read_error_response(beast::error_code ec, const ServerOptions& options,
                             std::string_view request_id) {
  if (ec == bhttp::error::body_limit) {
    return error_response(
        413, "payload_too_large",
        "request body exceeds " + std::to_string(options.max_body_bytes) + " bytes", request_id);
  }
  if (ec == bhttp::error::header_limit) {
    return error_response(
        431, "headers_too_large",
        "request headers exceed " + std::to_string(options.max_header_bytes) + " bytes",
        request_id);
  }
  return error_response(400, "bad_request", "malformed HTTP request: " + ec.message(), request_id);
}

// The 400 for a target no route can match (not origin-form, or undecodable); nullopt when fine.
std::optional<Response> target_error(const Request& request) {
  const auto [raw_path, query] = split_target(request.target);
  if (raw_path.empty() || raw_path.front() != '/' || !percent_decode_path(raw_path)) {
    return error_response(400, "bad_request", "malformed request target", request.request_id);
  }
  return std::nullopt;
}

}  // namespace

namespace {

// The I/O threads a server runs: options.threads, or one per core the process may use.
unsigned io_thread_count(const ServerOptions& options) {
  return options.threads == 0 ? platform::usable_cores() : options.threads;
}

// `count` io_contexts, each told it is run by one thread (Asio then skips waking other threads).
std::vector<std::unique_ptr<net::io_context>> make_io_contexts(unsigned count) {
  std::vector<std::unique_ptr<net::io_context>> contexts;
  for (unsigned i = 0; i < count; ++i) contexts.push_back(std::make_unique<net::io_context>(1));
  return contexts;
}

}  // namespace

class ServerImpl {
 public:
  ServerImpl(ServerOptions options, Handler handler, Observer* observer, DispatchRule dispatch);
  ~ServerImpl();
  ServerImpl(const ServerImpl&) = delete;
  ServerImpl& operator=(const ServerImpl&) = delete;

  unsigned short port() const noexcept { return port_; }
  void start();
  bool stop();
  void wait();
  std::size_t in_flight() const noexcept { return in_flight_.load(); }
  std::uint64_t connections_evicted() const noexcept { return connections_evicted_.load(); }
  std::uint64_t connections_refused() const noexcept { return connections_refused_.load(); }

  // --- used by sessions (any I/O thread) ---
  const ServerOptions& options() const noexcept { return options_; }
  bool stopping() const noexcept { return stopping_.load(); }
  // Set once stop()'s deadline has passed: queued handler calls are dropped, not made.
  bool abandoning() const noexcept { return abandoning_.load(); }
  net::io_context& worker_context() noexcept { return worker_context_; }
  // Reserves an in-flight slot; false (nothing reserved) when at the limit.
  bool try_acquire_slot() noexcept;
  void release_slot() noexcept { in_flight_.fetch_sub(1); }
  Response call_handler(const Request& request) const;
  // Where `request`'s handler runs; a failing rule sends it to the workers.
  Dispatch dispatch_of(const Request& request) const noexcept;
  void notify_started() const noexcept;
  void notify_finished(const Request& request, const Response& response,
                       double seconds) const noexcept;
  void unregister_session(const Session* session);

 private:
  void do_accept();
  void on_accept(beast::error_code ec, tcp::socket socket);
  void run_thread(net::io_context& context, const char* kind);

  // Declared before io_contexts_: sessions destroyed by ~io_context still use them.
  ServerOptions options_;
  Handler handler_;
  Observer* observer_;
  DispatchRule dispatch_;
  std::atomic<std::size_t> in_flight_{0};
  std::atomic<std::uint64_t> connections_evicted_{0};
  std::atomic<std::uint64_t> connections_refused_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> abandoning_{false};

  std::mutex sessions_mutex_;
  std::condition_variable sessions_cv_;
  std::unordered_map<const Session*, std::weak_ptr<Session>> sessions_;

  enum class State { created, running, stopping, stopped };
  mutable std::mutex state_mutex_;
  std::condition_variable state_cv_;
  State state_ = State::created;
  bool stop_result_ = true;

  // One io_context per I/O thread, each run by its thread alone: a connection's reads, inline
  // handler calls and writes all happen on the one thread of the context it was given, so no
  // I/O completion is handed to another thread (with one context shared by all threads, that
  // was a futex wake and a context switch per request). Accepted connections go to the contexts
  // in turn.
  std::vector<std::unique_ptr<net::io_context>> io_contexts_;
  std::size_t next_context_ = 0;  // touched on the accept strand only
  net::strand<net::io_context::executor_type> accept_strand_;
  tcp::acceptor acceptor_;
  net::steady_timer accept_retry_timer_;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  // Runs the handler calls. Declared after io_contexts_ so that it is destroyed first: a handler
  // call still queued there holds a Session, whose socket belongs to one of io_contexts_.
  net::io_context worker_context_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> worker_work_;
  std::vector<std::thread> worker_threads_;
  unsigned short port_ = 0;
};

// One connection. Lives as long as an asynchronous operation or a queued/running handler call
// holds it (shared_from_this); all of its members are touched only by its io_context's one thread
// (a handler call on a worker thread gets its own copy of the Request and touches no member).
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, ServerImpl& server) : server_(server), stream_(std::move(socket)) {}
  ~Session() { server_.unregister_session(this); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::wait_for_request, shared_from_this()));
  }

  // The executor of the connection's io_context, run by one thread (immutable, so readable from
  // any thread).
  net::any_io_executor executor() { return stream_.get_executor(); }

  // Whether this connection has been sent a response yet, and when it was accepted: at the
  // connection limit, the oldest connection never answered is evicted for a newcomer (readable
  // from any thread).
  bool answered() const noexcept { return answered_.load(std::memory_order_relaxed); }
  Clock::time_point accepted_at() const noexcept { return accepted_at_; }
  // Marks the connection for eviction; false when it was already marked.
  bool mark_evicted() noexcept { return !evicted_.exchange(true); }
  bool evicted() const noexcept { return evicted_.load(std::memory_order_relaxed); }

  // Posted by ServerImpl::on_accept() at the connection limit: a connection that still has not
  // been answered is closed, making room for a new one.
  void on_evicted() {
    if (answered()) return;  // a response went out meanwhile: it is a client being served
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  // Posted by ServerImpl::stop(): an idle connection is closed now, a busy one after its response.
  void on_server_stop() {
    if (phase_ == Phase::idle) {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      stream_.close();
    }
  }

 private:
  enum class Phase { idle, reading, handling, writing, closing };

  void wait_for_request() {
    if (server_.stopping()) {
      close_gracefully();
      return;
    }
    parser_.emplace();
    apply_limits(*parser_, server_.options());
    // An idle connection does not keep the room a large body needed.
    if (buffer_.size() == 0 && buffer_.capacity() >= kLargeBodyReadBytes) buffer_.shrink_to_fit();
    if (buffer_.size() > 0) {  // pipelined bytes already here
      begin_request();
      return;
    }
    phase_ = Phase::idle;
    stream_.expires_after(server_.options().idle_timeout);
    stream_.async_read_some(
        buffer_.prepare(kFirstReadBytes),
        beast::bind_front_handler(&Session::on_first_bytes, shared_from_this()));
  }

  void on_first_bytes(beast::error_code ec, std::size_t bytes) {
    if (ec) {
      if (ec != net::error::eof && ec != net::error::operation_aborted &&
          ec != beast::error::timeout) {
        spdlog::debug("http: connection read failed: {}", ec.message());
      }
      return;  // idle timeout, peer closed, or server stop: drop the connection
    }
    buffer_.commit(bytes);
    begin_request();
  }

  void begin_request() {
    phase_ = Phase::reading;
    received_at_ = Clock::now();
    version_ = 11;
    // What has arrived is parsed here first: a request that came whole (most do) is handled at
    // once, without the two trips through the io_context's queue and the timer that reading its
    // header and body with Beast's operations take.
    beast::error_code ec;
    buffer_.consume(put_arrived(*parser_, buffer_.data(), true, ec));
    if (ec) {
      on_read_error(ec);
      return;
    }
    if (parser_->is_done()) {
      handle_request();
      return;
    }
    stream_.expires_after(server_.options().read_timeout);
    if (parser_->is_header_done()) {
      on_header({}, 0);
      return;
    }
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             beast::bind_front_handler(&Session::on_header, shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec) {
      on_read_error(ec);
      return;
    }
    if (!parser_->is_done() && expects_continue(*parser_)) {
      net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                       beast::bind_front_handler(&Session::on_continue_sent, shared_from_this()));
      return;
    }
    read_body();
  }

  void on_continue_sent(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec) return;
    read_body();
  }

  void read_body() {
    if (parser_->is_done()) {
      handle_request();
      return;
    }
    // Beast reads at most the buffer's free room: room for a large body up front turns the 4 KiB
    // reads of a 1000-customer batch (about 150, each with a timer update) into a few.
    const auto length = parser_->content_length();
    const std::size_t free_room = buffer_.capacity() - buffer_.size();
    if (length && *length > free_room && free_room < kLargeBodyReadBytes) {
      buffer_.reserve(buffer_.size() + static_cast<std::size_t>(
                                           std::min<std::uint64_t>(*length, kLargeBodyReadBytes)));
    }
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session::on_body, shared_from_this()));
  }

  void on_body(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec) {
      on_read_error(ec);
      return;
    }
    handle_request();
  }

  void on_read_error(beast::error_code ec) {
    if (is_transport_error(ec)) {
      // Timeout, reset or EOF in the middle of a request: nobody to answer.
      if (ec != net::error::operation_aborted) {
        spdlog::debug("http: dropping connection while reading a request: {}", ec.message());
      }
      return;
    }
    // A Content-Length over the limit fails right after the fields were parsed: they are usable.
    Request request = partial_request(ec == bhttp::error::body_limit);
    server_.notify_started();
    Response response = read_error_response(ec, server_.options(), request.request_id);
    finish(request, std::move(response), false);
  }

  // What is known of a request whose reading failed: its header when that was fully parsed.
  Request partial_request(bool fields_parsed) {
    Request request;
    request.received_at = received_at_;
    if (parser_ && (fields_parsed || parser_->is_header_done())) {
      fill_from_header(request);
    }
    if (request.request_id.empty()) request.request_id = generate_request_id();
    return request;
  }

  void fill_from_header(Request& request) {
    const auto& message = parser_->get();
    version_ = message.version() == 10 ? 10U : 11U;
    detail::fill_from_header(message, request);
  }

  void handle_request() {
    auto& message = parser_->get();
    Request request;
    request.received_at = received_at_;
    fill_from_header(request);
    request.body = std::move(message.body());
    const bool keep_alive = message.keep_alive();

    server_.notify_started();
    Response response;
    if (auto rejected = target_error(request)) {
      response = std::move(*rejected);
    } else if (!server_.try_acquire_slot()) {
      response = error_response(503, "overloaded", "server is overloaded, retry later",
                                request.request_id);
      response.headers.emplace_back("Retry-After", "1");
    } else if (server_.dispatch_of(request) == Dispatch::kInline) {
      // Cheap, CPU-only handlers run right here: no hand-off to a worker and back.
      response = server_.call_handler(request);
      server_.release_slot();
    } else {
      run_handler(std::move(request), keep_alive);
      return;
    }
    finish(request, std::move(response), keep_alive);
  }

  // Called on the connection's thread with an in-flight slot held: queues the handler call to the
  // worker pool. The slot is released on the worker as soon as the handler returns; the response
  // then goes back to the connection's thread to be logged, reported and written. Nothing is read
  // from the connection meanwhile (requests on one connection are handled in order).
  void run_handler(Request request, bool keep_alive) {
    phase_ = Phase::handling;
    net::post(server_.worker_context(), [self = shared_from_this(), connection = executor(),
                                         request = std::move(request), keep_alive]() mutable {
      ServerImpl& server = self->server_;
      if (server.abandoning()) {  // stop()'s deadline passed before a worker got to it
        server.release_slot();
        return;
      }
      Response response = server.call_handler(request);
      server.release_slot();
      // `self` moves into the completion, so the worker never holds the last reference.
      net::post(connection, [self = std::move(self), request = std::move(request),
                             response = std::move(response), keep_alive]() mutable {
        self->finish(request, std::move(response), keep_alive);
      });
    });
  }

  // Logs, reports and writes `response`; the connection is kept only if `keep_alive` and the
  // server is not stopping.
  void finish(const Request& request, Response response, bool keep_alive) {
    const double seconds = seconds_since(request.received_at);
    log_request(request.method, request.path, response.status, seconds * 1000.0,
                request.request_id);
    server_.notify_finished(request, response, seconds);

    keep_alive = keep_alive && !server_.stopping();
    const bool head = request.method == "HEAD";
    const unsigned version = version_;
    try {
      build_response(request, std::move(response), keep_alive, head, version);
    } catch (const std::exception& e) {
      spdlog::error("http: cannot build response request_id={}: {}", request.request_id, e.what());
      keep_alive = false;
      build_response(request,
                     error_response(500, "internal_error", "internal error", request.request_id),
                     false, head, version);
    }
    parser_.reset();
    answered_.store(true, std::memory_order_relaxed);
    phase_ = Phase::writing;
    write_response(!keep_alive);
  }

  // Most answers fit in the socket's send buffer: they are written here, at once, by one
  // non-blocking sendmsg. An asynchronous write would make that same call, but first arm the
  // write timeout, whose deadline (the earliest of every connection's timers) cost a
  // timerfd_settime per answer, and then queue its completion for another turn of the
  // io_context's loop, another epoll_wait. Whatever does not fit is written by async_write, under
  // the write timeout, as before.
  void write_response(bool close) {
    const std::array<net::const_buffer, 2> buffers{net::buffer(head_), net::buffer(body_)};
    beast::error_code ec;
    const std::size_t written = stream_.socket().write_some(buffers, ec);
    const std::size_t total = head_.size() + body_.size();
    if (ec && ec != net::error::would_block && ec != net::error::try_again) {
      on_write(close, ec, 0);
      return;
    }
    if (!ec && written == total) {
      if (buffer_.size() == 0) {
        on_write(close, {}, written);
      } else {
        // Requests pipelined behind this one are read from the next turn of the loop, so that a
        // long pipeline does not handle each request one stack frame deeper.
        net::post(executor(), beast::bind_front_handler(&Session::on_write, shared_from_this(),
                                                        close, beast::error_code{}, written));
      }
      return;
    }
    beast::buffers_suffix<std::array<net::const_buffer, 2>> rest(buffers);
    rest.consume(written);  // 0 when nothing could be written (would_block)
    stream_.expires_after(server_.options().read_timeout);
    net::async_write(stream_, rest,
                     beast::bind_front_handler(&Session::on_write, shared_from_this(), close));
  }

  // The status line and the fields into head_, the body into body_: written as they are, two
  // buffers in one sendmsg, where Beast's serializer walks a sequence of a dozen buffers per
  // field range (about 4 % of a single prediction's server CPU). The same fields in the same
  // order as Beast's response would have: Server, Content-Type, X-Request-Id, the handler's own,
  // Connection where the version's default does not hold, Content-Length (none for 204 and 304).
  void build_response(const Request& request, Response response, bool keep_alive, bool head,
                      unsigned version) {
    head_.clear();
    head_ += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    head_ += std::to_string(response.status);
    head_ += ' ';
    const std::string_view reason =
        bhttp::obsolete_reason(static_cast<bhttp::status>(response.status));
    head_ += reason;
    head_ += "\r\nServer: nbo\r\nContent-Type: ";
    head_ += response.content_type.empty() ? std::string_view("application/octet-stream")
                                           : response.content_type;
    head_ += "\r\nX-Request-Id: ";
    head_ += request.request_id;
    head_ += "\r\n";
    for (const auto& [name, value] : response.headers) {
      if (is_reserved_header(name) || !is_safe_header(name, value)) {
        spdlog::warn("http: dropping response header '{}' request_id={}", name, request.request_id);
        continue;
      }
      head_ += name;
      head_ += ": ";
      head_ += value;
      head_ += "\r\n";
    }
    if (version == 10 && keep_alive) head_ += "Connection: keep-alive\r\n";
    if (version != 10 && !keep_alive) head_ += "Connection: close\r\n";
    body_.clear();
    if (response.status != 204 && response.status != 304) {
      head_ += "Content-Length: ";
      head_ += std::to_string(response.body.size());
      head_ += "\r\n";
      if (!head) body_ = std::move(response.body);
    }
    head_ += "\r\n";
  }

  void on_write(bool close, beast::error_code ec, std::size_t /*bytes*/) {
    if (ec) {
      spdlog::debug("http: write failed: {}", ec.message());
      return;
    }
    std::string().swap(body_);  // the handler's string, freed now rather than at the next answer
    if (close) {
      close_gracefully();
      return;
    }
    wait_for_request();
  }

  // Half-closes, then drains what the peer still sends (bounded) so it can read our response.
  void close_gracefully() {
    phase_ = Phase::closing;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return;
    drained_ = 0;
    stream_.expires_after(kLingerTime);
    drain();
  }

  void drain() {
    stream_.async_read_some(net::buffer(drain_buffer_),
                            beast::bind_front_handler(&Session::on_drain, shared_from_this()));
  }

  void on_drain(beast::error_code ec, std::size_t bytes) {
    drained_ += bytes;
    if (ec || drained_ > kLingerBytes) {
      stream_.close();
      return;
    }
    drain();
  }

  ServerImpl& server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<Parser> parser_;
  std::string head_;  // the response's status line and fields, as written
  std::string body_;  // its body (empty for HEAD, 204 and 304)
  Clock::time_point received_at_{};
  unsigned version_ = 11;  // HTTP version of the response: the request's (10 or 11)
  Phase phase_ = Phase::idle;
  const Clock::time_point accepted_at_ = Clock::now();
  std::atomic<bool> answered_{false};
  std::atomic<bool> evicted_{false};
  std::size_t drained_ = 0;
  std::array<char, 4096> drain_buffer_{};
};

ServerImpl::ServerImpl(ServerOptions options, Handler handler, Observer* observer,
                       DispatchRule dispatch)
    : options_(std::move(options)),
      handler_(std::move(handler)),
      observer_(observer),
      dispatch_(std::move(dispatch)),
      io_contexts_(make_io_contexts(io_thread_count(options_))),
      accept_strand_(net::make_strand(*io_contexts_.front())),
      acceptor_(accept_strand_),
      accept_retry_timer_(accept_strand_) {
  if (!handler_) throw std::invalid_argument("http server: empty handler");
  const std::string where = options_.host + ":" + std::to_string(options_.port);
  beast::error_code ec;
  tcp::resolver resolver(*io_contexts_.front());
  const auto endpoints =
      resolver.resolve(options_.host, std::to_string(options_.port),
                       tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec) throw std::runtime_error("http server: cannot resolve " + where + ": " + ec.message());
  std::string last_error = "no address";
  for (const auto& entry : endpoints) {
    ec = {};
    acceptor_.open(entry.endpoint().protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(entry.endpoint(), ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (!ec) break;
    last_error = ec.message();
    beast::error_code ignored;
    acceptor_.close(ignored);
  }
  if (!acceptor_.is_open()) {
    throw std::runtime_error("http server: cannot listen on " + where + ": " + last_error);
  }
  port_ = acceptor_.local_endpoint().port();
}

ServerImpl::~ServerImpl() {
  stop();
}

void ServerImpl::start() {
  std::lock_guard lock(state_mutex_);
  if (state_ != State::created) throw std::logic_error("http server: start() called twice");
  state_ = State::running;
  for (auto& context : io_contexts_) work_.emplace_back(context->get_executor());
  worker_work_.emplace(worker_context_.get_executor());
  net::post(accept_strand_, [this] { do_accept(); });
  // As many as the constructor made contexts for (usable_cores() may say otherwise by now).
  const auto count = static_cast<unsigned>(io_contexts_.size());
  const unsigned workers = options_.worker_threads == 0 ? count : options_.worker_threads;
  worker_threads_.reserve(workers);
  for (unsigned i = 0; i < workers; ++i) {
    worker_threads_.emplace_back([this] { run_thread(worker_context_, "worker"); });
  }
  threads_.reserve(count);
  for (auto& context : io_contexts_) {
    threads_.emplace_back([this, &context] { run_thread(*context, "I/O"); });
  }
  spdlog::info("http server listening on {}:{} with {} I/O threads and {} worker threads",
               options_.host, port_, count, workers);
}

void ServerImpl::run_thread(net::io_context& context, const char* kind) {
  t_current_server = this;
  // Named for top -H, perf and /proc/PID/task/*/comm.
  pthread_setname_np(pthread_self(), std::string_view(kind) == "I/O" ? "nbo-io" : "nbo-worker");
  for (;;) {
    try {
      context.run();
      return;
    } catch (const std::exception& e) {
      spdlog::error("http: unexpected exception on {} thread: {}", kind, e.what());
    } catch (...) {
      spdlog::error("http: unexpected non-standard exception on {} thread", kind);
    }
  }
}

void ServerImpl::do_accept() {
  net::io_context& context = *io_contexts_[next_context_];
  next_context_ = (next_context_ + 1) % io_contexts_.size();
  // No strand: the context is run by exactly one thread, which already serializes the
  // connection's handlers (a strand would add a lock and a queue to every completion).
  acceptor_.async_accept(context.get_executor(),
                         beast::bind_front_handler(&ServerImpl::on_accept, this));
}

void ServerImpl::on_accept(beast::error_code ec, tcp::socket socket) {
  if (ec) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    spdlog::warn("http: accept failed: {}", ec.message());
    accept_retry_timer_.expires_after(std::chrono::milliseconds(50));
    accept_retry_timer_.async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec && acceptor_.is_open()) do_accept();
    });
    return;
  }
  // Each response goes out in one write (head and body together), so Nagle's algorithm has
  // nothing to coalesce; left on, it holds the last segment of a large answer until the client
  // acknowledges the rest, which a client delaying its ACKs does after up to 40 ms.
  beast::error_code no_delay_ec;
  socket.set_option(tcp::no_delay(true), no_delay_ec);
  if (no_delay_ec) spdlog::debug("http: cannot set TCP_NODELAY: {}", no_delay_ec.message());
  // Session::write_response() writes without waiting: a full send buffer answers would_block.
  beast::error_code non_blocking_ec;
  socket.non_blocking(true, non_blocking_ec);
  if (non_blocking_ec) {
    spdlog::warn("http: cannot make a connection non-blocking, closed: {}",
                 non_blocking_ec.message());
    socket.close(non_blocking_ec);
    if (acceptor_.is_open()) do_accept();
    return;
  }
  std::shared_ptr<Session> session;
  std::shared_ptr<Session> evicted;
  // The connections looked at for eviction, released only after sessions_mutex_: one that ends
  // meanwhile on its own thread may leave its last reference here, and a Session's destructor
  // takes that mutex to unregister itself.
  std::vector<std::shared_ptr<Session>> examined;
  {
    std::lock_guard lock(sessions_mutex_);
    if (!stopping_.load() && sessions_.size() >= options_.max_connections) {
      // Full: the oldest connection that has never been answered (idle since it connected, or
      // dribbling a request) makes room, so a crowd of such connections cannot lock others out.
      // Connections already marked still count until they end, so the excess stays bounded.
      examined.reserve(sessions_.size());
      for (const auto& [key, weak] : sessions_) {
        if (auto candidate = weak.lock()) examined.push_back(std::move(candidate));
      }
      for (const auto& candidate : examined) {
        if (candidate->answered() || candidate->evicted()) continue;
        if (!evicted || candidate->accepted_at() < evicted->accepted_at()) evicted = candidate;
      }
      if (evicted && !evicted->mark_evicted()) evicted.reset();
    }
    if (!stopping_.load() && (sessions_.size() < options_.max_connections || evicted != nullptr)) {
      session = std::make_shared<Session>(std::move(socket), *this);
      sessions_.emplace(session.get(), session);
    }
  }
  if (evicted) {
    connections_evicted_.fetch_add(1);
    net::post(evicted->executor(), [evicted] { evicted->on_evicted(); });
  }
  if (session) {
    session->start();
  } else {
    beast::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
    if (!stopping_.load()) {
      connections_refused_.fetch_add(1);
      spdlog::warn("http: connection limit reached, connection closed");
    }
  }
  if (acceptor_.is_open()) do_accept();
}

void ServerImpl::unregister_session(const Session* session) {
  std::lock_guard lock(sessions_mutex_);
  sessions_.erase(session);
  if (sessions_.empty()) sessions_cv_.notify_all();
}

bool ServerImpl::try_acquire_slot() noexcept {
  std::size_t current = in_flight_.load();
  do {
    if (current >= options_.max_in_flight) return false;
  } while (!in_flight_.compare_exchange_weak(current, current + 1));
  return true;
}

Dispatch ServerImpl::dispatch_of(const Request& request) const noexcept {
  if (!dispatch_) return Dispatch::kWorker;
  try {
    return dispatch_(request);
  } catch (const std::exception& e) {
    spdlog::error("http: dispatch rule failed request_id={}: {}", request.request_id, e.what());
    return Dispatch::kWorker;
  }
}

Response ServerImpl::call_handler(const Request& request) const {
  Response response;
  try {
    response = handler_(request);
  } catch (const std::exception& e) {
    spdlog::error("http: handler failed request_id={} method={} path={}: {}", request.request_id,
                  request.method, request.path, e.what());
    return error_response(500, "internal_error", "internal error", request.request_id);
  } catch (...) {
    spdlog::error("http: handler threw a non-standard exception request_id={}", request.request_id);
    return error_response(500, "internal_error", "internal error", request.request_id);
  }
  if (response.status < 200 || response.status > 599) {
    spdlog::error("http: handler returned invalid status {} request_id={}", response.status,
                  request.request_id);
    auto error = error_response(500, "internal_error", "internal error", request.request_id);
    error.route = std::move(response.route);
    return error;
  }
  return response;
}

void ServerImpl::notify_started() const noexcept {
  if (observer_ == nullptr) return;
  try {
    observer_->on_request_started();
  } catch (...) {
    spdlog::error("http: observer on_request_started threw");
  }
}

void ServerImpl::notify_finished(const Request& request, const Response& response,
                                 double seconds) const noexcept {
  if (observer_ == nullptr) return;
  try {
    observer_->on_request_finished(request, response, seconds);
  } catch (...) {
    spdlog::error("http: observer on_request_finished threw");
  }
}

bool ServerImpl::stop() {
  if (t_current_server == this) {
    throw std::logic_error("http server: stop() called from one of its own I/O or worker threads");
  }
  {
    std::unique_lock lock(state_mutex_);
    if (state_ == State::stopping || state_ == State::stopped) {
      state_cv_.wait(lock, [this] { return state_ == State::stopped; });
      return stop_result_;
    }
    if (state_ == State::created) {
      stopping_.store(true);
      beast::error_code ignored;
      acceptor_.close(ignored);
      state_ = State::stopped;
      state_cv_.notify_all();
      return true;
    }
    state_ = State::stopping;
  }
  const auto deadline = Clock::now() + options_.shutdown_deadline;

  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(sessions_mutex_);
    stopping_.store(true);
    for (const auto& [key, weak] : sessions_) {
      if (auto session = weak.lock()) live.push_back(std::move(session));
    }
  }
  net::post(accept_strand_, [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
    accept_retry_timer_.cancel();
  });
  for (auto& session : live) {
    net::post(session->executor(), [session] { session->on_server_stop(); });
  }
  live.clear();

  bool drained = false;
  {
    std::unique_lock lock(sessions_mutex_);
    drained = sessions_cv_.wait_until(lock, deadline, [this] { return sessions_.empty(); });
  }
  if (!drained) {
    spdlog::warn("http: shutdown deadline of {} ms passed, abandoning open connections",
                 options_.shutdown_deadline.count());
    abandoning_.store(true);
  }
  work_.clear();
  for (auto& context : io_contexts_) context->stop();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
  // Once its work guard is gone, a worker returns when the queue is empty; handler calls still
  // queued are dropped (abandoning_), running ones are waited for. Their completions go to the
  // stopped io_contexts_ and are destroyed with them.
  worker_work_.reset();
  for (auto& thread : worker_threads_) thread.join();
  worker_threads_.clear();

  std::lock_guard lock(state_mutex_);
  stop_result_ = drained;
  state_ = State::stopped;
  state_cv_.notify_all();
  spdlog::info("http server stopped ({})", drained ? "clean" : "deadline passed");
  return drained;
}

void ServerImpl::wait() {
  std::unique_lock lock(state_mutex_);
  state_cv_.wait(lock, [this] { return state_ == State::stopped; });
}

}  // namespace detail

Server::Server(ServerOptions options, Handler handler, Observer* observer, DispatchRule dispatch)
    : impl_(std::make_unique<detail::ServerImpl>(std::move(options), std::move(handler), observer,
                                                 std::move(dispatch))) {}

Server::~Server() = default;

unsigned short Server::port() const {
  return impl_->port();
}

void Server::start() {
  impl_->start();
}

bool Server::stop() {
  return impl_->stop();
}

void Server::wait() {
  impl_->wait();
}

std::size_t Server::in_flight() const {
  return impl_->in_flight();
}

std::uint64_t Server::connections_evicted() const {
  return impl_->connections_evicted();
}

std::uint64_t Server::connections_refused() const {
  return impl_->connections_refused();
}

ReadResult read_request(std::string_view bytes, const ServerOptions& options) {
  ReadResult result;
  detail::Parser parser;
  detail::apply_limits(parser, options);
  parser.eager(true);  // header and body in one pass, as async_read() after async_read_header()
  beast::error_code ec;
  result.consumed = detail::put_arrived(parser, net::buffer(bytes.data(), bytes.size()), false, ec);
  if (!ec && !parser.is_done()) return result;  // a connection would wait for more
  result.request.received_at = Clock::now();
  if (ec) {
    if (detail::is_transport_error(ec)) return result;  // a connection would be dropped
    if (ec == bhttp::error::body_limit || parser.is_header_done()) {
      detail::fill_from_header(parser.get(), result.request);
    }
    if (result.request.request_id.empty()) result.request.request_id = generate_request_id();
    result.outcome = ReadResult::Outcome::kAnswered;
    result.answer = detail::read_error_response(ec, options, result.request.request_id);
    return result;  // the connection is closed after it
  }
  auto& message = parser.get();
  detail::fill_from_header(message, result.request);
  result.request.body = std::move(message.body());
  result.keep_alive = message.keep_alive();
  if (auto rejected = detail::target_error(result.request)) {
    result.outcome = ReadResult::Outcome::kAnswered;
    result.answer = std::move(*rejected);
    return result;
  }
  result.outcome = ReadResult::Outcome::kRequest;
  return result;
}

}  // namespace nbo::http
