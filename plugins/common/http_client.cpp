// See http_client.hpp. One io_context per request; a Beast tcp_stream deadline set once
// (expires_at) bounds connect, handshake, write and read together.
#include "http_client.hpp"

#include <openssl/hmac.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <exception>
#include <stdexcept>
#include <vector>

namespace bihuan::plugins::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr std::size_t kBodyLimit = std::size_t{16} << 20;

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Writes the request and reads the response on a connected (and handshaken) stream.
template <class Stream>
asio::awaitable<void> exchange(Stream& stream, const Request& req, Response& out) {
  bhttp::request<bhttp::string_body> r;
  r.method_string(req.method);
  r.target(req.url.target);
  r.version(11);
  bool default_port = req.url.port == (req.url.tls ? "443" : "80");
  std::string host =
      req.url.host.find(':') != std::string::npos ? "[" + req.url.host + "]" : req.url.host;
  r.set(bhttp::field::host, default_port ? host : host + ":" + req.url.port);
  r.set(bhttp::field::user_agent, "bihuan-plugin/1.0");
  r.set(bhttp::field::connection, "close");
  for (const auto& [name, value] : req.headers) r.set(name, value);
  r.body() = req.body;
  r.prepare_payload();
  beast::error_code ec;
  co_await bhttp::async_write(stream, r, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    out.transport =
        ec == beast::error::timeout ? Response::Transport::timeout : Response::Transport::error;
    out.error = "cannot send the request: " + ec.message();
    co_return;
  }
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(kBodyLimit);
  co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    out.transport =
        ec == beast::error::timeout ? Response::Transport::timeout : Response::Transport::error;
    out.error = "no complete response: " + ec.message();
    co_return;
  }
  auto& res = parser.get();
  out.transport = Response::Transport::ok;
  out.status = static_cast<int>(res.result_int());
  out.content_type = std::string(res[bhttp::field::content_type]);
  out.body = std::move(res.body());
}

}  // namespace

struct HttpClient::Impl {
  asio::ssl::context tls{asio::ssl::context::tls_client};
  bool verify = true;

  asio::awaitable<void> run(const Request& req, Clock::time_point deadline, Response& out) const {
    auto ex = co_await asio::this_coro::executor;
    beast::error_code ec;
    std::vector<tcp::endpoint> endpoints;
    // An IP address needs no resolver (whose async form starts a thread per io_context).
    if (auto ip = asio::ip::make_address(req.url.host, ec); !ec) {
      endpoints.emplace_back(ip, static_cast<unsigned short>(std::stoi(req.url.port)));
    } else {
      ec = {};
      co_await resolve(req, deadline, endpoints, out);
      if (endpoints.empty()) co_return;
    }
    co_await connect_and_exchange(req, deadline, endpoints, out);
  }

  // Resolves the URL's host, bounded by the deadline as far as the system resolver lets us.
  // Leaves `endpoints` empty and sets `out` on failure.
  asio::awaitable<void> resolve(const Request& req, Clock::time_point deadline,
                                std::vector<tcp::endpoint>& endpoints, Response& out) const {
    auto ex = co_await asio::this_coro::executor;
    beast::error_code ec;
    tcp::resolver resolver(ex);
    asio::steady_timer timer(ex, deadline);
    bool resolve_timed_out = false;
    timer.async_wait([&](beast::error_code e) {
      if (!e) resolve_timed_out = true, resolver.cancel();
    });
    auto results = co_await resolver.async_resolve(req.url.host, req.url.port,
                                                   asio::redirect_error(asio::use_awaitable, ec));
    timer.cancel();
    if (ec || resolve_timed_out) {
      out.transport = resolve_timed_out ? Response::Transport::timeout : Response::Transport::error;
      out.error = "cannot resolve " + req.url.host + ": " +
                  (resolve_timed_out ? "timed out" : ec.message());
      co_return;
    }
    for (const auto& r : results) endpoints.push_back(r.endpoint());
  }

  asio::awaitable<void> connect_and_exchange(const Request& req, Clock::time_point deadline,
                                             const std::vector<tcp::endpoint>& endpoints,
                                             Response& out) const {
    auto ex = co_await asio::this_coro::executor;
    beast::error_code ec;
    beast::tcp_stream tcp_stream(ex);
    if (!req.url.tls) {
      tcp_stream.expires_at(deadline);
      co_await tcp_stream.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return fail_connect(req, ec, out);
      co_await exchange(tcp_stream, req, out);
      tcp_stream.socket().shutdown(tcp::socket::shutdown_both, ec);
      co_return;
    }
    beast::ssl_stream<beast::tcp_stream> stream(std::move(tcp_stream),
                                                const_cast<asio::ssl::context&>(tls));
    beast::get_lowest_layer(stream).expires_at(deadline);
    co_await beast::get_lowest_layer(stream).async_connect(
        endpoints, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return fail_connect(req, ec, out);
    asio::ip::make_address(req.url.host, ec);
    bool is_ip = !ec;
    ec = {};
    if (!is_ip) SSL_set_tlsext_host_name(stream.native_handle(), req.url.host.c_str());  // SNI
    if (verify) stream.set_verify_callback(asio::ssl::host_name_verification(req.url.host));
    co_await stream.async_handshake(asio::ssl::stream_base::client,
                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      out.transport =
          ec == beast::error::timeout ? Response::Transport::timeout : Response::Transport::error;
      out.error = "TLS handshake with " + req.url.host + " failed: " + ec.message();
      co_return;
    }
    co_await exchange(stream, req, out);
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ec);
  }

  static void fail_connect(const Request& req, const beast::error_code& ec, Response& out) {
    out.transport =
        ec == beast::error::timeout ? Response::Transport::timeout : Response::Transport::error;
    out.error = "cannot connect to " + req.url.host + ":" + req.url.port + ": " + ec.message();
  }
};

HttpClient::HttpClient(const ClientOptions& options) : impl_(std::make_unique<Impl>()) {
  impl_->verify = options.verify_tls;
  beast::error_code ec;
  if (options.verify_tls) {
    impl_->tls.set_verify_mode(asio::ssl::verify_peer, ec);
    if (!ec) impl_->tls.set_default_verify_paths(ec);
    if (ec) throw std::runtime_error("cannot load the system's CA certificates: " + ec.message());
    if (!options.ca_file.empty()) {
      impl_->tls.load_verify_file(options.ca_file, ec);
      if (ec)
        throw std::runtime_error("cannot load CA certificates from " + options.ca_file + ": " +
                                 ec.message());
    }
  } else {
    impl_->tls.set_verify_mode(asio::ssl::verify_none, ec);
  }
}

HttpClient::~HttpClient() = default;

Response HttpClient::send(const Request& req) const {
  Response out;
  out.error = "the request did not complete";
  auto deadline = Clock::now() + req.timeout;
  try {
    asio::io_context ioc;
    asio::co_spawn(ioc, impl_->run(req, deadline, out), [&](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        out = Response{};
        out.error = x.what();
      }
    });
    ioc.run();
  } catch (const std::exception& e) {
    out = Response{};
    out.error = e.what();
  }
  if (out.transport == Response::Transport::timeout)
    out.error =
        "timed out after " + std::to_string(req.timeout.count()) + " ms (" + out.error + ")";
  return out;
}

std::optional<Url> Url::parse(std::string_view text, std::string* error) {
  auto bad = [&](const std::string& why) -> std::optional<Url> {
    if (error) *error = "invalid URL \"" + std::string(text) + "\": " + why;
    return std::nullopt;
  };
  Url u;
  u.text = std::string(text);
  std::string_view rest = text;
  std::string scheme = lower(rest.substr(0, rest.find("://")));
  if (rest.find("://") == std::string_view::npos) return bad("expected http:// or https://");
  if (scheme == "https")
    u.tls = true;
  else if (scheme != "http")
    return bad("the scheme must be http or https");
  rest.remove_prefix(scheme.size() + 3);
  auto end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (authority.find('@') != std::string_view::npos)
    return bad("user:password@ is not supported (use headers)");
  if (!authority.empty() && authority[0] == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return bad("unclosed [ in the host");
    u.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (!authority.empty() && authority[0] != ':') return bad("unexpected text after ]");
    if (!authority.empty()) u.port = std::string(authority.substr(1));
  } else {
    auto colon = authority.find(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) u.port = std::string(authority.substr(colon + 1));
  }
  if (u.host.empty()) return bad("no host");
  if (u.port.empty()) u.port = u.tls ? "443" : "80";
  for (char c : u.port)
    if (!std::isdigit(static_cast<unsigned char>(c))) return bad("the port must be a number");
  if (u.port.size() > 5 || std::stoi(u.port) < 1 || std::stoi(u.port) > 65535)
    return bad("the port must be 1..65535");
  auto hash = rest.find('#');
  if (hash != std::string_view::npos) rest = rest.substr(0, hash);
  u.target = rest.empty() || rest[0] != '/' ? "/" + std::string(rest) : std::string(rest);
  for (char c : u.target)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return bad("spaces and control characters must be percent-encoded");
  return u;
}

Verdict classify(const Response& r) {
  if (r.transport != Response::Transport::ok) return Verdict::retry;
  if (r.status >= 200 && r.status < 300) return Verdict::ok;
  if (r.status == 408 || r.status == 429 || r.status >= 500) return Verdict::retry;
  return Verdict::fail;
}

std::string describe(const Request& request, const Response& response) {
  std::string out = request.method + " " + request.url.text + ": ";
  if (response.transport != Response::Transport::ok) return out + response.error;
  out += "HTTP " + std::to_string(response.status);
  if (!response.body.empty()) {
    // The first 300 bytes, cut before a UTF-8 continuation byte so no character is split.
    std::size_t cut = std::min<std::size_t>(response.body.size(), 300);
    while (cut > 0 && cut < response.body.size() &&
           (static_cast<unsigned char>(response.body[cut]) & 0xC0) == 0x80)
      --cut;
    out += ": " + response.body.substr(0, cut) + (cut < response.body.size() ? "…" : "");
  }
  return out;
}

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[mac[i] >> 4];
    out += hex[mac[i] & 15];
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && lower(a) == lower(b);
}

std::string percent_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  return out;
}

}  // namespace bihuan::plugins::http
