// Calling a plugin object through the C ABI: builds the C structs from outbox messages,
// collects the reply, and checks what came back (status, JSON) before anyone trusts it.
#include "plugins/dll.hpp"

namespace bihuan {

namespace {

std::string text_field(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return {};
  return it->is_string() ? it->get<std::string>() : it->dump();
}

bihuan_text t(const std::string& s) { return {s.data(), s.size()}; }

PluginResult::Status status_of(std::int32_t s) {
  switch (s) {
    case BIHUAN_STATUS_OK:
      return PluginResult::Status::ok;
    case BIHUAN_STATUS_RETRY:
      return PluginResult::Status::retry;
    case BIHUAN_STATUS_MISSING:
      return PluginResult::Status::missing;
    default:
      return PluginResult::Status::fail;
  }
}

}  // namespace

PluginObject::Impl::~Impl() {
  if (object.destroy) {
    try {
      object.destroy(object.self);
    } catch (...) {
    }
  }
}

std::string PluginObject::Impl::where() const {
  return info.file + ": plugin " + info.name + " (\"" + (host ? host->name : std::string()) + "\")";
}

PluginObject::PluginObject(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)), name_(impl_->host->name) {}
PluginObject::~PluginObject() = default;

const PluginInfo& PluginObject::info() const { return impl_->info; }

namespace {

// Runs one C call and turns its reply into a PluginResult; nothing escapes. A status
// above `highest` is unknown (MISSING is for the file store calls only).
template <class Call>
PluginResult invoke(const PluginObject::Impl& impl, const std::string& what, Call&& call,
                    std::int32_t highest = BIHUAN_STATUS_FAIL) {
  plugins::Reply reply;
  try {
    call(&reply);
  } catch (const std::exception& e) {
    return PluginResult::failure(impl.where() + ": " + what +
                                 " threw an exception across the plugin boundary: " + e.what());
  } catch (...) {
    return PluginResult::failure(impl.where() + ": " + what +
                                 " threw an exception across the plugin boundary");
  }
  if (!reply.called)
    return PluginResult::failure(impl.where() + ": " + what + " returned without a result");
  if (reply.status < BIHUAN_STATUS_OK || reply.status > highest)
    return PluginResult::failure(impl.where() + ": " + what + " answered with unknown status " +
                                 std::to_string(reply.status));
  PluginResult out;
  out.status = status_of(reply.status);
  out.body = std::move(reply.body);
  if (!out.ok() && !out.missing() && out.body.empty())
    out.body = impl.where() + ": " + what + " failed without saying why";
  return out;
}

// Parses an ok body as JSON; a malformed one becomes a permanent failure naming the file.
void parse_body(const PluginObject::Impl& impl, const std::string& what, PluginResult& r,
                bool empty_is_null) {
  if (!r.ok()) return;
  if (empty_is_null && r.body.empty()) {
    r.value = nullptr;
    return;
  }
  Problems p;
  auto doc = load_json(r.body, p);
  if (!doc) {
    std::string detail = p.items().empty() ? std::string() : p.items()[0].to_string();
    r = PluginResult::failure(impl.where() + ": " + what + " returned malformed JSON (" + detail +
                              ")");
    return;
  }
  r.value = std::move(*doc);
}

}  // namespace

PluginResult PluginObject::notify(const OutboxMessage& m, std::uint32_t attempt) const {
  const Impl& impl = *impl_;
  if (!impl.object.notify)
    return PluginResult::failure(impl.where() + ": is a " + to_string(impl.info.kind) +
                                 ", not a notifier");
  const json& body = m.body;
  std::vector<std::string> to;
  if (auto it = body.find("to"); it != body.end() && it->is_array())
    for (const auto& x : *it) to.push_back(x.is_string() ? x.get<std::string>() : x.dump());
  std::string subject = text_field(body, "subject"), text = text_field(body, "text"),
              definition = text_field(body, "definition"), state = text_field(body, "state"),
              business_key = text_field(body, "businessKey");
  json whole = {{"key", m.idempotency_key},
                {"channel", m.channel},
                {"instance", m.instance_id},
                {"seq", m.seq},
                {"to", to},
                {"subject", subject},
                {"text", text},
                {"definition", definition},
                {"state", state},
                {"businessKey", business_key},
                {"attempt", attempt},
                {"created", m.created_at.time_since_epoch().count()}};
  std::string whole_text = whole.dump();
  std::vector<bihuan_text> to_texts;
  for (const auto& s : to) to_texts.push_back(t(s));
  bihuan_message msg{};
  msg.struct_size = sizeof(bihuan_message);
  msg.key = t(m.idempotency_key);
  msg.channel = t(m.channel);
  msg.instance_id = t(m.instance_id);
  msg.definition = t(definition);
  msg.state = t(state);
  msg.business_key = t(business_key);
  msg.subject = t(subject);
  msg.text = t(text);
  msg.to = to_texts.data();
  msg.to_count = to_texts.size();
  msg.attempt = attempt;
  msg.json = t(whole_text);
  return invoke(impl, "notify", [&](plugins::Reply* r) {
    impl.object.notify(impl.object.self, &msg, r, &plugins::reply_to);
  });
}

PluginResult PluginObject::run_task(const OutboxMessage& m, std::uint32_t attempt) const {
  const Impl& impl = *impl_;
  if (!impl.object.run_task)
    return PluginResult::failure(impl.where() + ": is a " + to_string(impl.info.kind) +
                                 ", not a task handler");
  const json& body = m.body;
  std::string definition = text_field(body, "definition"), state = text_field(body, "state");
  std::string input = body.contains("input") ? body["input"].dump() : "null";
  json whole = {{"key", m.idempotency_key},
                {"channel", m.channel},
                {"instance", m.instance_id},
                {"seq", m.seq},
                {"definition", definition},
                {"state", state},
                {"input", body.value("input", json())},
                {"attempt", attempt}};
  std::string whole_text = whole.dump();
  bihuan_task task{};
  task.struct_size = sizeof(bihuan_task);
  task.key = t(m.idempotency_key);
  task.channel = t(m.channel);
  task.instance_id = t(m.instance_id);
  task.definition = t(definition);
  task.state = t(state);
  task.input_json = t(input);
  task.attempt = attempt;
  task.json = t(whole_text);
  auto r = invoke(impl, "run_task", [&](plugins::Reply* rep) {
    impl.object.run_task(impl.object.self, &task, rep, &plugins::reply_to);
  });
  parse_body(impl, "run_task", r, true);
  return r;
}

PluginResult PluginObject::query(const std::string& query_name, const json& params) const {
  const Impl& impl = *impl_;
  if (!impl.object.query)
    return PluginResult::failure(impl.where() + ": is a " + to_string(impl.info.kind) +
                                 ", not a data source");
  std::string params_text = params.is_object() ? params.dump() : "{}";
  bihuan_query q{sizeof(bihuan_query), t(query_name), t(params_text)};
  std::string what = "query \"" + query_name + "\"";
  auto r = invoke(impl, what, [&](plugins::Reply* rep) {
    impl.object.query(impl.object.self, &q, rep, &plugins::reply_to);
  });
  parse_body(impl, what, r, false);
  if (r.ok() && !(r.value.is_array() && std::all_of(r.value.begin(), r.value.end(),
                                                    [](const json& x) { return x.is_object(); })))
    r = PluginResult::failure(impl.where() + ": query \"" + query_name +
                              "\" must return a JSON array of row objects, got " +
                              std::string(r.value.type_name()));
  return r;
}

namespace {

// The file store calls: refused on another kind; MISSING is a status of its own.
template <class Call>
PluginResult file_call(const PluginObject::Impl& impl, const std::string& what, Call&& call) {
  if (!impl.object.file_put || !impl.object.file_get || !impl.object.file_stat ||
      !impl.object.file_remove)
    return PluginResult::failure(impl.where() + ": is a " + to_string(impl.info.kind) +
                                 ", not a file store");
  auto r = invoke(impl, what, std::forward<Call>(call), BIHUAN_STATUS_MISSING);
  if (r.missing() && what.rfind("file_put", 0) == 0)
    r = PluginResult::failure(impl.where() + ": " + what +
                              " answered MISSING, which a put may not (the file is not stored)");
  return r;
}

}  // namespace

PluginResult PluginObject::file_put(const std::string& address, const std::string& path,
                                    std::uint64_t size, const std::string& content_type) const {
  const Impl& impl = *impl_;
  bihuan_file file{sizeof(bihuan_file), t(address), t(path), size, t(content_type)};
  return file_call(impl, "file_put " + address, [&](plugins::Reply* r) {
    impl.object.file_put(impl.object.self, &file, r, &plugins::reply_to);
  });
}

PluginResult PluginObject::file_get(const std::string& address) const {
  const Impl& impl = *impl_;
  return file_call(impl, "file_get " + address, [&](plugins::Reply* r) {
    impl.object.file_get(impl.object.self, t(address), r, &plugins::reply_to);
  });
}

PluginResult PluginObject::file_stat(const std::string& address) const {
  const Impl& impl = *impl_;
  auto r = file_call(impl, "file_stat " + address, [&](plugins::Reply* rep) {
    impl.object.file_stat(impl.object.self, t(address), rep, &plugins::reply_to);
  });
  bool digits =
      r.ok() && !r.body.empty() && r.body.size() <= 20 &&
      std::all_of(r.body.begin(), r.body.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (r.ok() && !digits)
    r = PluginResult::failure(impl.where() + ": file_stat " + address +
                              " must answer the size in decimal digits");
  return r;
}

PluginResult PluginObject::file_remove(const std::string& address) const {
  const Impl& impl = *impl_;
  return file_call(impl, "file_remove " + address, [&](plugins::Reply* r) {
    impl.object.file_remove(impl.object.self, t(address), r, &plugins::reply_to);
  });
}

}  // namespace bihuan
