// The outbox and its delivery: bihuan outbox [--dead], dead-letters, retry SEQ..., and
// dispatch --config FILE [--once] (runs the plugin dispatcher against a data directory).
#include <csignal>
#include <iostream>
#include <thread>

#include "bihuan/config.hpp"
#include "bihuan/dispatcher.hpp"
#include "bihuan/plugin_host.hpp"
#include "commands.hpp"
#include "engine_session.hpp"
#include "output.hpp"

namespace bihuan::cli {
namespace {

struct OutboxOptions {
  SessionOptions session;
  bool dead_only = false;
  std::size_t limit = 100;
};

json message_json(const OutboxMessage& m) {
  const TimeZone& utc = *TimeZone::utc();
  json j = {{"seq", m.seq},
            {"kind", m.kind},
            {"channel", m.channel},
            {"instance", m.instance_id},
            {"key", m.idempotency_key},
            {"attempts", m.attempts},
            {"dead", m.dead},
            {"created", format_time(m.created_at, utc)},
            {"body", m.body}};
  if (m.next_attempt_at) j["nextAttempt"] = format_time(*m.next_attempt_at, utc);
  if (!m.last_error.empty()) j["lastError"] = m.last_error;
  return j;
}

void print_messages(const SessionOptions& o, const std::vector<OutboxMessage>& list) {
  if (o.json()) {
    json arr = json::array();
    for (const auto& m : list) arr.push_back(message_json(m));
    print_json(arr);
    return;
  }
  Table t({"SEQ", "KIND", "CHANNEL", "INSTANCE", "ATTEMPTS", "STATE", "LAST ERROR"});
  for (const auto& m : list) {
    std::string err = m.last_error.size() > 80 ? m.last_error.substr(0, 77) + "..." : m.last_error;
    t.add({std::to_string(m.seq), m.kind, m.channel, m.instance_id, std::to_string(m.attempts),
           m.dead ? "dead" : (m.attempts ? "retrying" : "pending"), err});
  }
  t.print(std::cout);
  std::cout << list.size() << (list.size() == 1 ? " message" : " messages") << "\n";
}

void run_outbox(const OutboxOptions& o) {
  auto engine = open_engine(o.session, false);
  if (!engine) return;
  auto list = o.dead_only ? engine->dead_letters(o.limit) : engine->outbox(o.limit, 0);
  engine->close();
  print_messages(o.session, list);
}

struct RetryOptions {
  SessionOptions session;
  std::vector<std::uint64_t> seqs;
  bool all = false;
};

void run_retry(const RetryOptions& o) {
  auto engine = open_engine(o.session, false);
  if (!engine) return;
  std::vector<std::uint64_t> seqs = o.seqs;
  if (o.all)
    for (const auto& m : engine->dead_letters(1u << 30)) seqs.push_back(m.seq);
  std::size_t done = 0;
  for (auto seq : seqs) {
    if (engine->retry_dead_letter(seq))
      ++done;
    else
      fail(o.session,
           "message " + std::to_string(seq) + " is not a dead letter (see bihuan dead-letters)");
  }
  engine->close();
  if (o.session.json())
    print_json({{"retried", done}});
  else
    std::cout << done << (done == 1 ? " dead letter" : " dead letters")
              << " will be delivered again\n";
}

struct DispatchOptions {
  SessionOptions session;
  std::string config;
  bool once = false;
  std::int64_t max_wait_ms = 60000;
};

std::atomic<bool> stop_requested{false};
extern "C" void on_signal(int) { stop_requested = true; }

void run_dispatch(const DispatchOptions& o, bool data_dir_given) {
  Problems problems;
  std::optional<EngineConfig> config;
  if (!o.config.empty()) {
    config = EngineConfig::load_file(o.config, problems);
  } else {
    config = EngineConfig::defaults(o.session.data_dir);
  }
  for (const auto& p : problems.items()) std::cerr << p.to_string() << "\n";
  if (!config) {
    fail(o.session, "the configuration " + o.config + " has errors");
    return;
  }
  SessionOptions session = o.session;
  if (!data_dir_given && !config->data_dir.empty()) session.data_dir = config->data_dir;
  if (session.calendars.empty()) session.calendars = config->calendar_dirs;
  auto engine = open_engine(session, false);
  if (!engine) return;
  auto services = std::make_shared<HostServices>(engine->options().clock);
  Problems plugin_problems(config->file);
  auto registry = PluginRegistry::load(*config, services, plugin_problems);
  for (const auto& p : plugin_problems.items()) std::cerr << p.to_string() << "\n";
  if (plugin_problems.has_errors()) exit_code = 1;  // the others still deliver
  services->attach(engine.get());
  DispatcherOptions dopts;
  dopts.poll_ms = config->poll_ms;
  Dispatcher dispatcher(*engine, Dispatcher::channels_of(registry, *config), dopts);
  if (!dispatcher.refusal().empty()) {  // a server (or another dispatcher) delivers this directory
    services->attach(nullptr);
    fail(o.session, dispatcher.refusal());
    return;
  }
  bool drained = true;
  if (o.once) {
    drained = dispatcher.drain(std::chrono::milliseconds(o.max_wait_ms));
  } else {
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    dispatcher.start();
    while (!stop_requested) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    dispatcher.stop();
  }
  dispatcher.stop();
  services->attach(nullptr);
  auto s = dispatcher.stats();
  std::size_t left = engine->outbox(1u << 30, 0).size(),
              dead = engine->dead_letters(1u << 30).size();
  engine->close();
  if (o.session.json()) {
    print_json({{"attempts", s.attempts},
                {"delivered", s.delivered},
                {"failed", s.failed},
                {"dead", s.dead},
                {"timedOut", s.timed_out},
                {"left", left},
                {"deadLetters", dead}});
  } else {
    std::cout << "delivered " << s.delivered << " of " << s.attempts << " attempts; " << s.failed
              << " failed (retry later), " << s.dead << " became dead letters; outbox: " << left
              << " left, " << dead << " dead\n";
  }
  if (o.once && !drained)
    fail(o.session,
         "messages are still waiting for a retry (run again later, or see bihuan outbox)");
}

}  // namespace

void add_outbox_commands(CLI::App& app) {
  {
    auto o = std::make_shared<OutboxOptions>();
    auto* cmd = app.add_subcommand("outbox",
                                   "List outbox messages waiting for delivery (and dead letters)");
    cmd->add_flag("--dead", o->dead_only, "Only dead letters");
    cmd->add_option("--limit", o->limit, "At most this many")->capture_default_str();
    add_session_options(cmd, o->session);
    cmd->callback([o] { guarded(o->session, [&] { run_outbox(*o); }); });
  }
  {
    auto o = std::make_shared<OutboxOptions>();
    o->dead_only = true;
    auto* cmd =
        app.add_subcommand("dead-letters", "List messages that failed every delivery attempt");
    cmd->add_option("--limit", o->limit, "At most this many")->capture_default_str();
    add_session_options(cmd, o->session);
    cmd->callback([o] { guarded(o->session, [&] { run_outbox(*o); }); });
  }
  {
    auto o = std::make_shared<RetryOptions>();
    auto* cmd = app.add_subcommand("retry", "Deliver dead letters again (attempts start over)");
    cmd->add_option("seq", o->seqs, "Outbox sequence numbers (see bihuan dead-letters)");
    cmd->add_flag("--all", o->all, "Every dead letter");
    add_session_options(cmd, o->session);
    cmd->callback([o] {
      if (o->seqs.empty() && !o->all) throw CLI::ValidationError("retry", "give SEQ... or --all");
      guarded(o->session, [&] { run_retry(*o); });
    });
  }
  {
    auto o = std::make_shared<DispatchOptions>();
    auto* cmd =
        app.add_subcommand("dispatch", "Deliver outbox messages through the configured plugins");
    cmd->add_option(
        "--config", o->config,
        "Engine configuration file (default: notify-log and log -> <data>/notifications.jsonl)");
    cmd->add_flag("--once", o->once,
                  "Deliver until the outbox is empty (or only dead letters are left), then exit");
    cmd->add_option("--max-wait-ms", o->max_wait_ms, "With --once: longest wait for retries")
        ->capture_default_str();
    add_session_options(cmd, o->session);
    cmd->callback([o, cmd] {
      bool given = cmd->count("--data-dir") > 0 || std::getenv("BIHUAN_DATA") != nullptr;
      guarded(o->session, [&] { run_dispatch(*o, given); });
    });
  }
}

}  // namespace bihuan::cli
