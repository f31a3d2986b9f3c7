#include "support/http_client.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>

namespace nbo::test {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto x = static_cast<unsigned char>(a[i]);
    const auto y = static_cast<unsigned char>(b[i]);
    if (std::tolower(x) != std::tolower(y)) return false;
  }
  return true;
}

[[noreturn]] void fail(std::string_view what, const beast::error_code& ec) {
  throw std::runtime_error("HttpClient: " + std::string(what) + ": " + ec.message());
}

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return value;
  }
  return {};
}

bool HttpResponse::has_header(std::string_view name) const {
  for (const auto& entry : headers) {
    if (iequals(entry.first, name)) return true;
  }
  return false;
}

struct HttpClient::Impl {
  std::string host;
  unsigned short port = 0;
  std::chrono::milliseconds timeout{};
  net::io_context io_context;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  std::size_t opened = 0;

  // Runs one asynchronous operation to completion on io_context and returns its error.
  template <class Start>
  beast::error_code run(Start start) {
    beast::error_code result = net::error::would_block;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    io_context.restart();
    io_context.run();
    return result;
  }

  beast::error_code connect(beast::tcp_stream& s) {
    tcp::resolver resolver(io_context);
    beast::error_code ec;
    const auto endpoints = resolver.resolve(host, std::to_string(port), ec);
    if (ec) return ec;
    s.expires_after(timeout);
    return run([&](auto handler) { s.async_connect(endpoints, std::move(handler)); });
  }

  void disconnect() {
    if (!stream) return;
    beast::error_code ignored;
    stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream->close();
    stream.reset();
    buffer.clear();
  }
};

HttpClient::HttpClient(std::string host, unsigned short port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->timeout = timeout;
}

HttpClient::~HttpClient() {
  close();
}

HttpResponse HttpClient::request(std::string_view method, std::string_view target,
                                 std::string_view body, const HttpHeaders& headers) {
  auto& d = *impl_;
  if (!d.stream) {
    d.stream.emplace(d.io_context);
    if (const auto ec = d.connect(*d.stream)) {
      d.disconnect();
      fail("connect", ec);
    }
    ++d.opened;
  }
  bhttp::request<bhttp::string_body> req;
  req.method_string(method);
  req.target(target);
  req.version(11);
  req.set(bhttp::field::host, d.host + ":" + std::to_string(d.port));
  req.set(bhttp::field::user_agent, "nbo-test");
  for (const auto& [name, value] : headers) req.set(name, value);
  req.body() = std::string(body);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    req.content_length(body.size());
  }

  d.stream->expires_after(d.timeout);
  if (const auto ec =
          d.run([&](auto handler) { bhttp::async_write(*d.stream, req, std::move(handler)); })) {
    d.disconnect();
    fail("write", ec);
  }
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  parser.header_limit(1024 * 1024);
  if (method == "HEAD") parser.skip(true);
  d.stream->expires_after(d.timeout);
  if (const auto ec = d.run([&](auto handler) {
        bhttp::async_read(*d.stream, d.buffer, parser, std::move(handler));
      })) {
    d.disconnect();
    fail("read", ec);
  }
  auto& message = parser.get();
  HttpResponse response;
  response.status = message.result_int();
  response.version = message.version();
  response.body = std::move(message.body());
  response.keep_alive = message.keep_alive();
  for (const auto& field : message) {
    response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  if (!response.keep_alive) d.disconnect();
  return response;
}

std::string HttpClient::raw(std::string_view bytes, std::chrono::milliseconds timeout) {
  auto& d = *impl_;
  beast::tcp_stream s(d.io_context);
  if (const auto ec = d.connect(s)) fail("connect", ec);
  s.expires_after(timeout.count() > 0 ? timeout : d.timeout);
  if (const auto ec = d.run([&](auto handler) {
        net::async_write(s, net::buffer(bytes.data(), bytes.size()), std::move(handler));
      })) {
    fail("write", ec);
  }
  std::string received;
  std::array<char, 4096> chunk{};
  for (;;) {
    std::size_t n = 0;
    const auto ec = d.run([&](auto handler) {
      s.async_read_some(net::buffer(chunk), [&n, handler = std::move(handler)](
                                                beast::error_code e, std::size_t count) mutable {
        n = count;
        handler(e);
      });
    });
    received.append(chunk.data(), n);
    if (ec) break;
  }
  beast::error_code ignored;
  s.socket().close(ignored);
  return received;
}

bool HttpClient::wait_for_close(std::chrono::milliseconds max) {
  auto& d = *impl_;
  if (!d.stream) return true;
  if (d.buffer.size() > 0) {
    d.disconnect();
    return false;
  }
  std::array<char, 1> byte{};
  std::size_t n = 0;
  d.stream->expires_after(max);
  const auto ec = d.run([&](auto handler) {
    d.stream->async_read_some(
        net::buffer(byte),
        [&n, handler = std::move(handler)](beast::error_code e, std::size_t count) mutable {
          n = count;
          handler(e);
        });
  });
  d.disconnect();
  return ec && ec != beast::error::timeout && n == 0;
}

bool HttpClient::connected() const {
  return impl_->stream.has_value();
}

std::size_t HttpClient::connections_opened() const {
  return impl_->opened;
}

void HttpClient::close() {
  impl_->disconnect();
}

HttpResponse parse_raw_response(std::string_view bytes) {
  HttpResponse response;
  const auto head_end = bytes.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return response;
  const std::string_view head = bytes.substr(0, head_end);
  std::string_view rest = bytes.substr(head_end + 4);
  const auto line_end = head.find("\r\n");
  const std::string_view status_line = head.substr(0, line_end);
  if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/") return response;
  response.version = status_line.substr(5, 3) == "1.0" ? 10U : 11U;
  response.status = static_cast<unsigned>(std::stoul(std::string(status_line.substr(9, 3))));
  std::string_view fields =
      line_end == std::string_view::npos ? std::string_view{} : head.substr(line_end + 2);
  while (!fields.empty()) {
    const auto end = fields.find("\r\n");
    const std::string_view line = fields.substr(0, end);
    fields = end == std::string_view::npos ? std::string_view{} : fields.substr(end + 2);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    response.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  if (const auto length = response.header("Content-Length"); !length.empty()) {
    rest = rest.substr(0, std::min<std::size_t>(rest.size(), std::stoul(length)));
  }
  response.body = std::string(rest);
  const auto connection = response.header("Connection");
  response.keep_alive =
      response.version == 11 ? !iequals(connection, "close") : iequals(connection, "keep-alive");
  return response;
}

}  // namespace nbo::test
