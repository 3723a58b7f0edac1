// The C API's boundary (bihuan.h): handles, status and error objects, the ABI check, and
// the catch-all that keeps every C++ exception inside the library.
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <shared_mutex>

#include "bihuan/clock.hpp"
#include "bihuan/verify_report.hpp"
#include "capi_json.hpp"

using bihuan::json;
using bihuan::capi::CapiError;
using bihuan::capi::fail;

struct bihuan_engine {
  // Calls hold it shared; close() holds it alone, so it waits for calls in progress.
  std::shared_mutex mu;
  std::unique_ptr<bihuan::Engine> engine;  // null once closed
  std::shared_ptr<bihuan::VirtualClock> vclock;
  std::shared_ptr<const bihuan::TimeZone> tz;
};

namespace {

char* copy_out(const std::string& s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (!p) throw std::bad_alloc();
  std::memcpy(p, s.data(), s.size() + 1);
  return p;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void clear(char** result, char** error) {
  if (result) *result = nullptr;
  if (error) *error = nullptr;
}

// Runs `body`, turning whatever it throws into a status and an error object.
template <class Body>
int guarded(char** error, Body body) {
  json err;
  int status = BIHUAN_OK;
  try {
    return body();
  } catch (const CapiError& e) {
    status = e.status;
    err = e.body;
  } catch (const std::bad_alloc&) {
    status = BIHUAN_EINTERNAL;
    err = {{"status", status},
           {"code", "internal"},
           {"type", "out-of-memory"},
           {"message", "out of memory"},
           {"problems", json::array()}};
  } catch (const std::exception& e) {
    status = BIHUAN_EINTERNAL;
    err = {{"status", status},
           {"code", "internal"},
           {"type", "internal-error"},
           {"message", e.what()},
           {"problems", json::array()}};
  } catch (...) {
    status = BIHUAN_EINTERNAL;
    err = {{"status", status},
           {"code", "internal"},
           {"type", "internal-error"},
           {"message", "unknown exception"},
           {"problems", json::array()}};
  }
  if (error) {
    try {
      *error = copy_out(dump(err));
    } catch (...) {
      *error = nullptr;
    }
  }
  return status;
}

// A call on an open handle: `body(engine handle)` returns the result JSON.
template <class Body>
int with_engine(bihuan_engine* h, char** result, char** error, Body body) {
  clear(result, error);
  return guarded(error, [&] {
    if (!h) fail(BIHUAN_EINVAL, "invalid-request", "the engine handle is NULL");
    std::shared_lock lock(h->mu);
    if (!h->engine) fail(BIHUAN_ECLOSED, "closed", "the engine handle was closed");
    json out = body(*h);
    if (result) *result = copy_out(dump(out));
    return BIHUAN_OK;
  });
}

void not_found(const std::string& what) { fail(BIHUAN_ENOTFOUND, "not-found", what); }

json get_answer(const bihuan_engine& h, const std::optional<bihuan::InstanceView>& v,
                const std::string& unavailable, const std::string& what) {
  if (!v) {
    if (!unavailable.empty()) fail(BIHUAN_EIO, "storage-unavailable", unavailable);
    not_found("no instance " + what);
  }
  return v->to_json(*h.tz);
}

// Calls `done` with a step's outcome, on the engine thread that finished it.
std::function<void(bihuan::StepResult)> completion(bihuan_callback done, void* user,
                                                   std::shared_ptr<const bihuan::TimeZone> tz) {
  return [done, user, tz](bihuan::StepResult r) {
    int status = BIHUAN_OK;
    std::string text;
    try {
      text = dump(bihuan::capi::step_json(r, *tz));
    } catch (const CapiError& e) {
      status = e.status;
      text = dump(e.body);
    } catch (...) {
      status = BIHUAN_EINTERNAL;
      text =
          R"({"status":7,"code":"internal","type":"internal-error","message":"the result could not be written","problems":[]})";
    }
    done(user, status, text.c_str());
  };
}

template <class Submit>
int submit_async(bihuan_engine* h, const char* request_json, bihuan_callback done, void* user,
                 char** error, Submit submit) {
  return with_engine(h, nullptr, error, [&](bihuan_engine& e) {
    if (!done) fail(BIHUAN_EINVAL, "invalid-request", "the completion callback is NULL");
    submit(*e.engine, bihuan::capi::parse_text(request_json, "the request"),
           completion(done, user, e.tz));
    return json();
  });
}

bihuan::TimePoint at_ms(std::int64_t ms) { return bihuan::TimePoint(bihuan::Millis(ms)); }

}  // namespace

extern "C" {

unsigned bihuan_abi_version(void) { return BIHUAN_ABI_VERSION; }

const char* bihuan_status_name(int code) {
  static const char* const names[] = {"ok",     "invalid", "not-found", "refused",
                                      "closed", "io",      "abi",       "internal"};
  if (code < 0 || code >= static_cast<int>(sizeof names / sizeof names[0])) return "unknown";
  return names[code];
}

void bihuan_free(void* p) { std::free(p); }

int bihuan_open(const char* options_json, unsigned abi_version, bihuan_engine** out, char** error) {
  if (out) *out = nullptr;
  clear(nullptr, error);
  return guarded(error, [&] {
    if (!out) fail(BIHUAN_EINVAL, "invalid-request", "the handle's out-parameter is NULL");
    unsigned major = abi_version >> 16, minor = abi_version & 0xffffu;
    if (major != BIHUAN_ABI_MAJOR || minor > BIHUAN_ABI_MINOR)
      fail(BIHUAN_EABI, "abi-mismatch",
           "the program was built for ABI " + std::to_string(major) + "." + std::to_string(minor) +
               "; this libbihuan serves " + std::to_string(BIHUAN_ABI_MAJOR) + ".0 to " +
               std::to_string(BIHUAN_ABI_MAJOR) + "." + std::to_string(BIHUAN_ABI_MINOR));
    json body = bihuan::capi::parse_text(options_json, "the options");
    bihuan::capi::Members m(
        body, "the options",
        {"dataDir", "virtualClock", "durable", "timezone", "maxBatch", "initialMapBytes"});
    auto h = std::make_unique<bihuan_engine>();
    h->tz = bihuan::TimeZone::utc();
    if (auto name = m.text("timezone")) {
      bihuan::Problems problems("the options");
      h->tz = bihuan::TimeZone::load(*name, &problems);
      if (!h->tz)
        fail(BIHUAN_EINVAL, "invalid-request", "unknown time zone \"" + *name + "\"",
             json::array({bihuan::capi::problem_item("/timezone", "unknown-zone",
                                                     "expected an IANA zone name")}));
    }
    bihuan::EngineOptions options;
    options.data_dir = *m.text("dataDir", true);
    if (auto start = m.time("virtualClock", h->tz.get())) {
      h->vclock = std::make_shared<bihuan::VirtualClock>(*start);
      options.clock = h->vclock;
    } else {
      options.clock = std::make_shared<bihuan::SystemClock>();
    }
    options.durable = m.flag("durable").value_or(true);
    if (auto n = m.integer("maxBatch", 1, 100000)) options.max_batch = *n;
    if (auto n = m.integer("initialMapBytes", 64 << 10, std::int64_t{1} << 40))
      options.initial_map_bytes = *n;
    bihuan::Problems problems(options.data_dir);
    h->engine = bihuan::Engine::open(std::move(options), problems);
    if (!h->engine)
      fail(BIHUAN_EIO, "open-failed", "the engine could not open its data directory",
           bihuan::problems_json(problems));
    *out = h.release();
    return BIHUAN_OK;
  });
}

int bihuan_close(bihuan_engine* engine, char** error) {
  clear(nullptr, error);
  return guarded(error, [&] {
    if (!engine) fail(BIHUAN_EINVAL, "invalid-request", "the engine handle is NULL");
    std::unique_lock lock(engine->mu);
    if (engine->engine) {
      engine->engine->close();
      engine->engine.reset();
    }
    return BIHUAN_OK;
  });
}

void bihuan_release(bihuan_engine* engine) {
  if (!engine) return;
  bihuan_close(engine, nullptr);
  delete engine;
}

int bihuan_deploy(bihuan_engine* engine, const char* definition_json, const char* source_name,
                  char** result, char** error) {
  return with_engine(engine, result, error, [&](bihuan_engine& e) {
    std::string source = source_name ? source_name : "definition";
    json doc = bihuan::capi::parse_text(definition_json, source.c_str());
    bihuan::DeployResult r = e.engine->deploy(doc, source);
    json problems = bihuan::problems_json(r.problems);
    if (!r.ok)
      fail(BIHUAN_EREFUSED, "definition-invalid", "the definition " + source + " has errors",
           problems);
    return json{
        {"id", r.id}, {"version", r.version}, {"unchanged", r.unchanged}, {"warnings", problems}};
  });
}

int bihuan_start(bihuan_engine* engine, const char* request_json, char** result, char** error) {
  return with_engine(engine, result, error, [&](bihuan_engine& e) {
    auto req = bihuan::capi::start_request(bihuan::capi::parse_text(request_json, "the request"));
    return bihuan::capi::step_json(e.engine->start(req), *e.tz);
  });
}

int bihuan_send(bihuan_engine* engine, const char* request_json, char** result, char** error) {
  return with_engine(engine, result, error, [&](bihuan_engine& e) {
    auto req = bihuan::capi::event_request(bihuan::capi::parse_text(request_json, "the request"));
    return bihuan::capi::step_json(e.engine->send(req), *e.tz);
  });
}

int bihuan_cancel(bihuan_engine* engine, const char* request_json, char** result, char** error) {
  return with_engine(engine, result, error, [&](bihuan_engine& e) {
    json body = bihuan::capi::parse_text(request_json, "the request");
    bihuan::capi::Members m(body, "the cancel request", {"instance", "reason", "actor"});
    auto id = *m.text("instance", true);
    auto actor = m.actor("actor").value_or(bihuan::Actor::system());
    return bihuan::capi::step_json(e.engine->cancel(id, m.text("reason").value_or(""), actor),
                                   *e.tz);
  });
}

int bihuan_start_async(bihuan_engine* engine, const char* request_json, bihuan_callback done,
                       void* user, char** error) {
  return submit_async(engine, request_json, done, user, error,
                      [](bihuan::Engine& e, const json& body, auto cb) {
                        e.start_async(bihuan::capi::start_request(body), std::move(cb));
                      });
}

int bihuan_send_async(bihuan_engine* engine, const char* request_json, bihuan_callback done,
                      void* user, char** error) {
  return submit_async(engine, request_json, done, user, error,
                      [](bihuan::Engine& e, const json& body, auto cb) {
                        e.send_async(bihuan::capi::event_request(body), std::move(cb));
                      });
}

int bihuan_get(bihuan_engine* engine, const char* instance_id, char** result, char** error) {
  return with_engine(engine, result, error, [&](bihuan_engine& e) {
    if (!instance_id) fail(BIHUAN_EINVAL, "invalid-request", "the instance id is NULL");
    std::string unavailable;
    auto v = e.engine->get(instance_id, &unavailable);
    return get_answer(e, v, unavailable, instance_id);
  });
}

int bihuan_get_by_key(bihuan_engine* engine, const char* business_key, char** result,
                      char** error) {
  return with_engine(engine, result, error, [&](bihuan_engine& e) {
    if (!business_key) fail(BIHUAN_EINVAL, "invalid-request", "the business key is NULL");
    std::string unavailable;
    auto v = e.engine->get_by_business_key(business_key, &unavailable);
    return get_answer(e, v, unavailable, std::string("with business key ") + business_key);
  });
}

int bihuan_query(bihuan_engine* engine, const char* query_json, char** result, char** error) {
  return with_engine(engine, result, error, [&](bihuan_engine& e) {
    auto q = bihuan::capi::instance_query(bihuan::capi::parse_text(query_json, "the query"));
    return bihuan::capi::page_json(e.engine->query(q), *e.tz);
  });
}

int bihuan_history(bihuan_engine* engine, const char* query_json, char** result, char** error) {
  return with_engine(engine, result, error, [&](bihuan_engine& e) {
    auto q = bihuan::capi::history_query(bihuan::capi::parse_text(query_json, "the query"));
    std::string unavailable;
    if (!e.engine->get(q.instance_id, &unavailable)) {
      if (!unavailable.empty()) fail(BIHUAN_EIO, "storage-unavailable", unavailable);
      not_found("no instance " + q.instance_id);
    }
    return bihuan::capi::history_json(q, e.engine->history_page(q), *e.tz);
  });
}

int bihuan_inbox(bihuan_engine* engine, const char* query_json, char** result, char** error) {
  return with_engine(engine, result, error, [&](bihuan_engine& e) {
    auto q = bihuan::capi::inbox_query(bihuan::capi::parse_text(query_json, "the query"));
    return bihuan::capi::inbox_json(q.actor, e.engine->inbox_page(q), *e.tz);
  });
}

int bihuan_stats(bihuan_engine* engine, const char* query_json, char** result, char** error) {
  return with_engine(engine, result, error, [&](bihuan_engine& e) {
    auto q = bihuan::capi::stats_query(bihuan::capi::parse_text(query_json, "the query"), e.tz);
    return bihuan::capi::stats_json(q, e.engine->stats(q), *e.tz);
  });
}

int bihuan_verify(bihuan_engine* engine, char** result, char** error) {
  return with_engine(engine, result, error, [&](bihuan_engine& e) {
    return bihuan::verify_report_json(e.engine->verify());
  });
}

int bihuan_clock_now(bihuan_engine* engine, int64_t* now_ms, char** error) {
  return with_engine(engine, nullptr, error, [&](bihuan_engine& e) {
    if (!now_ms) fail(BIHUAN_EINVAL, "invalid-request", "now_ms is NULL");
    *now_ms = e.engine->clock().now().time_since_epoch().count();
    return json();
  });
}

int bihuan_clock_advance_to(bihuan_engine* engine, int64_t to_ms, uint64_t* fired, char** error) {
  if (fired) *fired = 0;
  return with_engine(engine, nullptr, error, [&](bihuan_engine& e) {
    if (!e.vclock)
      fail(BIHUAN_EINVAL, "not-virtual",
           "the engine runs on the system clock (open it with \"virtualClock\")");
    std::size_t n = e.engine->advance_to(at_ms(to_ms));
    if (fired) *fired = n;
    return json();
  });
}

int bihuan_clock_advance(bihuan_engine* engine, int64_t ms, uint64_t* fired, char** error) {
  if (fired) *fired = 0;
  return with_engine(engine, nullptr, error, [&](bihuan_engine& e) {
    if (!e.vclock)
      fail(BIHUAN_EINVAL, "not-virtual",
           "the engine runs on the system clock (open it with \"virtualClock\")");
    if (ms < 0)
      fail(BIHUAN_EINVAL, "invalid-request", "the virtual clock moves forward only",
           json::array({bihuan::capi::problem_item("", "range", "expected ms >= 0")}));
    std::size_t n = e.engine->advance_to(e.vclock->now() + bihuan::Millis(ms));
    if (fired) *fired = n;
    return json();
  });
}

}  // extern "C"
