// Reads: bihuan show, history, list and inbox. They never write (except that due timers
// fire while the engine is open, as they would in any process holding it).
#include <iostream>

#include "commands.hpp"
#include "engine_session.hpp"
#include "output.hpp"

namespace bihuan::cli {
namespace {

struct TargetOptions {
  SessionOptions session;
  std::string id, key, as_of;
  std::size_t limit = 0;  // history: page size (0 = every entry)
  std::string cursor;     // history: the page before this cursor
};

// The instance named by id or --key; prints "no instance ..." when there is none, or
// "record-damaged: ..." when its stored record is damaged.
std::optional<InstanceView> find_target(const TargetOptions& o, const Engine& engine) {
  std::string unavailable;
  auto v = o.key.empty() ? engine.get(o.id, &unavailable)
                         : engine.get_by_business_key(o.key, &unavailable);
  if (v) return v;
  if (!unavailable.empty()) {  // a failed read is not "no instance"
    fail(o.session, "storage-unavailable: " + unavailable);
    return v;
  }
  if (auto damage = o.key.empty() ? engine.damage(o.id) : engine.damage_by_business_key(o.key)) {
    fail(o.session, "record-damaged: " + *damage);
    return v;
  }
  fail(o.session,
       (o.key.empty() ? "no instance " + o.id : "no instance with business key " + o.key) + " in " +
           o.session.data_dir);
  return v;
}

void add_target(CLI::App* cmd, TargetOptions& o) {
  auto* id = cmd->add_option("id", o.id, "Instance id");
  auto* key = cmd->add_option("--key", o.key, "Business key (instead of the id)");
  id->excludes(key);
  add_session_options(cmd, o.session);
}

void require_target(const TargetOptions& o, const std::string& command) {
  if (o.id.empty() && o.key.empty())
    throw CLI::ValidationError(command, "give an instance id or --key KEY");
}

// ---- show

void run_show(const TargetOptions& o) {
  auto engine = open_engine(o.session, false);
  if (!engine) return;
  if (auto v = find_target(o, *engine)) {
    if (!o.as_of.empty()) {
      const TimeZone& tz = zone_of(*engine, *v);
      auto t = parse_time(o.as_of, &tz);
      if (!t) {
        fail(o.session, "--as-of: not an ISO 8601 time: " + o.as_of);
        return;
      }
      v = engine->as_of(v->id, *t);
      if (!v) {
        fail(o.session, "instance did not exist yet at " + o.as_of);
        return;
      }
    }
    if (o.session.json())
      print_json(v->to_json(zone_of(*engine, *v)));
    else
      print_instance(std::cout, *engine, *v);
  }
  engine->close();
}

// ---- history

void run_history(const TargetOptions& o) {
  auto engine = open_engine(o.session, false);
  if (!engine) return;
  if (auto v = find_target(o, *engine)) {
    const TimeZone& tz = zone_of(*engine, *v);
    HistoryPage page = engine->history_page({v->id, o.cursor, o.limit});
    if (page.unavailable) {
      fail(o.session, "storage-unavailable: " + page.error);
    } else if (!page.error.empty()) {
      fail(o.session, "--cursor: " + page.error);
    } else if (o.session.json()) {
      json j = {{"instance", v->id}, {"entries", json::array()}};
      for (const auto& e : page.items) j["entries"].push_back(e.to_json(tz));
      if (!page.next_cursor.empty()) j["nextCursor"] = page.next_cursor;
      print_json(j);
    } else {
      Table t({"SEQ", "TIME", "KIND", "EVENT", "ACTOR", "FROM → TO", "HASH"});
      for (const auto& e : page.items)
        t.add({std::to_string(e.seq), format_time(e.at, tz), e.kind,
               e.event.empty() ? "-" : e.event, e.actor.empty() ? "-" : e.actor,
               (e.from.empty() ? "∅" : e.from) + " → " + e.to, short_hash(e.hash)});
      t.print(std::cout);
      if (!page.next_cursor.empty())
        std::cout << "older entries with --cursor " << page.next_cursor << "\n";
    }
  }
  engine->close();
}

// ---- list

struct ListOptions {
  SessionOptions session;
  InstanceQuery query;
  std::string status;
  std::vector<std::string> where;
};

void run_list(ListOptions o) {
  InstanceQuery& q = o.query;
  if (!o.status.empty()) {
    q.status = o.status == "running"     ? InstanceStatus::running
               : o.status == "completed" ? InstanceStatus::completed
                                         : InstanceStatus::cancelled;
  }
  for (const auto& w : o.where) {
    auto eq = w.find('=');
    if (w.empty() || w[0] != '/' || eq == std::string::npos) {
      fail(o.session, "--where " + w + ": expected /json/pointer=JSONVALUE");
      return;
    }
    Problems problems("--where " + w.substr(0, eq));
    auto v = load_json(std::string_view(w).substr(eq + 1), problems);
    if (!v) {
      fail(o.session, "--where " + w + ": the value is not JSON (quote strings: " +
                          w.substr(0, eq + 1) + "'\"text\"')");
      return;
    }
    q.data_equals.emplace_back(w.substr(0, eq), std::move(*v));
  }
  auto engine = open_engine(o.session, false);
  if (!engine) return;
  InstancePage page = engine->query(q);
  if (!page.error.empty()) {
    fail(o.session, (page.unavailable ? "storage-unavailable: " : "--cursor: ") + page.error);
  } else if (o.session.json()) {
    json j = {{"items", json::array()}, {"nextCursor", page.next_cursor}};
    for (const auto& v : page.items) j["items"].push_back(v.to_json(zone_of(*engine, v)));
    print_json(j);
  } else {
    Table t({"ID", "DEFINITION", "KEY", "STATE", "STATUS", "VERSION", "UPDATED"});
    for (const auto& v : page.items)
      t.add({v.id, v.definition + " v" + std::to_string(v.definition_version),
             v.business_key.empty() ? "-" : v.business_key, v.state, to_string(v.status),
             std::to_string(v.version), format_time(v.updated_at, zone_of(*engine, v))});
    t.print(std::cout);
    std::cout << page.items.size() << (page.items.size() == 1 ? " instance" : " instances");
    if (!page.next_cursor.empty()) std::cout << "; more with --cursor " << page.next_cursor;
    std::cout << "\n";
  }
  engine->close();
}

// ---- inbox

struct InboxOptions {
  SessionOptions session;
  ActorOptions actor;
  std::size_t limit = 100;
  std::string cursor;
};

void run_inbox(const InboxOptions& o) {
  auto engine = open_engine(o.session, false);
  if (!engine) return;
  InboxPage page = engine->inbox_page({o.actor.actor(), o.limit, o.cursor});
  const auto& items = page.items;
  if (!page.error.empty()) {
    fail(o.session, (page.unavailable ? "storage-unavailable: " : "--cursor: ") + page.error);
  } else if (o.session.json()) {
    json j = {{"actor", o.actor.id}, {"items", json::array()}};
    if (!page.next_cursor.empty()) j["nextCursor"] = page.next_cursor;
    for (const auto& it : items) {
      const TimeZone& tz = zone_of(*engine, it.instance);
      json ij = {{"instance", it.instance.to_json(tz)}, {"events", it.events}};
      if (it.deadline) ij["deadline"] = format_time(*it.deadline, tz);
      j["items"].push_back(std::move(ij));
    }
    print_json(j);
  } else {
    Table t({"ID", "DEFINITION", "KEY", "STATE", "EVENTS", "DEADLINE"});
    for (const auto& it : items) {
      std::string events;
      for (const auto& e : it.events) events += (events.empty() ? "" : ",") + e;
      t.add({it.instance.id, it.instance.definition,
             it.instance.business_key.empty() ? "-" : it.instance.business_key, it.instance.state,
             events, it.deadline ? format_time(*it.deadline, zone_of(*engine, it.instance)) : "-"});
    }
    t.print(std::cout);
    std::cout << items.size() << (items.size() == 1 ? " task" : " tasks") << " for " << o.actor.id;
    if (!page.next_cursor.empty()) std::cout << "; more with --cursor " << page.next_cursor;
    std::cout << "\n";
  }
  engine->close();
}

}  // namespace

void add_read_commands(CLI::App& app) {
  {
    auto o = std::make_shared<TargetOptions>();
    auto* cmd = app.add_subcommand("show", "Show an instance (by id, or by --key)");
    add_target(cmd, *o);
    cmd->add_option("--as-of", o->as_of, "Rebuild the instance as it was at this ISO 8601 time");
    cmd->callback([o] {
      require_target(*o, "show");
      guarded(o->session, [&] { run_show(*o); });
    });
  }
  {
    auto o = std::make_shared<TargetOptions>();
    auto* cmd =
        app.add_subcommand("history", "An instance's history: one hash-chained entry per step");
    add_target(cmd, *o);
    cmd->add_option("--limit", o->limit, "Only the newest N entries (before --cursor); 0 = all")
        ->capture_default_str();
    cmd->add_option("--cursor", o->cursor,
                    "Cursor printed by the previous page: the entries before it");
    cmd->callback([o] {
      require_target(*o, "history");
      guarded(o->session, [&] { run_history(*o); });
    });
  }
  {
    auto o = std::make_shared<ListOptions>();
    auto* cmd = app.add_subcommand("list", "List instances, filtered, a page at a time");
    add_session_options(cmd, o->session);
    auto* def = cmd->add_option("--definition", o->query.definition, "Definition id");
    cmd->add_option("--state", o->query.state, "State name (needs --definition)")->needs(def);
    cmd->add_option("--key-prefix", o->query.business_key_prefix, "Business key prefix");
    cmd->add_option("--status", o->status, "Instance status")
        ->check(CLI::IsMember({"running", "completed", "cancelled"}));
    cmd->add_option("--where", o->where, "Data equality: /json/pointer=JSONVALUE (repeatable)")
        ->allow_extra_args(false);
    cmd->add_option("--limit", o->query.limit, "Page size (1..1000)")->capture_default_str();
    cmd->add_option("--cursor", o->query.cursor, "Cursor printed by the previous page");
    cmd->callback([o] { guarded(o->session, [&] { run_list(*o); }); });
  }
  {
    auto o = std::make_shared<InboxOptions>();
    auto* cmd = app.add_subcommand("inbox", "Instances waiting for an event this actor may send");
    add_session_options(cmd, o->session);
    add_actor_options(cmd, o->actor, true);
    cmd->add_option("--limit", o->limit, "Most items")->capture_default_str();
    cmd->add_option("--cursor", o->cursor, "Cursor printed by the previous page");
    cmd->callback([o] { guarded(o->session, [&] { run_inbox(*o); }); });
  }
}

}  // namespace bihuan::cli
