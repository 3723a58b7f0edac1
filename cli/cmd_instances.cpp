// Steps on instances: bihuan start, send, cancel and migrate. Each is one durable engine step;
// a refusal prints the engine's code, message and details and exits 1.
#include <filesystem>
#include <iostream>

#include "bihuan/migration.hpp"
#include "commands.hpp"
#include "engine_session.hpp"
#include "output.hpp"

namespace bihuan::cli {
namespace {

std::string where(const SessionOptions& o) { return " in " + o.data_dir; }

// Prints a committed step's instance: JSON (InstanceView::to_json) or a text block.
void print_done(const SessionOptions& o, const Engine& engine, const StepResult& r,
                const std::string& headline) {
  const InstanceView& v = *r.instance;
  // A replay of a step the instance has moved on from: its data is not kept (null).
  std::optional<std::uint64_t> now;
  if (r.replayed && r.details.is_object() && r.details.contains("currentVersion"))
    now = r.details["currentVersion"].get<std::uint64_t>();
  if (o.json()) {
    json j = v.to_json(zone_of(engine, v));
    if (r.replayed) j["replayed"] = true;
    if (now) j["currentVersion"] = *now;
    print_json(j);
    return;
  }
  std::cout << headline << (r.replayed ? " (idempotent retry: the original result)" : "")
            << (now ? "; the instance is now at version " + std::to_string(*now) : "") << "\n";
  print_instance(std::cout, engine, v);
}

// Prints a refusal: code, message and details on stderr; the same as JSON on stdout.
void print_refusal(const SessionOptions& o, const Engine& engine, const StepResult& r,
                   const std::string& message) {
  fail(o, to_string(r.error) + ": " + message);
  bool has_details = !r.details.is_null() && !(r.details.is_object() && r.details.empty());
  if (has_details)
    std::cerr << "  details: " << r.details.dump(-1, ' ', false, json::error_handler_t::replace)
              << "\n";
  if (o.json()) {
    json j = {{"error", to_string(r.error)}, {"message", message}, {"details", r.details}};
    if (r.instance) j["instance"] = r.instance->to_json(zone_of(engine, *r.instance));
    print_json(j);
  }
}

// ---- start

struct StartOptions {
  SessionOptions session;
  ActorOptions actor;
  std::string definition, key, data = "{}", idempotency_key;
  std::int64_t version = 0;
  bool return_existing = false;
  CLI::Option* version_opt = nullptr;
};

void run_start(const StartOptions& o) {
  auto data = read_json_arg(o.session, "--data", o.data);
  if (!data) {
    std::error_code ec;
    if (std::filesystem::is_directory(o.data, ec))
      std::cerr << "  (start's --data is the instance data; give the data directory with "
                   "-D/--data-dir)\n";
    return;
  }
  auto engine = open_engine(o.session, false);
  if (!engine) return;
  StartRequest req;
  req.definition = o.definition;
  if (o.version_opt->count()) req.version = o.version;
  req.business_key = o.key;
  req.data = std::move(*data);
  req.idempotency_key = o.idempotency_key;
  req.return_existing = o.return_existing;
  req.actor = o.actor.actor();
  StepResult r = engine->start(req);
  if (r.ok() && r.instance) {
    print_done(o.session, *engine, r, "started");
  } else if (r.error == StepError::not_found) {
    std::string what = "no definition " + o.definition +
                       (req.version ? " version " + std::to_string(*req.version) : "") +
                       where(o.session);
    print_refusal(o.session, *engine, r, what);
  } else {
    print_refusal(o.session, *engine, r, r.message);
  }
  engine->close();
}

// ---- send

struct SendOptions {
  SessionOptions session;
  ActorOptions actor;
  std::vector<std::string> args;  // [INSTANCE_ID] EVENT
  std::string key, payload = "{}", idempotency_key;
  std::uint64_t expected_version = 0;
  CLI::Option* expected_opt = nullptr;
};

void run_send(const SendOptions& o) {
  auto payload = read_json_arg(o.session, "--payload", o.payload);
  if (!payload) return;
  auto engine = open_engine(o.session, false);
  if (!engine) return;
  EventRequest req;
  if (o.key.empty()) req.instance_id = o.args[0];
  req.business_key = o.key;
  req.event = o.args.back();
  req.payload = std::move(*payload);
  req.actor = o.actor.actor();
  req.idempotency_key = o.idempotency_key;
  if (o.expected_opt->count()) req.expected_version = o.expected_version;
  auto before = o.key.empty() ? engine->get(req.instance_id) : engine->get_by_business_key(o.key);
  StepResult r = engine->send(req);
  std::string target =
      o.key.empty() ? "instance " + req.instance_id : "instance with business key " + o.key;
  if (r.ok() && r.instance) {
    std::string from = before ? before->state : "?";
    print_done(o.session, *engine, r,
               r.instance->id + " " + req.event + ": " + from + " → " + r.instance->state);
  } else if (r.error == StepError::not_found && !before) {
    print_refusal(o.session, *engine, r, "no " + target + where(o.session));
  } else {
    print_refusal(o.session, *engine, r, r.message);
  }
  engine->close();
}

// ---- cancel

struct CancelOptions {
  SessionOptions session;
  ActorOptions actor;
  std::string id, reason;
};

void run_cancel(const CancelOptions& o) {
  auto engine = open_engine(o.session, false);
  if (!engine) return;
  auto before = engine->get(o.id);
  if (!before) {
    fail(o.session, "no instance " + o.id + where(o.session));
  } else {
    StepResult r = engine->cancel(o.id, o.reason, o.actor.actor());
    if (r.ok() && r.instance)
      print_done(o.session, *engine, r, "cancelled (was " + before->state + ")");
    else
      print_refusal(o.session, *engine, r, r.message);
  }
  engine->close();
}

// ---- migrate

struct MigrateOptions {
  SessionOptions session;
  ActorOptions actor;
  std::string id, reason;
  std::string definition, in_state;  // a plan over many instances (instead of id)
  std::int64_t from_version = 0;
  CLI::Option* from_opt = nullptr;
  std::int64_t to_version = 0;
  std::uint64_t expected_version = 0;
  std::vector<std::string> states, sets;
  bool dry_run = false;
  CLI::Option* to_opt = nullptr;
  CLI::Option* expected_opt = nullptr;
};

// "A=B" into (A, B); false if there is no '='.
bool split_pair(const std::string& text, std::string& left, std::string& right) {
  auto eq = text.find('=');
  if (eq == std::string::npos) return false;
  left = text.substr(0, eq);
  right = text.substr(eq + 1);
  return true;
}

// Every running instance of --definition (on --from-version, in --in-state), each alone:
// counts, then each refusal. Exits 1 if any was refused.
void run_plan(const MigrateOptions& o, Engine& engine, const MigrateRequest& step) {
  MigrationPlan plan;
  plan.definition = o.definition;
  plan.state = o.in_state;
  if (*o.from_opt) plan.from_version = o.from_version;
  plan.step = step;
  plan.limit = 0;  // all of them
  MigrationReport r = migrate_instances(engine, plan);
  if (!r.error.empty()) return fail(o.session, r.error);
  if (o.session.json()) {
    print_json(r.to_json(step.dry_run));
  } else {
    std::cout << (step.dry_run ? "dry run, nothing written: " : "") << r.examined
              << " running instance" << (r.examined == 1 ? "" : "s") << " of " << o.definition
              << ": " << r.migrated << (step.dry_run ? " would migrate, " : " migrated, ")
              << r.refused.size() << " refused, " << r.skipped
              << " skipped (other version or on the target already)\n";
    for (const auto& [code, n] : r.refused_by) std::cout << "  " << code << ": " << n << "\n";
    for (const auto& x : r.refused)
      std::cout << "  " << x.instance_id << " " << to_string(x.error) << ": " << x.message << "\n";
  }
  if (!r.refused.empty()) exit_code = 1;
}

void run_migrate(const MigrateOptions& o) {
  MigrateRequest req;
  req.instance_id = o.id;
  req.reason = o.reason;
  req.dry_run = o.dry_run;
  req.actor = o.actor.actor();
  if (*o.to_opt) req.to_version = o.to_version;
  if (*o.expected_opt) req.expected_version = o.expected_version;
  for (const auto& s : o.states) {
    std::string from, to;
    if (!split_pair(s, from, to))
      return fail(o.session, "--state " + s + ": expected OLD=NEW (state names)");
    req.states[from] = to;
  }
  for (const auto& s : o.sets) {
    std::string ptr, text;
    if (!split_pair(s, ptr, text))
      return fail(o.session, "--set " + s + ": expected /POINTER=JSON");
    auto value = read_json_arg(o.session, "--set " + ptr, text);
    if (!value) return;
    req.set.emplace_back(ptr, std::move(*value));
  }
  auto engine = open_engine(o.session, false);
  if (!engine) return;
  if (!o.definition.empty()) {
    run_plan(o, *engine, req);
    engine->close();
    return;
  }
  StepResult r = engine->migrate(req);
  if (!r.ok() || !r.instance) {
    print_refusal(o.session, *engine, r, r.message);
  } else if (o.session.json()) {
    json j = r.instance->to_json(zone_of(*engine, *r.instance));
    j["migration"] = r.details;
    print_json(j);
  } else {
    const json& d = r.details;
    std::cout << (o.dry_run ? "dry run, nothing written: " : "migrated: ") << r.instance->definition
              << " v" << d.value("fromVersion", 0) << " -> v" << d.value("toVersion", 0) << ", "
              << d.value("fromState", "") << " -> " << d.value("toState", "") << "\n";
    for (const auto& t : d["timers"])
      std::cout << "  timer " << t.value("state", "") << "/" << t.value("id", "") << " due "
                << t.value("due", "") << (t.value("kept", false) ? " (kept)" : " (new)") << "\n";
    for (const auto& t : d["deadlines"])
      std::cout << "  deadline of " << t.value("state", "") << " " << t.value("due", "")
                << (t.value("kept", false) ? " (kept)" : " (new)") << "\n";
    for (const auto& c : d["changes"])
      std::cout << "  set " << c[0].get<std::string>() << " = " << c[1].dump() << "\n";
    print_instance(std::cout, *engine, *r.instance);
  }
  engine->close();
}

}  // namespace

void add_instance_commands(CLI::App& app) {
  {
    auto o = std::make_shared<StartOptions>();
    auto* cmd = app.add_subcommand("start", "Start an instance of a deployed definition");
    cmd->add_option("definition", o->definition, "Definition id")->required();
    add_session_options(cmd, o->session, false);
    o->version_opt =
        cmd->add_option("--version", o->version, "Definition version (default: latest)");
    cmd->add_option("--key", o->key, "Business key");
    cmd->add_option("--data", o->data, "Instance data: JSON text or @file (default {})");
    cmd->add_option("--idempotency-key", o->idempotency_key,
                    "Retry key: a repeat returns the first result");
    cmd->add_flag("--return-existing", o->return_existing,
                  "If a running instance has this business key, return it instead of refusing");
    add_actor_options(cmd, o->actor, false);
    cmd->callback([o] { guarded(o->session, [&] { run_start(*o); }); });
  }
  {
    auto o = std::make_shared<SendOptions>();
    auto* cmd = app.add_subcommand("send", "Send an event to an instance (by id, or by --key)");
    cmd->add_option("args", o->args, "INSTANCE_ID EVENT, or EVENT with --key")->required();
    add_session_options(cmd, o->session);
    cmd->add_option("--key", o->key, "Business key of the instance (instead of its id)");
    cmd->add_option("--payload", o->payload, "Event payload: JSON text or @file (default {})");
    cmd->add_option("--idempotency-key", o->idempotency_key,
                    "Retry key: a repeat returns the first result");
    o->expected_opt = cmd->add_option("--expected-version", o->expected_version,
                                      "Refuse unless the instance is at this version");
    add_actor_options(cmd, o->actor, true);
    cmd->callback([o] {
      std::size_t want = o->key.empty() ? 2 : 1;
      if (o->args.size() != want)
        throw CLI::ValidationError("send", o->key.empty()
                                               ? "expected INSTANCE_ID EVENT (or --key KEY EVENT)"
                                               : "with --key, expected only EVENT");
      guarded(o->session, [&] { run_send(*o); });
    });
  }
  {
    auto o = std::make_shared<CancelOptions>();
    auto* cmd = app.add_subcommand("cancel", "Cancel a running instance");
    cmd->add_option("id", o->id, "Instance id")->required();
    cmd->add_option("--reason", o->reason, "Why (stored in the history)")->required();
    add_session_options(cmd, o->session);
    add_actor_options(cmd, o->actor, false);
    cmd->callback([o] { guarded(o->session, [&] { run_cancel(*o); }); });
  }
  {
    auto o = std::make_shared<MigrateOptions>();
    auto* cmd = app.add_subcommand("migrate",
                                   "Move running instances to another version of their definition");
    cmd->add_option("id", o->id, "Instance id (or --definition for all running instances of one)");
    cmd->add_option("--definition", o->definition,
                    "Migrate every running instance of this definition, each alone");
    o->from_opt = cmd->add_option("--from-version", o->from_version,
                                  "With --definition: only instances on this version");
    cmd->add_option("--in-state", o->in_state, "With --definition: only instances in this state");
    o->to_opt = cmd->add_option("--to-version", o->to_version,
                                "Target version (default: the newest deployed)");
    cmd->add_option(
        "--state", o->states,
        "OLD=NEW: the state OLD becomes NEW (repeatable; unmapped states keep their name)");
    cmd->add_option("--set", o->sets,
                    "/POINTER=JSON: set data (JSON value or expression; repeatable)");
    cmd->add_option("--reason", o->reason, "Why (stored in the history)");
    cmd->add_flag("--dry-run", o->dry_run,
                  "Check everything and show what would change; write nothing");
    o->expected_opt = cmd->add_option("--expected-version", o->expected_version,
                                      "Refuse unless the instance is at this version");
    add_session_options(cmd, o->session);
    add_actor_options(cmd, o->actor, false);
    cmd->callback([o] {
      if (o->id.empty() == o->definition.empty())
        throw CLI::ValidationError("migrate", "give an instance id or --definition (not both)");
      if (o->definition.empty() && (*o->from_opt || !o->in_state.empty()))
        throw CLI::ValidationError("migrate", "--from-version and --in-state go with --definition");
      if (!o->definition.empty() && *o->expected_opt)
        throw CLI::ValidationError(
            "migrate",
            "--expected-version goes with an instance id (a plan expects each "
            "instance's version as it reads it)");
      guarded(o->session, [&] { run_migrate(*o); });
    });
  }
}

}  // namespace bihuan::cli
