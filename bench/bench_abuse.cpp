// bench_abuse: does a crowd of idle or slow clients stop the server from serving the others?
//
// Starts the real server in this process (as load_predict does, nbo serve's defaults), then
// measures one well-behaved keep-alive client sending single-customer POST /predict requests
// one after the other, three times:
//   1. alone (the peer figure);
//   2. with --idle connections open and silent;
//   3. with those, plus --slow clients that send a request's header one byte every 100 ms and
//      as many that send a complete header and then the body one byte every 100 ms.
// Prints p50/p99/max latency and non-200 answers per phase, how many of 20 new connections
// were served in each, and how many idle and slow
// connections the server had closed by the end (its read and idle timeouts). Bounded: each
// phase is --requests requests; 127.0.0.1 only.
//
//   bench_abuse [--idle 2000] [--slow 100] [--requests 2000]
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "in_process_server.hpp"

namespace {

using Clock = std::chrono::steady_clock;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

struct Phase {
  std::string name;
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  std::size_t not_ok = 0;
  int fresh_served = 0;  // of kFreshConnections new connections, those answered 200
};

constexpr int kFreshConnections = 20;

// A connected TCP socket to 127.0.0.1:port, or -1.
int connect_to(unsigned short port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Whether the server has closed `fd` (a read returns 0 or an error other than "would block").
bool closed_by_server(int fd) {
  char byte = 0;
  const ssize_t got = ::recv(fd, &byte, 1, MSG_DONTWAIT | MSG_PEEK);
  return got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

// A new connection's single request; false when the server closed it or did not answer 200.
bool fresh_request_served(unsigned short port, const std::string& body) {
  try {
    const auto response = nbo::bench::one_request(
        boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port),
        "127.0.0.1", bhttp::verb::post, "/predict", body, std::chrono::seconds(2));
    return response.result_int() == 200;
  } catch (const std::exception&) {
    return false;
  }
}

// `requests` requests on the well-behaved client's keep-alive connection (opened before any
// crowd), then kFreshConnections requests each on a new connection.
Phase measure(const std::string& name, beast::tcp_stream& stream, unsigned short port,
              const std::string& body, int requests) {
  std::vector<double> latencies;
  Phase phase{.name = name};
  for (int i = 0; i < requests; ++i) {
    bhttp::request<bhttp::string_body> request{bhttp::verb::post, "/predict", 11};
    request.set(bhttp::field::host, "127.0.0.1");
    request.set(bhttp::field::content_type, "application/json");
    request.body() = body;
    request.prepare_payload();
    const auto started = Clock::now();
    bhttp::write(stream, request);
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> response;
    bhttp::read(stream, buffer, response);
    latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - started).count());
    if (response.result_int() != 200) ++phase.not_ok;
  }
  std::sort(latencies.begin(), latencies.end());
  const auto at = [&](double q) {
    return latencies[std::min(latencies.size() - 1,
                              static_cast<std::size_t>(q * static_cast<double>(latencies.size())))];
  };
  phase.p50_ms = at(0.5);
  phase.p99_ms = at(0.99);
  phase.max_ms = latencies.back();
  for (int i = 0; i < kFreshConnections; ++i) {
    phase.fresh_served += fresh_request_served(port, body) ? 1 : 0;
  }
  return phase;
}

}  // namespace

int main(int argc, char** argv) {
  int idle = 2000;
  int slow = 100;
  int requests = 2000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int value = std::stoi(argv[i + 1]);
    if (flag == "--idle") idle = value;
    if (flag == "--slow") slow = value;
    if (flag == "--requests") requests = value;
  }
  nbo::config::ServeConfig config;  // nbo serve's defaults (timeouts included)
  nbo::bench::InProcessServer local;
  local.start(0, config);
  const unsigned short port = local.server->port();
  std::ifstream customer_file(std::string(NBO_SOURCE_DIR) +
                              "/tests/fixtures/api/customer_215349.json");
  std::stringstream customer;
  customer << customer_file.rdbuf();
  const std::string body = customer.str();

  boost::asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  std::vector<Phase> phases;
  phases.push_back(measure("alone", stream, port, body, requests));

  std::vector<int> idle_fds;
  for (int i = 0; i < idle; ++i) {
    const int fd = connect_to(port);
    if (fd >= 0) idle_fds.push_back(fd);
  }
  phases.push_back(measure(fmt::format("with {} idle connections", idle_fds.size()), stream, port,
                           body, requests));

  // Slow clients: half dribble a header, half a body, one byte per 100 ms each.
  std::vector<int> slow_header;
  std::vector<int> slow_body;
  const std::string header =
      "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
  for (int i = 0; i < slow; ++i) {
    const int fd = connect_to(port);
    if (fd >= 0) slow_header.push_back(fd);
    const int body_fd = connect_to(port);
    if (body_fd >= 0) {
      const std::string start = header + "Content-Length: 1000\r\n\r\n";
      (void)::send(body_fd, start.data(), start.size(), MSG_NOSIGNAL);
      slow_body.push_back(body_fd);
    }
  }
  std::atomic<bool> stop{false};
  std::thread dribbler([&] {
    std::size_t position = 0;
    while (!stop.load()) {
      const char header_byte = header[position % header.size()];
      for (const int fd : slow_header) (void)::send(fd, &header_byte, 1, MSG_NOSIGNAL);
      for (const int fd : slow_body) (void)::send(fd, "x", 1, MSG_NOSIGNAL);
      ++position;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  phases.push_back(measure(fmt::format("with those and {} slow-header + {} slow-body clients",
                                       slow_header.size(), slow_body.size()),
                           stream, port, body, requests));
  stop = true;
  dribbler.join();

  std::cout << fmt::format(
      "One keep-alive client, {} single-customer POST /predict per phase, then {} requests on new "
      "connections; server timeouts: read {} ms, idle {} ms; at most {} connections\n\n"
      "| phase | p50 ms | p99 ms | max ms | non-200 | new connections served |\n"
      "|---|---|---|---|---|---|\n",
      requests, kFreshConnections, config.server.read_timeout.count(),
      config.server.idle_timeout.count(), config.server.max_connections);
  for (const auto& phase : phases) {
    std::cout << fmt::format("| {} | {:.3f} | {:.3f} | {:.3f} | {} | {}/{} |\n", phase.name,
                             phase.p50_ms, phase.p99_ms, phase.max_ms, phase.not_ok,
                             phase.fresh_served, kFreshConnections);
  }
  const auto count_closed = [](const std::vector<int>& fds) {
    return std::count_if(fds.begin(), fds.end(), closed_by_server);
  };
  std::cout << fmt::format(
      "\nclosed by the server by the end: idle {}/{}, slow-header {}/{}, slow-body {}/{}\n",
      count_closed(idle_fds), idle_fds.size(), count_closed(slow_header), slow_header.size(),
      count_closed(slow_body), slow_body.size());
  for (const int fd : idle_fds) ::close(fd);
  for (const int fd : slow_header) ::close(fd);
  for (const int fd : slow_body) ::close(fd);
  local.stop(false);
  return 0;
}
