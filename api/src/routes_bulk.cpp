// Bulk work over a filtered set of instances (docs/http-api.md, "Export" and "Batches"):
//   GET  /v1/instances/export   the filtered set as CSV or JSON, streamed a page at a time
//   POST /v1/batches            a dry run (count and sample) or a batch: cancel, migrate, retry
//   GET  /v1/batches            the caller's batches;  GET /v1/batches/{id}  one's progress
//   POST /v1/batches/{id}/cancel
// A filter is the one GET /v1/instances takes (definition, state, status, businessKeyPrefix,
// unit, data equality), always read with the caller as viewer: nothing out of its scope is
// exported or touched. A batch runs on its own thread, a chunk at a time, each instance
// through the engine's normal step (never on an io thread); it lives in memory only: a
// restart forgets it, and running the same filter again selects what is left.
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "bihuan/query_match.hpp"
#include "context.hpp"

namespace bihuan::api {

using boost::asio::awaitable;

namespace {

// ---- filters ---------------------------------------------------------------------------

// Where a filter member came from, for the problem's pointer: "query:unit" or "/filter/unit".
struct FilterSource {
  bool query = true;
  std::string where(const std::string& name) const {
    return query ? "query:" + name : "/filter/" + name;
  }
};

Reply bad_filter(const FilterSource& src, const std::string& name, const std::string& detail,
                 const std::string& expected) {
  return problem(400, "bad-filter", detail, {{src.where(name), "filter", expected}});
}

// A unit path as a filter: segments joined by "/" (a trailing "/" is dropped).
std::optional<Reply> check_unit(const FilterSource& src, std::string& unit) {
  while (!unit.empty() && unit.back() == '/') unit.pop_back();
  bool ok = unit.size() <= 400 && (unit.empty() || unit.front() != '/') &&
            unit.find("//") == std::string::npos;
  for (unsigned char c : unit) ok = ok && c >= 0x20;
  if (!ok)
    return bad_filter(src, "unit", "unit must be a unit path such as golmud/T03",
                      "segments joined by \"/\", none empty, at most 400 bytes");
  return std::nullopt;
}

std::optional<Reply> check_status(const FilterSource& src, const std::string& s,
                                  std::optional<InstanceStatus>& status) {
  if (s == "running")
    status = InstanceStatus::running;
  else if (s == "completed")
    status = InstanceStatus::completed;
  else if (s == "cancelled")
    status = InstanceStatus::cancelled;
  else
    return bad_filter(src, "status", "status must be running, completed or cancelled",
                      "running|completed|cancelled, got \"" + s + "\"");
  return std::nullopt;
}

std::optional<Reply> check_pointer(const FilterSource& src, const std::string& name,
                                   const std::string& ptr) {
  try {
    json::json_pointer p(ptr);
    if (!ptr.empty()) return std::nullopt;
  } catch (const std::exception&) {
  }
  return bad_filter(src, name, "\"" + ptr + "\" is not a JSON Pointer into the data",
                    "a JSON Pointer such as /grade");
}

// What every filter needs, wherever it came from.
std::optional<Reply> check_query(const Context& ctx, const FilterSource& src, InstanceQuery& q) {
  if (!q.state.empty() && q.definition.empty())
    return bad_filter(src, "state", "state needs definition", "give definition with state");
  if (!q.definition.empty() && !ctx.engine.definition(q.definition))
    return bad_filter(src, "definition", "no definition " + q.definition,
                      "the id of a deployed definition");
  if (auto bad = check_unit(src, q.unit)) return bad;
  return std::nullopt;
}

// The filter of a GET: definition, state, status, businessKeyPrefix, unit, and
// filter=/pointer:JSON (repeatable; a value that is not JSON is a string).
std::optional<Reply> query_filter(const Context& ctx, const Call& call, InstanceQuery& q) {
  FilterSource src{true};
  if (const std::string* v = call.query_value("definition")) q.definition = *v;
  if (const std::string* v = call.query_value("state")) q.state = *v;
  if (const std::string* v = call.query_value("businessKeyPrefix")) q.business_key_prefix = *v;
  if (const std::string* v = call.query_value("unit")) q.unit = *v;
  if (const std::string* v = call.query_value("status"))
    if (auto bad = check_status(src, *v, q.status)) return bad;
  for (const auto& [k, v] : call.query) {
    if (k != "filter") continue;
    auto colon = v.find(':');
    if (v.empty() || v[0] != '/' || colon == std::string::npos)
      return bad_filter(src, "filter", "filter must be /json/pointer:value",
                        "\"/pointer:value\", got \"" + v + "\"");
    if (auto bad = check_pointer(src, "filter", v.substr(0, colon))) return bad;
    Problems ignored;
    auto value = load_json(std::string_view(v).substr(colon + 1), ignored);
    q.data_equals.emplace_back(v.substr(0, colon), value ? *value : json(v.substr(colon + 1)));
  }
  return check_query(ctx, src, q);
}

// The filter of a batch: {"definition", "state", "status", "businessKeyPrefix", "unit",
// "data": {"/pointer": value}}.
std::optional<Reply> body_filter(const Context& ctx, const json& f, InstanceQuery& q) {
  FilterSource src{false};
  if (!f.is_object())
    return problem(400, "bad-filter", "filter must be an object",
                   {{"/filter", "type", "an object such as {\"definition\": \"x\"}"}});
  for (auto it = f.begin(); it != f.end(); ++it) {
    const std::string& k = it.key();
    if (k == "data") {
      if (!it->is_object())
        return bad_filter(src, "data", "filter.data must be an object",
                          "{\"/pointer\": value, ...}");
      for (auto d = it->begin(); d != it->end(); ++d) {
        if (auto bad = check_pointer(src, "data/" + pointer_escape(d.key()), d.key())) return bad;
        q.data_equals.emplace_back(d.key(), d.value());
      }
      continue;
    }
    if (!it->is_string())
      return bad_filter(src, pointer_escape(k), "filter." + k + " must be a string", "a string");
    const std::string& v = it->get_ref<const std::string&>();
    if (k == "definition")
      q.definition = v;
    else if (k == "state")
      q.state = v;
    else if (k == "businessKeyPrefix")
      q.business_key_prefix = v;
    else if (k == "unit")
      q.unit = v;
    else if (k == "status") {
      if (auto bad = check_status(src, v, q.status)) return bad;
    } else
      return bad_filter(src, pointer_escape(k), "filter has no member \"" + k + "\"",
                        "definition, state, status, businessKeyPrefix, unit or data");
  }
  return check_query(ctx, src, q);
}

// Reads the filtered set a page at a time (the caller's scope), calling visit(view) for
// each; stops when visit answers false or `stop()` turns true. Returns "" or why the
// store failed.
std::string each_instance(
    const Engine& engine, InstanceQuery q, const std::function<bool(const InstanceView&)>& visit,
    const std::function<bool()>& stop = [] { return false; }) {
  q.limit = 500;
  for (;;) {
    InstancePage page = engine.query(q);
    if (!page.error.empty()) return page.error;
    for (const auto& v : page.items)
      if (!visit(v)) return "";
    if (page.next_cursor.empty() || stop()) return "";
    q.cursor = page.next_cursor;
  }
}

// ---- export ----------------------------------------------------------------------------

// RFC 4180 field: quoted when it holds a comma, quote, CR or LF. A string that a
// spreadsheet would take for a formula (= + - @ tab CR first) is prefixed with ' (OWASP).
std::string csv_field(std::string s, bool text) {
  if (text && !s.empty() && std::string_view("=+-@\t\r").find(s[0]) != std::string_view::npos)
    s.insert(0, 1, '\'');
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string csv_value(const json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return csv_field(v.get<std::string>(), true);
  return csv_field(v.dump(-1, ' ', false, json::error_handler_t::replace), false);
}

const char* const kFixedColumns[] = {"id",        "definition", "definitionVersion", "businessKey",
                                     "state",     "status",     "outcome",           "unit",
                                     "createdAt", "updatedAt"};

struct ExportState {
  InstanceQuery q;
  bool csv = true;
  std::vector<std::string> columns;  // data pointers ("" = none: one "data" column)
  bool header_sent = false, first_item = true, finished = false;
  std::uint64_t rows = 0;
};

// One page of the export as text; "" once finished.
std::string export_page(Context& ctx, ExportState& st) {
  std::string out;
  if (!st.header_sent) {
    st.header_sent = true;
    if (st.csv) {
      out = "\xEF\xBB\xBF";  // UTF-8 BOM: spreadsheets then read Chinese right
      for (const char* c : kFixedColumns) out += std::string(c) + ",";
      if (st.columns.empty()) out += "data,";
      for (const auto& c : st.columns) out += csv_field(c, true) + ",";
      out.back() = '\r';
      out += '\n';
    } else {
      out = "[";
    }
  }
  while (out.size() < 64 * 1024 && !st.finished) {
    st.q.limit = 500;
    InstancePage page = ctx.engine.query(st.q);
    if (!page.error.empty()) throw std::runtime_error("export stopped: " + page.error);
    for (const auto& v : page.items) {
      ++st.rows;
      json j = ctx.instance_json(v);
      if (!st.csv) {
        out += st.first_item ? "\n" : ",\n";
        st.first_item = false;
        out += j.dump(-1, ' ', false, json::error_handler_t::replace);
        continue;
      }
      for (const char* c : kFixedColumns) out += csv_value(j.value(c, json())) + ",";
      if (st.columns.empty())
        out += csv_field(v.data.dump(-1, ' ', false, json::error_handler_t::replace), false) + ",";
      for (const auto& c : st.columns) {
        json::json_pointer p(c);
        out += (v.data.contains(p) ? csv_value(v.data.at(p)) : std::string()) + ",";
      }
      out.back() = '\r';
      out += '\n';
    }
    st.q.cursor = page.next_cursor;
    if (page.next_cursor.empty()) {
      st.finished = true;
      if (!st.csv) out += "\n]\n";
    }
  }
  return out;
}

// One piece of the export (run on the pool): nullopt if the store failed (logged).
std::optional<std::string> read_piece(Context& ctx, ExportState& st) {
  try {
    return export_page(ctx, st);
  } catch (const std::exception& e) {
    ctx.log("error", "export stopped", {{"error", e.what()}, {"rows", st.rows}});
    return std::nullopt;
  }
}

// ---- batches ---------------------------------------------------------------------------

constexpr std::size_t kChunk = 200;         // instances per chunk (one CommitGroup)
constexpr std::size_t kMaxRunning = 4;      // batches running at once, server-wide
constexpr std::size_t kKeepFinished = 200;  // finished batches remembered
constexpr std::size_t kSample = 10;         // instances a dry run shows

std::string new_batch_id() {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard lock(mu);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

}  // namespace

class Batches {
 public:
  struct Batch {
    std::string id, action, reason;
    Actor actor;
    InstanceQuery q;
    MigrateRequest migrate;   // the options (toVersion, states, set) for each instance
    std::int64_t target = 0;  // migrate: the version moved to (those already there are left)
    json filter;              // as given, for the answers
    TimePoint created{};
    std::atomic<bool> cancel{false};
    std::thread thread;
    mutable std::mutex mu;           // guards what follows
    std::string state = "counting";  // counting | running | completed | cancelled | failed
    std::uint64_t total = 0, done = 0, succeeded = 0;
    std::map<std::string, std::uint64_t> failed;
    std::string error;
    std::optional<TimePoint> finished;
  };

  explicit Batches(Context& ctx) : ctx_(ctx) {}
  ~Batches() { stop(); }

  // Starts a batch on its own thread; nullptr when kMaxRunning already run.
  std::shared_ptr<Batch> launch(std::shared_ptr<Batch> b) {
    std::lock_guard lock(mu_);
    if (stopping_) return nullptr;
    std::size_t running = 0;
    for (const auto& x : order_)
      if (!x.finished_flag) ++running;
    if (running >= kMaxRunning) return nullptr;
    order_.push_back(Entry{b, false});
    b->thread = std::thread([this, b] {
      run(*b);
      std::lock_guard done(mu_);
      for (auto& e : order_)
        if (e.batch == b) e.finished_flag = true;
    });
    prune();
    return b;
  }

  std::shared_ptr<Batch> find(const std::string& id) {
    std::lock_guard lock(mu_);
    for (const auto& e : order_)
      if (e.batch->id == id) return e.batch;
    return nullptr;
  }

  std::vector<std::shared_ptr<Batch>> list() {
    std::lock_guard lock(mu_);
    std::vector<std::shared_ptr<Batch>> out;
    for (auto it = order_.rbegin(); it != order_.rend(); ++it) out.push_back(it->batch);
    return out;
  }

  void stop() {
    std::deque<Entry> all;
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      for (auto& e : order_) e.batch->cancel = true;
      all = order_;
    }
    for (auto& e : all)
      if (e.batch->thread.joinable() && e.batch->thread.get_id() != std::this_thread::get_id())
        e.batch->thread.join();
  }

 private:
  struct Entry {
    std::shared_ptr<Batch> batch;
    bool finished_flag = false;
  };

  // Forgets the oldest finished batches beyond kKeepFinished (under mu_).
  void prune() {
    std::size_t finished = 0;
    for (const auto& e : order_) finished += e.finished_flag;
    while (finished > kKeepFinished) {
      auto it = std::find_if(order_.begin(), order_.end(),
                             [](const Entry& e) { return e.finished_flag; });
      if (it == order_.end()) break;
      if (it->batch->thread.joinable()) it->batch->thread.detach();  // it has returned
      order_.erase(it);
      --finished;
    }
  }

  void run(Batch& b);
  void run_instances(Batch& b);
  void run_retry(Batch& b);

  Context& ctx_;
  std::mutex mu_;
  std::deque<Entry> order_;
  bool stopping_ = false;
};

namespace {

json batch_json(const Batches::Batch& b, const TimeZone& tz) {
  std::lock_guard lock(b.mu);
  json failed = json::object();
  for (const auto& [code, n] : b.failed) failed[code] = n;
  json j = {{"id", b.id},         {"action", b.action},
            {"filter", b.filter}, {"actor", b.actor.id},
            {"state", b.state},   {"total", b.total},
            {"done", b.done},     {"succeeded", b.succeeded},
            {"failed", failed},   {"createdAt", format_time(b.created, tz)}};
  // Counted at the start but gone from the filter when reached (changed meanwhile).
  if (b.finished) {
    j["finishedAt"] = format_time(*b.finished, tz);
    j["skipped"] = b.total > b.done ? b.total - b.done : 0;
  }
  if (!b.reason.empty()) j["reason"] = b.reason;
  if (!b.error.empty()) j["error"] = b.error;
  return j;
}

// Cancel and migrate act on running instances: the filter's status is running or absent.
std::optional<Reply> running_only(InstanceQuery& q, const std::string& action) {
  if (q.status && *q.status != InstanceStatus::running)
    return problem(400, "bad-filter", action + " applies to running instances only",
                   {{"/filter/status", "filter", "running, or no status"}});
  q.status = InstanceStatus::running;
  return std::nullopt;
}

// Whether the batch acts on this instance (the filter chose it, the caller sees it): the
// caller administers it, and a migration is not already at its target version.
bool acts_on(const Batches::Batch& b, const InstanceView& v) {
  return administers(b.actor, v) && (b.action != "migrate" || v.definition_version != b.target);
}

}  // namespace

void Batches::run(Batch& b) {
  ctx_.log("info", "batch started",
           {{"batch", b.id}, {"action", b.action}, {"actor", b.actor.id}, {"filter", b.filter}});
  try {
    if (b.action == "retry")
      run_retry(b);
    else
      run_instances(b);
  } catch (const std::exception& e) {
    std::lock_guard lock(b.mu);
    b.state = "failed";
    b.error = e.what();
  }
  {
    std::lock_guard lock(b.mu);
    if (b.state == "running" || b.state == "counting")
      b.state = b.cancel ? "cancelled" : "completed";
    b.finished = ctx_.engine.clock().now();
  }
  json done = batch_json(b, *ctx_.tz);
  ctx_.log("info", "batch finished",
           {{"batch", b.id},
            {"state", done["state"]},
            {"total", done["total"]},
            {"succeeded", done["succeeded"]},
            {"failed", done["failed"]}});
}

// Cancel or migrate: counts the set, then goes through it a chunk at a time: the chunk's
// steps are submitted together (one group commit for most) and awaited before the next
// chunk is read, so the set is never held whole and the next read sees their results.
void Batches::run_instances(Batch& b) {
  const Actor& who = b.actor;
  auto stop = [&] { return b.cancel.load(); };
  std::string err = each_instance(
      ctx_.engine, b.q,
      [&](const InstanceView& v) {
        if (acts_on(b, v)) {
          std::lock_guard lock(b.mu);
          ++b.total;
        }
        return !stop();
      },
      stop);
  if (!err.empty()) throw std::runtime_error(err);
  {
    std::lock_guard lock(b.mu);
    if (b.cancel) return;
    b.state = "running";
  }
  InstanceQuery q = b.q;
  q.limit = kChunk;
  for (;;) {
    InstancePage page = ctx_.engine.query(q);
    if (!page.error.empty()) throw std::runtime_error(page.error);
    std::mutex mu;
    std::condition_variable cv;
    std::size_t waiting = 0;
    auto record = [&b, &mu, &cv, &waiting](StepResult res) {
      {
        std::lock_guard lock(b.mu);
        ++b.done;
        if (res.ok())
          ++b.succeeded;
        else
          ++b.failed[to_string(res.error)];
      }
      std::lock_guard lock(mu);
      if (--waiting == 0) cv.notify_all();
    };
    {
      CommitGroup group(ctx_.engine);
      for (const auto& v : page.items) {
        if (!acts_on(b, v)) continue;  // not counted (a unit admin's reader-key instance)
        {
          std::lock_guard lock(mu);
          ++waiting;
        }
        if (b.action == "cancel") {
          ctx_.engine.cancel_async(v.id, b.reason, who, record);
        } else {
          MigrateRequest req = b.migrate;
          req.instance_id = v.id;
          req.expected_version = v.version;  // changed since read: refused (version-conflict)
          req.actor = who;
          ctx_.engine.migrate_async(std::move(req), record);
        }
      }
    }
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return waiting == 0; });
    lock.unlock();
    if (page.next_cursor.empty() || b.cancel) return;
    q.cursor = page.next_cursor;
  }
}

// Retry: the dead letters (docs/plugins.md) of the filtered instances, made deliverable
// again. Read from the dead letters (fewer than the instances), each checked against the
// filter and the caller's right on its instance.
void Batches::run_retry(Batch& b) {
  const Actor& who = b.actor;
  auto each = [&](const std::function<void(const OutboxMessage&)>& visit) {
    std::uint64_t after = 0;
    for (;;) {
      auto list = ctx_.engine.dead_letters(500, after);
      for (const auto& m : list) {
        if (b.cancel) return;
        after = m.seq;
        auto v = ctx_.engine.get(m.instance_id);
        if (!v || !visible(*v, who) || !query_matches(*v, b.q) || !administers(who, *v)) continue;
        visit(m);
      }
      if (list.size() < 500) return;
    }
  };
  each([&](const OutboxMessage&) {
    std::lock_guard lock(b.mu);
    ++b.total;
  });
  {
    std::lock_guard lock(b.mu);
    if (b.cancel) return;
    b.state = "running";
  }
  each([&](const OutboxMessage& m) {
    bool ok = ctx_.engine.retry_dead_letter(m.seq);
    std::lock_guard lock(b.mu);
    ++b.done;
    if (ok)
      ++b.succeeded;
    else
      ++b.failed["not-found"];
  });
}

void stop_batches(Batches& batches) { batches.stop(); }

std::shared_ptr<Batches> add_bulk_routes(Router& router, Context& ctx) {
  auto batches = std::make_shared<Batches>(ctx);

  router.add(
      http::verb::get, "/v1/instances/export", Access::token,
      [&ctx](Call& call) -> awaitable<Reply> {
        auto st = std::make_shared<ExportState>();
        if (auto bad = query_filter(ctx, call, st->q)) co_return *bad;
        std::string format = "csv";
        if (const std::string* v = call.query_value("format")) format = *v;
        if (format != "csv" && format != "json")
          co_return problem(400, "bad-parameter", "format must be csv or json",
                            {{"query:format", "enum", "csv|json, got \"" + format + "\""}});
        st->csv = format == "csv";
        if (const std::string* v = call.query_value("columns")) {
          std::size_t i = 0;
          while (i <= v->size()) {
            std::size_t comma = v->find(',', i);
            if (comma == std::string::npos) comma = v->size();
            std::string c = v->substr(i, comma - i);
            if (!c.empty()) {
              if (auto bad = check_pointer(FilterSource{true}, "columns", c)) co_return *bad;
              st->columns.push_back(c);
            }
            i = comma + 1;
          }
          if (st->columns.size() > 100)
            co_return problem(400, "bad-parameter", "at most 100 columns",
                              {{"query:columns", "range", "at most 100 data pointers"}});
        }
        st->q.viewer = call.who->actor;
        // The first page before the answer: a store that cannot be read is a problem (503),
        // not a truncated file.
        // The work passed to on_pool captures no shared_ptr: GCC 12 destroys a temporary
        // in a co_await expression twice (a shared_ptr's count would drop twice). `st`
        // keeps the state alive meanwhile.
        std::optional<std::string> first =
            co_await on_pool(ctx, [&ctx, raw = st.get()] { return read_piece(ctx, *raw); });
        if (!first) co_return storage_problem("the store could not be read (logged)");
        Reply r;
        r.status = 200;
        r.content_type = st->csv ? "text/csv; charset=utf-8" : "application/json";
        std::string stamp = format_time(ctx.engine.clock().now(), *ctx.tz).substr(0, 10);
        r.headers.emplace_back("Content-Disposition", "attachment; filename=\"instances-" + stamp +
                                                          (st->csv ? ".csv\"" : ".json\""));
        r.headers.emplace_back("Cache-Control", "no-store");
        // The server calls this on its pool for each piece after the first.
        r.chunks = [&ctx, st, pending = std::move(*first)]() mutable -> std::optional<std::string> {
          if (!pending.empty()) return std::exchange(pending, std::string());
          if (st->finished) return std::string();
          return read_piece(ctx, *st);
        };
        co_return r;
      });

  router.add(
      http::verb::post, "/v1/batches", Access::unit_admin,
      [&ctx, batches](Call& call) -> awaitable<Reply> {
        Reply error;
        auto body = object_body(call, error);
        if (!body) co_return error;
        if (auto bad = unknown_members(*body, {"action", "filter", "reason", "migrate", "dryRun"}))
          co_return *bad;
        if (auto bad = expect_type(*body, "action", json::value_t::string,
                                   "cancel, migrate or retry", true))
          co_return *bad;
        if (auto bad = expect_type(*body, "reason", json::value_t::string, "a string", false))
          co_return *bad;
        if (auto bad = expect_type(*body, "dryRun", json::value_t::boolean, "true or false", false))
          co_return *bad;
        auto b = std::make_shared<Batches::Batch>();
        b->action = (*body)["action"].get<std::string>();
        if (b->action != "cancel" && b->action != "migrate" && b->action != "retry")
          co_return problem(
              422, "bad-action", "action must be cancel, migrate or retry",
              {{"/action", "enum", "cancel|migrate|retry, got \"" + b->action + "\""}});
        b->filter = body->value("filter", json::object());
        if (auto bad = body_filter(ctx, b->filter, b->q)) co_return *bad;
        b->reason = body->value("reason", "");
        if (b->action == "cancel" || b->action == "migrate")
          if (auto bad = running_only(b->q, b->action)) co_return *bad;
        if (b->action == "migrate") {
          if (b->q.definition.empty())
            co_return problem(400, "bad-filter", "migrate needs the filter's definition",
                              {{"/filter/definition", "filter", "the definition to migrate"}});
          json m = body->value("migrate", json::object());
          if (!m.is_object())
            co_return problem(422, "wrong-type", "migrate must be an object",
                              {{"/migrate", "type", "{\"toVersion\", \"states\", \"set\"}"}});
          if (auto bad = unknown_members(m, {"toVersion", "states", "set"})) co_return *bad;
          if (auto bad = migrate_members(m, b->migrate)) co_return *bad;
          b->migrate.reason = b->reason;
          auto def = ctx.engine.definition(b->q.definition, b->migrate.to_version);
          if (!def)
            co_return problem(
                422, "unknown-version",
                "no version " + std::to_string(*b->migrate.to_version) + " of " + b->q.definition,
                {{"/migrate/toVersion", "unknown", "a deployed version"}});
          b->target = def->version;
        } else if (body->contains("migrate")) {
          co_return problem(422, "unknown-member", "migrate is only for action migrate",
                            {{"/migrate", "unknown", "leave it out for " + b->action}});
        }
        b->actor = call.who->actor;
        b->q.viewer = b->actor;
        if (body->value("dryRun", false)) {
          // Count and sample: what the batch would act on now (on the pool: a full read).
          auto out = co_await on_pool(ctx, [&ctx, b = b.get()]() -> json {  // no shared_ptr: above
            std::uint64_t count = 0, not_admin = 0;
            json sample = json::array();
            std::string err;
            if (b->action == "retry") {
              std::uint64_t after = 0;
              for (;;) {
                auto list = ctx.engine.dead_letters(500, after);
                for (const auto& m : list) {
                  after = m.seq;
                  auto v = ctx.engine.get(m.instance_id);
                  if (!v || !visible(*v, b->actor) || !query_matches(*v, b->q)) continue;
                  if (!administers(b->actor, *v)) {
                    ++not_admin;
                    continue;
                  }
                  if (++count <= kSample)
                    sample.push_back({{"seq", m.seq},
                                      {"instance", ctx.instance_json(*v)},
                                      {"channel", m.channel},
                                      {"lastError", m.last_error}});
                }
                if (list.size() < 500) break;
              }
            } else {
              err = each_instance(ctx.engine, b->q, [&](const InstanceView& v) {
                if (!administers(b->actor, v))
                  ++not_admin;
                else if (b->action == "migrate" && v.definition_version == b->target) {
                  // already there: left alone
                } else if (++count <= kSample)
                  sample.push_back(ctx.instance_json(v));
                return true;
              });
            }
            if (!err.empty()) return {{"error", err}};
            return {{"action", b->action},          {"dryRun", true},
                    {"filter", b->filter},          {"count", count},
                    {"notAdministered", not_admin}, {"sample", sample}};
          });
          if (out.contains("error")) co_return storage_problem(out["error"].get<std::string>());
          co_return Reply::json_body(200, out);
        }
        b->id = new_batch_id();
        b->created = ctx.engine.clock().now();
        if (!batches->launch(b)) {
          Reply r = problem(429, "too-many-batches",
                            "already " + std::to_string(kMaxRunning) +
                                " batches running; try again when one has finished");
          r.headers.emplace_back("Retry-After", "5");
          co_return r;
        }
        Reply r = Reply::json_body(202, batch_json(*b, *ctx.tz));
        r.headers.emplace_back("Location", "/v1/batches/" + b->id);
        co_return r;
      });

  // A batch is seen by the one who started it and by global administrators.
  auto mine = [](const Batches::Batch& b, const Actor& who) {
    return who.global_admin() || b.actor.id == who.id;
  };

  router.add(http::verb::get, "/v1/batches", Access::unit_admin,
             [&ctx, batches, mine](Call& call) -> awaitable<Reply> {
               json items = json::array();
               for (const auto& b : batches->list())
                 if (mine(*b, call.who->actor)) items.push_back(batch_json(*b, *ctx.tz));
               co_return Reply::json_body(200, {{"items", items}});
             });

  router.add(http::verb::get, "/v1/batches/{id}", Access::unit_admin,
             [&ctx, batches, mine](Call& call) -> awaitable<Reply> {
               auto b = batches->find(call.params[0]);
               if (!b || !mine(*b, call.who->actor))
                 co_return problem(404, "not-found", "no batch " + call.params[0]);
               co_return Reply::json_body(200, batch_json(*b, *ctx.tz));
             });

  router.add(http::verb::post, "/v1/batches/{id}/cancel", Access::unit_admin,
             [&ctx, batches, mine](Call& call) -> awaitable<Reply> {
               auto b = batches->find(call.params[0]);
               if (!b || !mine(*b, call.who->actor))
                 co_return problem(404, "not-found", "no batch " + call.params[0]);
               // Stops after the chunk in hand (its steps are already submitted).
               b->cancel = true;
               ctx.log("info", "batch cancel requested",
                       {{"batch", b->id}, {"actor", call.who->actor.id}});
               co_return Reply::json_body(202, batch_json(*b, *ctx.tz));
             });

  return batches;
}

}  // namespace bihuan::api
