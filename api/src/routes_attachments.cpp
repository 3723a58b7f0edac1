// Evidence files (docs/attachments.md): POST /v1/attachments stores a file by content and
// answers its address; GET /v1/instances/{id}/attachments/{address} serves a file to
// whoever may see an instance whose history names it, and .../preview a small JPEG of an
// image. The orphan sweep runs hourly on the worker pool and ages files by the engine's
// clock.
#include <boost/asio/steady_timer.hpp>
#include <list>
#include <mutex>
#include <unordered_map>

#include "bihuan/attachment_check.hpp"
#include "bihuan/preview.hpp"

#include "context.hpp"

namespace bihuan::api {

namespace {

// Does `v` (a payload, a change list) hold the string `address` anywhere?
bool names(const json& v, const std::string& address) {
  if (v.is_string()) return v.get_ref<const std::string&>() == address;
  if (v.is_array() || v.is_object())
    for (const auto& e : v)
      if (names(e, address)) return true;
  return false;
}

std::string media_type_of(std::string header) {
  auto semi = header.find(';');
  if (semi != std::string::npos) header.resize(semi);
  while (!header.empty() && header.back() == ' ') header.pop_back();
  for (auto& c : header) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return header;
}

std::string extension_of(const std::string& type) {
  if (type == "image/jpeg") return ".jpg";
  if (type == "image/png") return ".png";
  if (type == "application/pdf") return ".pdf";
  return "";
}

json info_json(const AttachmentInfo& info) {
  return {{"address", info.address},
          {"size", info.size},
          {"contentType", info.content_type},
          {"preview", previewable(info.content_type)}};
}

// The previews made lately, by address (at most kPreviewCacheBytes of JPEG and failures).
class PreviewCache {
 public:
  static constexpr std::size_t kPreviewCacheBytes = 16u << 20;
  std::shared_ptr<const Preview> find(const std::string& address) {
    std::lock_guard lock(mu_);
    auto it = map_.find(address);
    if (it == map_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);  // now the newest
    return it->second->second;
  }
  void keep(const std::string& address, std::shared_ptr<const Preview> p) {
    std::lock_guard lock(mu_);
    if (map_.count(address)) return;
    bytes_ += p->jpeg.size() + address.size();
    order_.emplace_front(address, std::move(p));
    map_[address] = order_.begin();
    while (bytes_ > kPreviewCacheBytes && order_.size() > 1) {
      auto& last = order_.back();
      bytes_ -= last.second->jpeg.size() + last.first.size();
      map_.erase(last.first);
      order_.pop_back();
    }
  }

 private:
  using Entry = std::pair<std::string, std::shared_ptr<const Preview>>;
  std::mutex mu_;
  std::list<Entry> order_;  // newest first
  std::unordered_map<std::string, std::list<Entry>::iterator> map_;
  std::size_t bytes_ = 0;
};

Reply not_modified(const std::string& etag) {
  Reply r;
  r.status = 304;
  r.content_type.clear();
  r.headers = {{"ETag", etag}, {"Cache-Control", "private, no-cache"}};
  return r;
}

std::vector<std::pair<std::string, std::string>> file_headers(const std::string& etag) {
  return {{"ETag", etag},
          {"Cache-Control", "private, no-cache"},
          {"X-Content-Type-Options", "nosniff"},
          {"Content-Security-Policy", "sandbox; default-src 'none'"}};
}

Reply missing_file(const std::string& id, const std::string& address) {
  return problem(404, "attachment-missing",
                 "instance " + id + " names " + address +
                     " but the file is not stored (bihuan verify reports it)");
}

// The store holds the file but could not give it (a file-store plugin's failure, a read
// error): 503, never "not stored".
Reply store_failed(const Context& ctx, const std::string& address, const std::string& why) {
  ctx.log("error", "attachment not read", {{"address", address}, {"error", why}});
  Reply r = problem(503, "attachment-store-failed",
                    "the file " + address + " could not be read from the attachment store: " + why);
  r.headers.emplace_back("Retry-After", "5");
  return r;
}

Reply unavailable_store() {
  return problem(503, "attachments-unavailable",
                 "the attachment store could not be opened (see the server log)");
}

// The refusal for a file request (GET .../attachments/{address}[/preview]), or nullopt when
// the caller may see instance {id} and its history names {address}: knowing an address is
// not a right to its file. The history is read a page at a time, newest first; a history
// that cannot be read is a 503, never "not named" (a 404).
boost::asio::awaitable<std::optional<Reply>> refuse_unnamed(Context& ctx, Call& call) {
  if (!ctx.attachments) co_return unavailable_store();
  const std::string& id = call.params[0];
  const std::string& address = call.params[1];
  std::string unavailable;
  if (!ctx.visible_instance(id, call.who->actor, &unavailable)) {
    if (!unavailable.empty()) co_return storage_problem(unavailable);
    Reply r = problem(404, "not-found", "no instance " + id);
    co_return ctx.engine.get(id) ? refused_by_scope(std::move(r)) : r;
  }
  if (!AttachmentStore::parse_address(address))
    co_return problem(400, "bad-parameter", "not an attachment address: " + address,
                      {{"path:address", "format", "expected sha256:<64 lowercase hex>"}});
  struct Named {
    bool yes = false;
    std::string unavailable;
  };
  Named named = co_await on_pool(ctx, [&ctx, &id, &address] {
    Named out;
    HistoryQuery q{id, "", 1000};
    for (;;) {
      HistoryPage page = ctx.engine.history_page(q);
      if (!page.error.empty()) {
        out.unavailable = page.error;  // our own cursors: only the store can fail
        return out;
      }
      for (const auto& e : page.items)
        if (names(e.payload, address) || names(e.changes, address)) {
          out.yes = true;
          return out;
        }
      if (page.next_cursor.empty()) return out;
      q.cursor = page.next_cursor;
    }
  });
  if (!named.unavailable.empty()) co_return storage_problem(named.unavailable);
  if (!named.yes)
    co_return problem(404, "not-found", "instance " + id + " names no attachment " + address);
  co_return std::nullopt;
}

}  // namespace

void add_attachment_routes(Router& router, Context& ctx) {
  using boost::asio::awaitable;
  router.add(
      http::verb::post, "/v1/attachments", Access::token, [&ctx](Call& call) -> awaitable<Reply> {
        if (!ctx.attachments) co_return unavailable_store();
        const std::string& body = call.req.body();
        if (call.upload ? call.upload->size() == 0 : body.empty())
          co_return problem(422, "empty-attachment", "the body is empty: send the file's bytes",
                            {{"", "required", "expected the file's bytes"}});
        // The size was checked while reading (server.cpp), which streamed the body to a
        // temp file (call.upload); the type is what the bytes are.
        std::string declared = media_type_of(call.header(http::field::content_type));
        auto result = co_await on_pool(ctx, [&ctx, &call, &body] {
          return call.upload
                     ? ctx.attachments->put(*call.upload, call.who->actor.id,
                                            ctx.engine.clock().now())
                     : ctx.attachments->put(body, call.who->actor.id, ctx.engine.clock().now());
        });
        const auto& types = ctx.attachments->options().types;
        std::string accepted;
        for (const auto& t : types) accepted += (accepted.empty() ? "" : ", ") + t;
        switch (result.status) {
          case AttachmentStore::PutStatus::too_large:
            co_return problem(413, "attachment-too-large",
                              "the file is larger than the limit of " +
                                  std::to_string(ctx.attachments->options().max_bytes) + " bytes",
                              {}, {{"maxBytes", ctx.attachments->options().max_bytes}});
          case AttachmentStore::PutStatus::wrong_type:
            co_return problem(
                415, "attachment-type",
                "the file is " + result.detected +
                    ", which is not accepted (accepted: " + accepted + ")",
                {{"header:Content-Type", "media-type", "expected one of: " + accepted}},
                {{"detected", result.detected}, {"accepted", types}});
          case AttachmentStore::PutStatus::failed:
            ctx.log("error", "attachment not stored", {{"error", result.error}});
            co_return problem(507, "attachment-not-stored",
                              "the file could not be stored: " + result.error);
          case AttachmentStore::PutStatus::stored:
          case AttachmentStore::PutStatus::existed:
            break;
        }
        // A declared type (other than the generic ones) must be what the bytes are. The
        // file is stored by then (it is valid and accepted); the sweep removes it if no
        // step ever names it.
        if (!declared.empty() && declared != "application/octet-stream" &&
            declared != result.info.content_type)
          co_return problem(
              415, "attachment-type",
              "Content-Type says " + declared + " but the file is " + result.info.content_type,
              {{"header:Content-Type", "media-type",
                "expected " + result.info.content_type + " (or application/octet-stream)"}},
              {{"detected", result.info.content_type}, {"accepted", types}});
        bool created = result.status == AttachmentStore::PutStatus::stored;
        ctx.log("info", created ? "attachment stored" : "attachment already stored",
                {{"address", result.info.address},
                 {"size", result.info.size},
                 {"actor", call.who->actor.id}});
        co_return Reply::json_body(created ? 201 : 200, info_json(result.info));
      });

  router.add(http::verb::get, "/v1/instances/{id}/attachments/{address}", Access::token,
             [&ctx](Call& call) -> awaitable<Reply> {
               const std::string& address = call.params[1];
               if (auto refused = co_await refuse_unnamed(ctx, call)) co_return std::move(*refused);
               std::string etag = "\"" + address + "\"";
               if (call.header(http::field::if_none_match) == etag) co_return not_modified(etag);
               std::string bytes, failed;
               bool ok = co_await on_pool(ctx, [&ctx, &address, &bytes, &failed] {
                 return ctx.attachments->read(address, bytes, &failed);
               });
               if (!failed.empty()) co_return store_failed(ctx, address, failed);
               auto info = ok ? ctx.attachments->stat(address) : std::nullopt;
               if (!info) co_return missing_file(call.params[0], address);
               Reply r = Reply::text(200, info->content_type, std::move(bytes));
               std::string hex = address.substr(7);
               r.headers = file_headers(etag);
               r.headers.emplace_back("Content-Disposition",
                                      "inline; filename=\"" + hex.substr(0, 16) +
                                          extension_of(info->content_type) + "\"");
               co_return r;
             });

  // A small JPEG of an image file (docs/attachments.md, "Previews"): the same rights as
  // the file itself; made on the worker pool from the stored bytes, and kept in memory
  // (PreviewCache) since a timeline asks for the same few again and again.
  auto cache = std::make_shared<PreviewCache>();
  router.add(
      http::verb::get, "/v1/instances/{id}/attachments/{address}/preview", Access::token,
      [&ctx, cache](Call& call) -> awaitable<Reply> {
        const std::string& address = call.params[1];
        if (auto refused = co_await refuse_unnamed(ctx, call)) co_return std::move(*refused);
        std::string etag = "\"" + address + "-preview\"";
        if (call.header(http::field::if_none_match) == etag) co_return not_modified(etag);
        auto info = ctx.attachments->stat(address);
        if (!info) {  // not stored, or the store failed: read() tells which
          std::string failed;
          co_await on_pool(ctx, [&ctx, &address, &failed] {
            std::string bytes;
            return ctx.attachments->read(address, bytes, &failed);
          });
          if (!failed.empty()) co_return store_failed(ctx, address, failed);
          co_return missing_file(call.params[0], address);
        }
        if (!previewable(info->content_type))
          co_return problem(404, "no-preview",
                            info->content_type + " has no preview (only JPEG and PNG images have)");
        std::shared_ptr<const Preview> p = cache->find(address);
        if (!p) {
          std::string failed;
          p = co_await on_pool(
              ctx, [&ctx, &address, &info, &failed]() -> std::shared_ptr<const Preview> {
                std::string bytes;
                if (!ctx.attachments->read(address, bytes, &failed)) return nullptr;
                return std::make_shared<const Preview>(make_preview(bytes, info->content_type));
              });
          if (!failed.empty()) co_return store_failed(ctx, address, failed);
          if (!p) co_return missing_file(call.params[0], address);
          cache->keep(address, p);
        }
        if (!p->ok)
          co_return problem(
              422, "no-preview", "the image has no preview: " + p->error,
              {{"path:address", "image", "expected a JPEG or PNG image we can read"}});
        Reply r = Reply::text(200, "image/jpeg", p->jpeg);
        r.headers = file_headers(etag);
        co_return r;
      });
}

void start_orphan_sweep(Context& ctx) {
  if (!ctx.attachments) return;
  struct Sweep : std::enable_shared_from_this<Sweep> {
    Context& ctx;
    boost::asio::steady_timer timer;
    Sweep(Context& c) : ctx(c), timer(c.pool) {}
    void run() {
      try {
        // A candidate a stored instance still names stays (archived instances' files
        // are candidates again: docs/retention.md, "Attachments").
        std::size_t n = ctx.attachments->sweep_orphans(
            ctx.engine.clock().now(),
            [&engine = ctx.engine](const std::string& a) { return attachment_named(engine, a); });
        if (n) ctx.log("info", "orphan attachments removed", {{"count", n}});
      } catch (const std::exception& e) {
        ctx.log("error", "orphan sweep failed", {{"error", e.what()}});
      }
      timer.expires_after(std::chrono::hours(1));
      timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (!ec) self->run();
      });
    }
  };
  auto sweep = std::make_shared<Sweep>(ctx);
  boost::asio::post(ctx.pool, [sweep] { sweep->run(); });
}

}  // namespace bihuan::api
