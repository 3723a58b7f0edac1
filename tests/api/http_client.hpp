// A real HTTP/1.1 client for the API tests (Boost.Beast, blocking, keep-alive), and a raw
// socket exchange for requests no well-behaved client would send.
#pragma once

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <string>
#include <utility>
#include <vector>

#include "bihuan/json.hpp"

namespace bihuan::test {

namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using Headers = std::vector<std::pair<std::string, std::string>>;

struct Response {
  int status = 0;
  std::string body;
  http::response<http::string_body> raw;
  json json_body() const { return json::parse(body, nullptr, false); }
  std::string header(const std::string& name) const {
    auto it = raw.find(name);
    return it == raw.end() ? std::string() : std::string(it->value());
  }
};

class HttpClient {
 public:
  explicit HttpClient(std::uint16_t port, std::string token = {})
      : port_(port), token_(std::move(token)) {
    connect();
  }

  Response request(http::verb method, const std::string& target, const std::string& body = {},
                   const Headers& headers = {}, const char* content_type = "application/json") {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    if (!token_.empty()) req.set(http::field::authorization, "Bearer " + token_);
    if (!body.empty() && content_type) req.set(http::field::content_type, content_type);
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    req.keep_alive(true);
    Response out;
    boost::beast::error_code ec;
    if (closed_) connect();
    for (int attempt = 0; attempt < 2; ++attempt) {
      http::write(socket_, req, ec);
      if (!ec) http::read(socket_, buffer_, out.raw, ec);
      if (!ec) break;
      connect();  // the server closed a kept-alive connection: once more on a new one
      out.raw = {};
    }
    if (ec) throw boost::system::system_error(ec);
    out.status = static_cast<int>(out.raw.result_int());
    out.body = out.raw.body();
    closed_ = !out.raw.keep_alive();  // reconnect before the next request, not now
    return out;
  }
  Response get(const std::string& target, const Headers& h = {}) {
    return request(http::verb::get, target, {}, h);
  }
  Response post(const std::string& target, const json& body, const Headers& h = {}) {
    return request(http::verb::post, target, body.dump(), h);
  }
  void set_token(std::string token) { token_ = std::move(token); }

 private:
  void connect() {
    boost::system::error_code ec;
    socket_.close(ec);
    socket_ = tcp::socket(ioc_);
    socket_.connect(tcp::endpoint(boost::asio::ip::address_v4::loopback(), port_));
    buffer_.clear();
    closed_ = false;
  }
  boost::asio::io_context ioc_;
  tcp::socket socket_{ioc_};
  boost::beast::flat_buffer buffer_;
  std::uint16_t port_;
  std::string token_;
  bool closed_ = false;
};

// Sends `bytes`, then reads until the server closes or `timeout_ms` passes. Returns what
// the server sent ("" if nothing).
inline std::string raw_exchange(std::uint16_t port, const std::string& bytes, int timeout_ms = 5000,
                                bool half_close = false) {
  boost::asio::io_context ioc;
  tcp::socket s(ioc);
  s.connect(tcp::endpoint(boost::asio::ip::address_v4::loopback(), port));
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  boost::system::error_code ec;
  boost::asio::write(s, boost::asio::buffer(bytes), ec);
  if (half_close) s.shutdown(tcp::socket::shutdown_send, ec);
  std::string out;
  char buf[4096];
  for (;;) {
    std::size_t n = s.read_some(boost::asio::buffer(buf), ec);
    if (ec) break;
    out.append(buf, n);
  }
  return out;
}

// The status code of the first response in raw bytes (0 if none).
inline int raw_status(const std::string& response) {
  if (response.rfind("HTTP/1.1 ", 0) != 0 || response.size() < 12) return 0;
  return std::stoi(response.substr(9, 3));
}

}  // namespace bihuan::test
