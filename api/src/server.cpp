// The server: listener, one coroutine per connection (plain or TLS), request limits and
// timeouts, authentication and rate limits, routing, graceful shutdown.
#include <condition_variable>
#include <set>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>

#include "auth.hpp"
#include "bihuan/attachment_check.hpp"
#include "bihuan/log.hpp"
#include "context.hpp"

namespace bihuan {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using api::Reply;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace api {

void Context::log(const char* level, const std::string& msg, json fields) const {
  std::string text = log_text(level, msg, fields);
  if (hooks.log)
    hooks.log(text);
  else
    log_write(text);
}

void Context::refused(const Principal* who, std::string_view method, const std::string& route,
                      unsigned status, const std::string& reason) {
  metrics.refused(reason);
  log("warn", "request refused",
      {{"actor", who ? json(who->actor.id) : json("anonymous")},
       {"token", who ? json(who->token_name) : json(nullptr)},
       {"method", std::string(method)},
       {"route", route},
       {"status", status},
       {"reason", reason}});
}

}  // namespace api

namespace {

// A connection as the shutdown sees it: cancel its read when it is idle.
struct Conn {
  asio::any_io_executor ex;
  beast::tcp_stream* stream = nullptr;  // valid while the session runs (on ex)
  bool busy = false;                    // handling a request (on ex)
};

bool query_split(std::string_view text, std::vector<std::pair<std::string, std::string>>& out) {
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t amp = text.find('&', i);
    if (amp == std::string_view::npos) amp = text.size();
    std::string_view part = text.substr(i, amp - i);
    if (!part.empty()) {
      std::size_t eq = part.find('=');
      auto k = api::percent_decode(part.substr(0, eq), true);
      auto v = api::percent_decode(
          eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1), true);
      if (!k || !v) return false;
      out.emplace_back(std::move(*k), std::move(*v));
    }
    i = amp + 1;
  }
  return true;
}

// Threads of the worker pool (api::on_pool): verify, backup, deploy, cancel, migrations
// and scans run there, so they never hold an io thread.
constexpr std::size_t kPoolThreads = 4;

class ServerImpl final : public Server {
 public:
  ServerImpl(Engine& engine, ServerConfig config, ServerHooks hooks,
             std::shared_ptr<const TimeZone> tz)
      : ctx_{engine, std::move(config), std::move(tz), std::move(hooks), {}, {}},
        auth_(ctx_.config, engine.clock()),
        ioc_(static_cast<int>(ctx_.config.threads)),
        acceptor_strand_(asio::make_strand(ioc_)),
        acceptor_(acceptor_strand_),
        pool_(kPoolThreads) {
    ctx_.pool = pool_.get_executor();
    if (!engine.options().data_dir.empty()) try {
        ctx_.attachments =
            std::make_shared<AttachmentStore>(engine.options().data_dir, ctx_.config.attachments);
        // A step naming a file refers to it from then on: no longer an orphan candidate.
        set_attachment_check(engine, [store = ctx_.attachments, &engine](const std::string& a) {
          return store->claim(a, engine.clock().now());
        });
        // Verify, backup and retention reach the files through the store (also those a
        // file-store plugin keeps).
        set_attachment_store(engine, ctx_.attachments);
      } catch (const std::exception& e) {
        ctx_.log("error", "attachment store unavailable", {{"error", e.what()}});
      }
    ctx_.sign_in = [this]() -> std::optional<api::SignInProvider> {
      auto table = auth_.table();
      if (!table || !table->jwt()) return std::nullopt;
      return table->jwt()->sign_in();
    };
    api::add_ops_routes(router_, ctx_);
    api::add_definition_routes(router_, ctx_);
    batches_ = api::add_bulk_routes(router_, ctx_);  // before /v1/instances/{id}
    api::add_instance_routes(router_, ctx_);
    api::add_instance_view_routes(router_, ctx_);
    api::add_admin_routes(router_, ctx_);
    api::add_migration_routes(router_, ctx_);
    api::add_identity_routes(router_, ctx_, [this](Problems& p) { return reload_identity(p); });
    api::add_console_routes(router_, ctx_);
    api::add_attachment_routes(router_, ctx_);
    api::add_change_routes(router_, ctx_);
    std::vector<std::pair<std::string, std::string>> names;
    for (const auto& r : router_.routes())
      names.emplace_back(std::string(api::http::to_string(r.method)), r.pattern);
    ctx_.metrics.set_routes(std::move(names));
  }

  ~ServerImpl() override {
    shutdown(std::chrono::seconds(2));
    if (ctx_.config.attachments.files) set_attachment_store(ctx_.engine, nullptr);
  }

  bool listen(Problems& problems) {
    boost::system::error_code ec;
    auto address = asio::ip::make_address(ctx_.config.host, ec);
    if (ec) {
      problems.error("/server/listen", "listen-address",
                     "\"" + ctx_.config.host + "\" is not an IP address");
      return false;
    }
    tcp::endpoint ep(address, ctx_.config.port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      problems.error("/server/listen", "listen-failed",
                     "cannot listen on " + ctx_.config.host + ":" +
                         std::to_string(ctx_.config.port) + ": " + ec.message());
      return false;
    }
    port_ = acceptor_.local_endpoint().port();
    loopback_ = address.is_loopback();
    if (ctx_.config.tls) {
      try {
        ssl_.emplace(ssl::context::tls_server);
        ssl_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                          ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                          ssl::context::no_tlsv1_1);
        ssl_->use_certificate_chain_file(ctx_.config.tls->certificate_file);
        ssl_->use_private_key_file(ctx_.config.tls->private_key_file, ssl::context::pem);
      } catch (const std::exception& e) {
        problems.error("/server/tls", "tls-files",
                       "cannot load TLS certificate " + ctx_.config.tls->certificate_file +
                           " / key " + ctx_.config.tls->private_key_file + ": " + e.what());
        return false;
      }
    }
    return true;
  }

  void run() {
    {
      std::lock_guard lock(mu_);
      accepting_ = true;
    }
    asio::co_spawn(acceptor_strand_, accept_loop(), [this](std::exception_ptr) {
      std::lock_guard lock(mu_);
      accepting_ = false;
      cv_.notify_all();
    });
    for (std::size_t i = 0; i < ctx_.config.threads; ++i)
      threads_.emplace_back([this] { ioc_.run(); });
    api::start_orphan_sweep(ctx_);
  }

  // The first identity table (the constructor cannot fail).
  bool load_identity(Problems& problems) { return auth_.reload(problems); }

  bool reload_identity(Problems& problems) override {
    if (ctx_.config.identity_file.empty()) {
      problems.error("/server/identityFile", "no-identity-file",
                     "the server configuration names no identityFile; nothing to reload");
      ctx_.log("error", "identity reload refused: no identity file is configured");
      return false;
    }
    if (!auth_.reload(problems)) {
      json list = json::array();
      for (const auto& p : problems.items())
        if (p.severity == Severity::error)
          list.push_back(
              {{"file", p.file}, {"pointer", p.pointer}, {"code", p.code}, {"detail", p.message}});
      ctx_.log("error", "identity reload refused; the identities in use are unchanged",
               {{"file", ctx_.config.identity_file}, {"problems", std::move(list)}});
      return false;
    }
    auto table = auth_.table();
    ctx_.log("info", "identity reloaded",
             {{"file", ctx_.config.identity_file},
              {"tokens", table->token_count()},
              {"jwtKeys", table->jwt() ? table->jwt()->key_count() : 0}});
    return true;
  }

  std::uint16_t port() const override { return port_; }
  std::string metrics_text() const override { return ctx_.metrics_text(); }

  std::vector<std::string> routes() const override {
    std::vector<std::string> out;
    for (const auto& r : router_.routes())
      out.push_back(std::string(api::http::to_string(r.method)) + " " + r.pattern);
    return out;
  }

  void shutdown(std::chrono::milliseconds grace) override {
    {
      std::lock_guard lock(mu_);
      if (shut_) return;
      shut_ = true;
    }
    ctx_.draining = true;
    asio::post(acceptor_strand_, [this] {
      boost::system::error_code ec;
      acceptor_.close(ec);
    });
    cancel_idle(false);
    {
      std::unique_lock lock(mu_);
      // The accept loop ends first: an accept that completed as the acceptor closed
      // holds a socket until its handler ran (stopping the threads before would leave
      // that socket open and its client waiting).
      if (!cv_.wait_for(lock, grace, [this] { return !accepting_ && conns_.empty(); })) {
        std::size_t left = conns_.size();  // read under mu_ (session() erases under it)
        lock.unlock();
        ctx_.log("warn", "shutdown grace period over; closing the remaining connections",
                 {{"connections", left}});
        cancel_idle(true);
        lock.lock();
        cv_.wait_for(lock, std::chrono::seconds(2), [this] { return conns_.empty(); });
      }
    }
    // A step's result is posted here from the engine's thread (await_step): wait until
    // every such post has returned before the io_context may go.
    ctx_.engine.barrier();
    ioc_.stop();
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    // Work still on the pool (a request whose connection was closed) finishes before the
    // engine may go; its answer, posted to the stopped io_context, is dropped.
    pool_.stop();
    pool_.join();
    api::stop_batches(*batches_);  // running bulk actions stop between two chunks
    ctx_.log("info", "server stopped", {{"port", port_}});
    std::lock_guard lock(mu_);
    stopped_ = true;
    cv_.notify_all();
  }

  void wait() override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return stopped_; });
  }

 private:
  void cancel_idle(bool all) {
    std::lock_guard lock(mu_);
    for (const auto& c : conns_)
      asio::post(c->ex, [c, all] {
        if (c->stream && (all || !c->busy)) c->stream->socket().close();
      });
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::make_strand(ioc_), use_tuple);
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
        // Out of descriptors or similar: back off briefly instead of spinning.
        asio::steady_timer pause(acceptor_strand_, std::chrono::milliseconds(50));
        co_await pause.async_wait(use_tuple);
        continue;
      }
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      auto ex = socket.get_executor();
      auto conn = std::make_shared<Conn>();
      conn->ex = ex;
      bool shut = false, full = false;
      {
        // shutdown() sets shut_ under this lock and then waits for conns_ to empty: a
        // connection accepted as it begins is either counted here, so that the shutdown
        // waits for its session (which closes it unread), or dropped (closed) here. Left
        // uncounted, the io threads could stop before its session ever ran, leaving the
        // socket open and its client waiting for good.
        std::lock_guard lock(mu_);
        shut = shut_;
        full = !shut && conns_.size() >= ctx_.config.max_connections;
        if (!shut && !full) conns_.insert(conn);
      }
      if (shut) continue;
      if (full) {
        ctx_.metrics.connection_refused();
        asio::co_spawn(ex, refuse(std::move(socket)), asio::detached);
        continue;
      }
      asio::co_spawn(ex, session(std::move(socket), conn), asio::detached);
    }
  }

  // Over the connection limit: a short 503 and close.
  asio::awaitable<void> refuse(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    stream.expires_after(std::chrono::seconds(2));
    Reply r = api::problem(503, "too-many-connections",
                           "the server is at its connection limit; try again shortly");
    api::http::response<api::http::string_body> res{api::http::status::service_unavailable, 11};
    res.set(api::http::field::content_type, r.content_type);
    res.set(api::http::field::retry_after, "1");
    res.keep_alive(false);
    res.body() = r.body;
    res.prepare_payload();
    co_await api::http::async_write(stream, res, use_tuple);
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  }

  asio::awaitable<void> session(tcp::socket socket, std::shared_ptr<Conn> conn) {
    ctx_.metrics.connection_opened();
    beast::tcp_stream stream(std::move(socket));
    conn->stream = &stream;
    try {
      if (ssl_) {
        beast::ssl_stream<beast::tcp_stream&> tls(stream, *ssl_);
        stream.expires_after(ctx_.config.request_timeout);
        auto [ec] = co_await tls.async_handshake(ssl::stream_base::server, use_tuple);
        if (!ec) {
          co_await serve(tls, *conn);
          stream.expires_after(std::chrono::seconds(2));
          co_await tls.async_shutdown(use_tuple);
        }
      } else {
        co_await serve(stream, *conn);
        boost::system::error_code ec;
        stream.socket().shutdown(tcp::socket::shutdown_send, ec);
      }
    } catch (const std::exception& e) {
      ctx_.log("error", "connection failed", {{"error", e.what()}});
    }
    conn->stream = nullptr;
    ctx_.metrics.connection_closed();
    std::lock_guard lock(mu_);
    conns_.erase(conn);
    cv_.notify_all();
  }

  template <class Stream>
  asio::awaitable<void> write_reply(Stream& s, Reply reply, unsigned version, bool keep_alive,
                                    bool& ok) {
    namespace http = api::http;
    if (reply.chunks) {
      co_await write_chunked(s, std::move(reply), version, keep_alive, ok);
      co_return;
    }
    http::response<http::string_body> res{static_cast<http::status>(reply.status), version};
    res.set(http::field::server, "bihuan/0.1");
    if (!reply.body.empty() || reply.status != 204)
      res.set(http::field::content_type, reply.content_type);
    for (auto& [k, v] : reply.headers) res.set(k, v);
    res.keep_alive(keep_alive);
    res.body() = std::move(reply.body);
    res.prepare_payload();
    beast::get_lowest_layer(s).expires_after(ctx_.config.request_timeout);
    auto [ec, n] = co_await http::async_write(s, res, use_tuple);
    ok = !ec;
  }

  // A streamed reply (Reply::chunks): the header, then each chunk as it is produced, then
  // the last chunk. An HTTP/1.0 client gets the body unchunked and the connection closed.
  template <class Stream>
  asio::awaitable<void> write_chunked(Stream& s, Reply reply, unsigned version, bool keep_alive,
                                      bool& ok) {
    namespace http = api::http;
    ok = false;
    http::response<http::empty_body> res{static_cast<http::status>(reply.status), version};
    res.set(http::field::server, "bihuan/0.1");
    res.set(http::field::content_type, reply.content_type);
    for (auto& [k, v] : reply.headers) res.set(k, v);
    const bool chunked = version >= 11;
    res.keep_alive(chunked && keep_alive);
    if (chunked) res.chunked(true);
    http::response_serializer<http::empty_body> sr{res};
    beast::get_lowest_layer(s).expires_after(ctx_.config.request_timeout);
    auto [ec, n] = co_await http::async_write_header(s, sr, use_tuple);
    if (ec) co_return;
    for (;;) {
      std::optional<std::string> piece =
          co_await api::on_pool(ctx_, [&reply] { return reply.chunks(); });
      if (!piece) co_return;  // no last chunk: the client sees the body cut short
      const std::string chunk = std::move(*piece);
      beast::get_lowest_layer(s).expires_after(ctx_.config.request_timeout);
      if (chunk.empty()) break;
      auto [wec, wn] =
          chunked ? co_await asio::async_write(s, http::make_chunk(asio::buffer(chunk)), use_tuple)
                  : co_await asio::async_write(s, asio::buffer(chunk), use_tuple);
      if (wec) co_return;
    }
    if (chunked) {
      auto [lec, ln] = co_await asio::async_write(s, http::make_chunk_last(), use_tuple);
      if (lec) co_return;
    }
    ok = chunked;
  }

  // Reads an upload's body in pieces of 64 KiB into `staged` (file and hash), never whole.
  // Errors: the parser's (body_limit past maxBytes), the stream's; a failed write stops
  // the read with no error (staged.error() tells).
  template <class Stream>
  asio::awaitable<beast::error_code> read_upload(
      Stream& s, beast::flat_buffer& buffer, api::http::request_parser<api::http::buffer_body>& p,
      AttachmentUpload& staged) {
    namespace http = api::http;
    std::vector<char> piece(64 * 1024);
    while (!p.is_done()) {
      p.get().body().data = piece.data();
      p.get().body().size = piece.size();
      beast::get_lowest_layer(s).expires_after(ctx_.config.request_timeout);
      auto [ec, n] = co_await http::async_read(s, buffer, p, use_tuple);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) co_return ec;
      std::size_t got = piece.size() - p.get().body().size;
      if (!staged.write(std::string_view(piece.data(), got))) {
        if (staged.too_large()) co_return beast::error_code(http::error::body_limit);
        co_return beast::error_code{};  // staged.error(): answered 507
      }
    }
    co_return beast::error_code{};
  }

  template <class Stream>
  asio::awaitable<void> serve(Stream& s, Conn& conn) {
    namespace http = api::http;
    beast::flat_buffer buffer;
    for (;;) {
      conn.busy = false;
      if (ctx_.draining) co_return;
      http::request_parser<http::string_body> parser;
      std::unique_ptr<AttachmentUpload> staged;  // a streamed upload's temp file
      std::optional<http::request_header<>> streamed;
      parser.header_limit(static_cast<std::uint32_t>(ctx_.config.header_limit));
      // An upload (POST /v1/attachments) may be as large as attachments.maxBytes; every
      // other body is held to limits.bodyBytes once its header says which it is.
      const std::size_t upload_limit = ctx_.config.attachments.max_bytes;
      parser.body_limit(std::max<std::uint64_t>(ctx_.config.body_limit, upload_limit));
      beast::get_lowest_layer(s).expires_after(ctx_.config.request_timeout);
      auto [ec, n] = co_await http::async_read_header(s, buffer, parser, use_tuple);
      bool upload = false;
      if (!ec) {
        upload =
            parser.get().method() == http::verb::post &&
            parser.get().target().substr(0, parser.get().target().find('?')) == "/v1/attachments";
        std::uint64_t own = upload ? upload_limit : ctx_.config.body_limit;
        if (parser.content_length() && *parser.content_length() > own)
          ec = http::error::body_limit;
        else if (!parser.is_done())
          parser.body_limit(own);
      }
      conn.busy = true;
      // The shutdown closes idle connections on this strand. A read that had completed
      // when it did is not served: its client sees the connection close and the request
      // did nothing (served, its step would commit with no answer to tell the client).
      if (!beast::get_lowest_layer(s).socket().is_open()) co_return;
      // An upload whose header does not authenticate is answered (401) without reading its
      // body, and the connection is then closed: nobody writes to attachments/tmp/ who
      // may not upload.
      bool unread = false;
      if (!ec && !parser.is_done() && upload && !authenticates(parser.get())) {
        streamed = parser.get().base();
        unread = true;
      }
      if (!ec && !parser.is_done() && !unread) {
        auto expect = parser.get().find(http::field::expect);
        if (expect != parser.get().end() && beast::iequals(expect->value(), "100-continue")) {
          http::response<http::empty_body> cont{http::status::continue_, parser.get().version()};
          auto [wec, wn] = co_await http::async_write(s, cont, use_tuple);
          if (wec) co_return;
        }
        if (upload && ctx_.attachments) {
          // Streamed to attachments/tmp/ and hashed while read (docs/attachments.md).
          staged = ctx_.attachments->begin_upload();
          http::request_parser<http::buffer_body> streaming(std::move(parser));
          ec = co_await read_upload(s, buffer, streaming, *staged);
          if (!ec) streamed = streaming.release().base();
        } else {
          std::tie(ec, n) = co_await http::async_read(s, buffer, parser, use_tuple);
        }
      }
      if (staged && !staged->error().empty()) {  // a write failed (disk full): 507, close
        ctx_.log("error", "attachment not stored", {{"error", staged->error()}});
        bool ok = false;
        Reply answer = api::problem(507, "attachment-not-stored",
                                    "the file could not be written (see the server log)");
        count(kUnmatched, answer.status, 0);
        co_await write_reply(s, std::move(answer), 11, false, ok);
        co_return;
      }
      if (ec) {
        std::optional<Reply> answer;
        if (ec == http::error::body_limit && upload)
          answer = api::problem(
              413, "attachment-too-large",
              "the file is larger than the limit of " + std::to_string(upload_limit) +
                  " bytes (server.attachments.maxBytes)",
              {{"", "max-bytes", "expected at most " + std::to_string(upload_limit) + " bytes"}},
              {{"maxBytes", upload_limit}});
        else if (ec == http::error::body_limit)
          answer = api::problem(413, "body-too-large",
                                "the body is larger than the limit of " +
                                    std::to_string(ctx_.config.body_limit) + " bytes");
        else if (ec == http::error::header_limit)
          answer = api::problem(
              431, "headers-too-large",
              "the request headers exceed " + std::to_string(ctx_.config.header_limit) + " bytes");
        else if (ec.category() == http::make_error_code(http::error::end_of_stream).category() &&
                 ec != http::error::end_of_stream && ec != http::error::partial_message)
          answer =
              api::problem(400, "bad-http", "the request is not valid HTTP/1.1: " + ec.message());
        if (answer) {
          bool ok = false;
          count(kUnmatched, answer->status, 0);
          co_await write_reply(s, std::move(*answer), 11, false, ok);
        }
        co_return;
      }
      auto start = std::chrono::steady_clock::now();
      api::HttpRequest req = streamed ? api::HttpRequest(std::move(*streamed)) : parser.release();
      std::size_t route = kUnmatched;
      api::Principal who;
      bool known = false;
      Reply reply = co_await handle(req, route, who, known, streamed ? staged.get() : nullptr);
      staged.reset();  // its temp file, unless stored
      if (reply.status == 401 || reply.status == 403 || !reply.refusal.empty())
        audit(req, route, known ? &who : nullptr, reply);
      if (reply.content_type == "application/problem+json") add_instance(reply, req);
      bool keep = req.keep_alive() && !ctx_.draining && !unread;
      unsigned status = reply.status;
      bool ok = false;
      co_await write_reply(s, std::move(reply), req.version(), keep, ok);
      count(route, status,
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      if (!ok || !keep) co_return;
    }
  }

  // RFC 9457 "instance": the request target the problem is about.
  static void add_instance(Reply& reply, const api::HttpRequest& req) {
    auto body = json::parse(reply.body, nullptr, false);
    if (!body.is_object()) return;
    body["instance"] = std::string(req.method_string()) + " " + std::string(req.target());
    reply.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  }

  static constexpr std::size_t kUnmatched = static_cast<std::size_t>(-1);

  // A refusal: its reason is Reply::refusal, else the problem's type code.
  void audit(const api::HttpRequest& req, std::size_t route, const api::Principal* who,
             const Reply& reply) {
    std::string reason = reply.refusal;
    if (reason.empty()) {
      auto body = json::parse(reply.body, nullptr, false);
      std::string type = body.is_object() ? body.value("type", "") : "";
      reason = type.empty() ? "status-" + std::to_string(reply.status)
                            : type.substr(type.rfind('/') + 1);
    }
    ctx_.refused(who, std::string_view(req.method_string().data(), req.method_string().size()),
                 route < router_.routes().size() ? router_.routes()[route].pattern : "unmatched",
                 reply.status, reason);
  }

  void count(std::size_t route, unsigned status, double seconds) {
    ctx_.metrics.count(route, status, seconds);
    if (status >= 500 && status != 503)
      ctx_.log("error", "request failed",
               {{"route",
                 route < router_.routes().size() ? router_.routes()[route].pattern : "unmatched"},
                {"status", status}});
  }

  // Whether a request's Authorization header names a valid token (handle() decides the
  // rest: the answer, the audit, the rate limit).
  bool authenticates(const api::http::request_header<>& h) {
    auto header = h.find(api::http::field::authorization);
    std::string_view value = header == h.end()
                                 ? std::string_view()
                                 : std::string_view(header->value().data(), header->value().size());
    api::Principal probe;
    return auth_.authenticate(value, probe).ok;
  }

  // `who` and `known` are filled once the caller is authenticated.
  asio::awaitable<Reply> handle(api::HttpRequest& req, std::size_t& route_index,
                                api::Principal& who, bool& known,
                                AttachmentUpload* upload = nullptr) {
    std::string_view target(req.target().data(), req.target().size());
    std::size_t q = target.find('?');
    std::string_view raw_path = target.substr(0, q);
    api::Call call{req, std::string(raw_path), {}, {}, nullptr, upload};
    if (raw_path.empty() || raw_path[0] != '/')
      co_return api::problem(400, "bad-target",
                             "the request target must be a path starting with /");
    if (q != std::string_view::npos && !query_split(target.substr(q + 1), call.query))
      co_return api::problem(400, "bad-query", "the query string has a broken %-escape");
    auto m = router_.match(req.method(), raw_path);
    if (!m.route) {
      if (m.path_known) {
        Reply r = api::problem(405, "method-not-allowed",
                               std::string(req.method_string()) + " is not allowed on " +
                                   std::string(raw_path) + " (allowed: " + m.allow + ")");
        r.headers.emplace_back("Allow", m.allow);
        co_return r;
      }
      co_return api::problem(404, "no-such-route",
                             "no route " + std::string(raw_path) + " (see /v1/openapi.json)");
    }
    route_index = static_cast<std::size_t>(m.route - router_.routes().data());
    const std::string& route_name = m.route->pattern;
    if (m.bad_encoding)
      co_return api::problem(400, "bad-path", "a path segment has a broken %-escape");
    call.params = std::move(m.params);
    api::Access access = m.route->access;
    // /metrics: public only on a loopback listen address (and metricsPublic not false);
    // elsewhere any valid token.
    if (route_name == "/metrics" && !(loopback_ && ctx_.config.metrics_public))
      access = api::Access::token;
    if (access != api::Access::open) {
      auto header = req.find(api::http::field::authorization);
      std::string_view value =
          header == req.end() ? std::string_view()
                              : std::string_view(header->value().data(), header->value().size());
      auto outcome = auth_.authenticate(value, who);
      if (!outcome.ok) {
        Reply r = api::problem(401, "unauthenticated", outcome.detail,
                               {{"header:Authorization", outcome.reason, outcome.detail}});
        r.headers.emplace_back("WWW-Authenticate",
                               outcome.missing
                                   ? "Bearer realm=\"bihuan\""
                                   : "Bearer realm=\"bihuan\", error=\"invalid_token\"");
        r.refusal = outcome.reason;
        co_return r;
      }
      known = true;
      double retry_after = 0;
      if (!auth_.admit(who.token_name, retry_after)) {
        Reply r =
            api::problem(429, "rate-limited",
                         "token \"" + who.token_name +
                             "\" is over its request rate; retry after the Retry-After seconds");
        r.headers.emplace_back("Retry-After",
                               std::to_string(static_cast<long>(std::ceil(retry_after))));
        co_return r;
      }
      if (access == api::Access::admin && !who.actor.global_admin())
        co_return api::problem(403, "global-admin-required",
                               "this route needs a global administrator (role \"admin\" without "
                               "attrs.unit); actor \"" +
                                   who.actor.id + "\" is not one");
      if (access == api::Access::unit_admin && !who.actor.has_role("admin"))
        co_return api::problem(
            403, "admin-role-required",
            "this route needs the role \"admin\"; actor \"" + who.actor.id + "\" does not have it");
      call.who = &who;
    }
    try {
      co_return co_await m.route->handler(call);
    } catch (const std::exception& e) {
      ctx_.log("error", "handler failed", {{"route", route_name}, {"error", e.what()}});
    }
    co_return api::problem(500, "internal-error",
                           "the server failed to answer this request; it has been logged");
  }

  api::Context ctx_;
  api::Router router_;
  std::shared_ptr<api::Batches> batches_;
  api::Auth auth_;
  asio::io_context ioc_;
  asio::strand<asio::io_context::executor_type> acceptor_strand_;
  tcp::acceptor acceptor_;
  asio::thread_pool pool_;
  std::optional<ssl::context> ssl_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
  bool loopback_ = false;  // the listen address is 127.0.0.0/8 or ::1
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::shared_ptr<Conn>> conns_;
  bool shut_ = false, stopped_ = false;
  bool accepting_ = false;  // the accept loop runs
};

}  // namespace

std::unique_ptr<Server> Server::start(Engine& engine, ServerConfig config, ServerHooks hooks,
                                      Problems& problems) {
  auto tz = TimeZone::load(config.timezone, &problems);
  if (!tz) return nullptr;
  if (config.threads == 0) config.threads = 1;
  auto server =
      std::make_unique<ServerImpl>(engine, std::move(config), std::move(hooks), std::move(tz));
  if (!server->load_identity(problems) || !server->listen(problems)) return nullptr;
  server->run();
  return server;
}

}  // namespace bihuan
