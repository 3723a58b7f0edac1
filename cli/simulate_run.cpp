// The simulated year's driver: the event loop, the outbox delivery and the actors
// (simulate_run.hpp). Times are whole hours of Asia/Shanghai office days: actors act at
// 08:00-18:00, so all steps of one hour are sent together and share group commits.
#include "simulate_run.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <queue>
#include <sstream>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "bihuan/config.hpp"
#include "bihuan/engine.hpp"
#include "bihuan/engine_source.hpp"
#include "bihuan/plugin_host.hpp"
#include "definitions_io.hpp"

namespace bihuan::cli::sim {
namespace {

namespace fs = std::filesystem;
using demo::Rng;
constexpr std::int64_t kHour = 3600 * 1000;
constexpr std::int64_t kDay = 24 * kHour;
constexpr double kHazardChance = 0.01;  // daily checks that find a hazard
const char* kStart = "2022-11-15T09:00:00+08:00";
// The cadre levels and business grades a plan may name (as the scheduler's dataSchema).
const std::vector<std::string> kPlanLevels = {"prefecture", "city", "county", "township",
                                              "village"};
const std::vector<std::string> kPlanGrades = {"A", "B", "C", "D"};
const char* const kFrequencies[] = {"quarter", "month", "half-year", "year"};
const std::vector<std::string> kChecklist = {"staffing", "risk_list",    "self_management",
                                             "health",   "premises",     "disinfection",
                                             "storage",  "notice_board", "last_round_fixed"};

std::int64_t ms(TimePoint t) { return t.time_since_epoch().count(); }
TimePoint tp(std::int64_t v) { return TimePoint(Millis(v)); }
TimePoint iso(const std::string& s) { return *parse_time(s); }

// Asia/Shanghai (UTC+8, no daylight saving): the local midnight at or before a time in
// ms, its calendar fields, and its text in a strftime format (the date by default).
std::int64_t local_midnight(std::int64_t t) { return t - (t + 8 * kHour) % kDay; }
std::tm local_tm(std::int64_t t) {
  std::time_t secs = std::time_t((t + 8 * kHour) / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return tm;
}
std::string local_text(const std::tm& tm, const char* format = "%Y-%m-%d") {
  char text[32];
  std::strftime(text, sizeof text, format, &tm);
  return text;
}
std::string local_date(std::int64_t t) { return local_text(local_tm(t)); }

std::uint64_t mix(std::uint64_t seed, const std::string& key) {
  std::uint64_t h = 1469598103934665603ull ^ seed;
  for (unsigned char c : key) h = (h ^ c) * 1099511628211ull;
  return h ^ (seed * 0x9E3779B97F4A7C15ull);
}

// One step to send, and what to do on the main thread once it is committed.
struct Pending {
  bool is_start = false;
  StartRequest start;
  EventRequest event;
  std::function<void(const StepResult&)> then;
  StepResult result;
};

struct Action {
  std::int64_t at;
  std::uint64_t seq;
  std::function<void()> run;
  bool operator>(const Action& o) const { return at != o.at ? at > o.at : seq > o.seq; }
};

class Sim {
 public:
  Sim(const demo::City& city, const RunOptions& o, Engine& engine, VirtualClock& clock,
      PluginObject* source)
      : city_(city), o_(o), b_(o.behaviour), engine_(engine), clock_(clock), source_(source) {
    for (const auto& k : city_.cadres) cadres_[k.id] = &k;
    for (const auto& b : city_.businesses) businesses_[b.id] = &b;
    for (const auto& bd : city_.bindings) by_business_[bd.business_id].push_back(&bd);
    rounds_ = round_plan(o.end, o.plan);
    for (const auto& r : city_.regions) {
      paths_[r.id] = demo::region_path(city_, r.id);
      if (r.kind == "city") city_path_ = paths_[r.id];
    }
    end_ = ms(iso(o.end));
  }

  RunReport play();

 private:
  // Scheduling.
  void at(std::int64_t when, std::function<void()> fn) {
    queue_.push({when, ++seq_, std::move(fn)});
  }
  void send(const std::string& instance, const std::string& key, const std::string& event,
            const Actor& who, json payload, std::function<void(const StepResult&)> then = {}) {
    Pending p;
    p.event.instance_id = instance;
    p.event.business_key = instance.empty() ? key : "";
    p.event.event = event;
    p.event.actor = who;
    p.event.payload = std::move(payload);
    p.then = std::move(then);
    batch_.push_back(std::move(p));
  }
  void start(const std::string& def, const std::string& key, json data,
             std::function<void(const StepResult&)> then = {}, Actor who = Actor::system()) {
    Pending p;
    p.is_start = true;
    p.start.definition = def;
    p.start.business_key = key;
    p.start.data = std::move(data);
    p.start.actor = std::move(who);
    p.then = std::move(then);
    batch_.push_back(std::move(p));
  }
  void flush();
  void deliver();
  // The first office slot (09:00 or 15:00 Asia/Shanghai) at least `days` after `from`;
  // `from` itself when days <= 0 (the actor acts at once). Two slots a day keep the
  // number of distinct moments, and so of durable commits, small.
  std::int64_t later(std::int64_t from, double days) {
    if (days <= 0) return from;
    std::int64_t t = from + std::int64_t(days * kDay);
    std::int64_t midnight = local_midnight(t);
    for (std::int64_t slot :
         {midnight + 9 * kHour, midnight + 15 * kHour, midnight + kDay + 9 * kHour})
      if (slot >= t) return slot;
    return t;
  }
  // The last office slot at or before t.
  static std::int64_t floor_slot(std::int64_t t) {
    std::int64_t midnight = local_midnight(t), local = t - midnight;
    return local >= 15 * kHour  ? midnight + 15 * kHour
           : local >= 9 * kHour ? midnight + 9 * kHour
                                : midnight - 9 * kHour;
  }
  double lognormal(Rng& r, double median, double sigma) {
    double u1 = std::max(r.unit(), 1e-12), u2 = r.unit();
    double z = std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    return median * std::exp(sigma * z);
  }
  // 0 on time, 1 late, 2 never.
  static int timeliness(Rng& r, const Rates& rates) {
    double u = r.unit();
    return u < rates.on_time ? 0 : u < rates.on_time + rates.late ? 1 : 2;
  }

  // Actors, as the people they stand for (docs/authorization.md): a cadre, an office of a
  // region (attrs.unit), a regulator station's staff (attrs.station), a business's people.
  std::string path(const std::string& region) const {
    auto it = paths_.find(region);
    return it == paths_.end() ? "" : it->second;
  }
  Actor cadre_actor(const std::string& id) const {
    auto it = cadres_.find(id);
    json attrs = json::object();
    if (it != cadres_.end())
      attrs = {{"level", it->second->level}, {"region", it->second->region_id}};
    return {id, {"CADRE"}, attrs};
  }
  // "adm-T03" is the office of region T03; an office outside the city has no unit here.
  Actor office_actor(const std::string& id) const {
    std::string unit = id.rfind("adm-", 0) == 0 ? path(id.substr(4)) : "";
    return {id, {"ADMIN"}, unit.empty() ? json::object() : json{{"unit", unit}}};
  }
  static Actor station_actor(const std::string& id, const std::string& station, const char* role) {
    return {id, {role}, {{"station", station}}};
  }
  static Actor business_actor(const std::string& id, const std::string& business,
                              const char* role) {
    return {id, {role}, {{"business", business}}};
  }
  std::string business_path(const demo::Business& b) const {
    return path(b.village_id.empty() ? b.township_id : b.village_id);
  }

  void setup();
  void bulletin(const json& rounds);
  void letter(const demo::Cadre& k, const std::string& reason, std::int64_t now);
  void list(const demo::Unit& u);
  void churn(const demo::Cadre& next);
  void closure(const demo::Business& b);
  void status_change(const demo::Business& b, const std::string& kind, std::int64_t day);
  void risk_reviews();
  void propose_risk(const std::string& id, const std::string& key, const json& d, bool again);
  // The cadre bound to the business at `now` (else its first binding's), or nullptr.
  const demo::Cadre* serving(const demo::Business& b, std::int64_t now) const;
  void business_file(const demo::Business& b, std::int64_t now);
  void on_supervision(const InstanceView& v);
  void visit(const std::string& id, const json& d, Rng r, bool resubmit);
  void on_problem(const InstanceView& v);
  void on_hazard(const InstanceView& v);
  void evidence(const std::string& id, const json& d, std::shared_ptr<Rng> r, std::int64_t from);
  void daily(std::int64_t day);
  void weekly(std::int64_t day, const std::string& date);
  std::int64_t daily_start_ = -1;  // RunOptions::daily_from's day, when it is given
  void monthly(std::int64_t day, const std::string& month, const std::string& month_end);
  // Whether the business files this record, late, or misses it (the daily rates; the
  // sloppy businesses carry most misses): 0 on time, 1 late, 2 missed.
  int filing(const demo::Business& b, const std::string& key);

  const demo::City& city_;
  const RunOptions& o_;
  const Behaviour& b_;
  Engine& engine_;
  VirtualClock& clock_;
  PluginObject* source_;
  std::map<std::string, const demo::Cadre*> cadres_;
  std::map<std::string, const demo::Business*> businesses_;
  std::map<std::string, std::vector<const demo::Binding*>> by_business_;
  json rounds_;  // the scheduler's rounds (round_plan)
  // The periods whose rounds cover a binding: its cadre's level and its business's grade.
  std::vector<std::string> periods_of(const demo::Binding& bd) const {
    const std::string& level = cadres_.at(bd.cadre_id)->level;
    const std::string& grade = businesses_.at(bd.business_id)->grade;
    auto names = [](const json& r, const char* k, const std::string& v) {
      return !r.contains(k) || std::count(r[k].begin(), r[k].end(), json(v)) > 0;
    };
    std::vector<std::string> out;
    for (const auto& r : rounds_)
      if (names(r, "levels", level) && names(r, "grades", grade)) out.push_back(r["period"]);
    return out;
  }
  std::map<std::string, std::string> paths_;  // region id -> organisation path
  std::string city_path_;
  std::int64_t end_ = 0;
  std::priority_queue<Action, std::vector<Action>, std::greater<Action>> queue_;
  std::uint64_t seq_ = 0;
  std::vector<Pending> batch_;
  std::unordered_set<std::string> known_;
  std::unordered_map<std::string, std::string> sup_key_;  // supervision id -> business key
  std::unordered_map<std::string, int>
      missed_streak_;  // business -> consecutive days without a record
  std::uint64_t outbox_seen_ = 0;
  std::vector<std::uint64_t> acks_;
  std::vector<Pending> graveyard_;  // the last group's items, freed during the next one
  RunReport report_;
};

// Sends the batch asynchronously as one commit group (one group commit, up to the
// engine's max_batch), waits, then runs the continuations in submission order on this
// thread. The group opens and closes with a timer sweep up to now: timers due now fire
// before the batch's steps, and timers those steps arm for now (PT0S) fire after them,
// in the same commit.
void Sim::flush() {
  auto timers_due = [&] {
    auto due = engine_.next_timer_due();
    return due && *due <= clock_.now();
  };
  while (!batch_.empty() || timers_due() || acks_.size() >= 4096) {
    std::vector<Pending> items = std::move(batch_);
    batch_.clear();
    std::mutex mu;
    std::condition_variable cv;
    std::size_t left = items.size() + 2;
    auto one_done = [&] {
      std::lock_guard lock(mu);
      if (--left == 0) cv.notify_one();
    };
    {
      CommitGroup group(engine_);
      engine_.advance_to_async(clock_.now(), [&](std::size_t) { one_done(); });
      for (auto seq : std::exchange(acks_, {})) engine_.ack_outbox_async(seq, [](bool) {});
      for (auto& p : items) {
        auto done = [&, slot = &p](StepResult r) {
          slot->result = std::move(r);
          one_done();
        };
        if (p.is_start)
          engine_.start_async(p.start, done);
        else
          engine_.send_async(p.event, done);
      }
      engine_.advance_to_async(clock_.now(), [&](std::size_t) { one_done(); });
    }
    // The previous group's requests and results are freed while the engine works.
    graveyard_.clear();
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return left == 0; });
    }
    for (auto& p : items) {
      ++report_.actions;
      if (p.result.ok()) {
        const Actor& a = p.is_start ? p.start.actor : p.event.actor;
        ++report_.steps_by_role[a.roles.empty() ? std::string("-") : a.roles.front()];
      }
      if (!p.result.ok()) {
        std::string what = (p.is_start ? "start " + p.start.definition : p.event.event) + ": " +
                           to_string(p.result.error);
        // Moot, not refused: the task ended (or was never made) before the actor's step
        // landed, as when a person acts on a task another finished meanwhile.
        bool moot = !p.is_start && (p.result.error == StepError::instance_ended ||
                                    p.result.error == StepError::not_found);
        ++(moot ? report_.moot : report_.refused);
        ++(moot ? report_.moots : report_.refusals)[what];
      }
      if (p.then) p.then(p.result);
    }
    graveyard_ = std::move(items);
  }
}

// Delivers the outbox: answers data-source tasks with the real plugin, acknowledges
// notifications, and hands newly seen instances to their actors. Repeats while steps
// taken here leave more messages or timers due now.
void Sim::deliver() {
  while (true) {
    auto page = engine_.outbox(4096, outbox_seen_);
    if (page.empty()) {
      auto due = engine_.next_timer_due();
      if (due && *due <= clock_.now()) {
        flush();  // fires them
        continue;
      }
      break;
    }
    std::vector<std::string> fresh;
    for (const auto& m : page) {
      outbox_seen_ = m.seq;
      bool own = m.channel == kEngineSource;  // the engine's own instances
      if (m.kind == "task" && m.body.contains("query") && (source_ || own)) {
        ++report_.queries;
        json params = m.body.value("input", json::object());
        std::string query = m.body["query"].get<std::string>();
        PluginResult r = own ? query_engine(engine_, m.instance_id, query, params)
                             : source_->query(query, params);
        EventRequest req;
        req.instance_id = m.instance_id;
        req.event = m.body.value(r.ok() ? "onResult" : "onError", "");
        req.actor = Actor::system();
        req.idempotency_key = m.idempotency_key + (r.ok() ? ":result" : ":error");
        req.payload = r.ok() ? json{{"rows", std::move(r.value)}} : json{{"error", r.body}};
        engine_.send(req);
      } else if (m.kind == "notify") {
        ++report_.notifications;
        if (!known_.count(m.instance_id)) fresh.push_back(m.instance_id);
      }
      acks_.push_back(m.seq);  // acknowledged with the next batch (one group commit)
    }
    for (const auto& id : fresh) {
      if (!known_.insert(id).second) continue;
      auto v = engine_.get(id);
      if (!v || v->status != InstanceStatus::running) continue;
      if (v->definition == "food-safety.supervision")
        on_supervision(*v);
      else if (v->definition == "food-safety.problem")
        on_problem(*v);
      else if (v->definition == "food-safety.hazard")
        on_hazard(*v);
    }
    flush();
  }
}

RunReport Sim::play() {
  auto t0 = std::chrono::steady_clock::now();
  setup();
  flush();
  deliver();
  while (true) {
    std::int64_t next = queue_.empty() ? end_ : std::min(end_, queue_.top().at);
    if (auto due = engine_.next_timer_due(); due && ms(*due) < next) next = ms(*due);
    // Timers due at `next` fire in the same commit as the actors' steps of that moment
    // (the flush's opening sweep), before them.
    clock_.set(tp(next));
    while (!queue_.empty() && queue_.top().at <= next) {
      auto fn = queue_.top().run;
      queue_.pop();
      fn();
    }
    flush();
    deliver();
    ++report_.moments;
    if (next >= end_) break;
  }
  for (auto seq : std::exchange(acks_, {})) engine_.ack_outbox_async(seq, [](bool) {});
  report_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report_;
}

void Sim::setup() {
  std::int64_t now = ms(clock_.now());
  json plan = {{"rounds", round_plan(o_.plan_end.empty() ? o_.end : o_.plan_end, o_.plan)},
               {"next", 0},
               {"checklist", kChecklist},
               {"adminId", "adm-GM"},
               {"unitPath", city_path_}};
  start("food-safety.scheduler", "scheduler/all/2023", plan);
  bulletin(plan["rounds"]);
  for (const auto& u : city_.units) list(u);
  for (const auto& b : city_.businesses) business_file(b, now);
  for (const auto& k : city_.cadres) {
    if (k.replaces.empty())
      letter(k, "new_binding", now);
    else if (ms(iso(k.start_at)) < end_)
      at(ms(iso(k.start_at)) + 9 * kHour, [this, &k] { churn(k); });
  }
  for (const auto& b : city_.businesses)
    if (!b.closed_on.empty() && ms(iso(b.closed_on)) < end_)
      at(ms(iso(b.closed_on)) + 9 * kHour, [this, &b] { closure(b); });
  // Moves and 包保 grade changes during 2023 (README (i)): about 1.5% and 0.5% of the
  // businesses, on a day between February and November while the business is open.
  for (const auto& b : city_.businesses) {
    Rng r(mix(o_.seed, "change/" + b.id));
    double u = r.unit();
    const char* kind = u < 0.015 ? "move" : u < 0.02 ? "grade" : nullptr;
    std::int64_t day = ms(iso("2023-02-01T00:00:00+08:00")) + std::int64_t(r.below(303)) * kDay;
    if (!kind || (!b.closed_on.empty() && ms(iso(b.closed_on)) <= day)) continue;
    // Reported by the station within its 15 working days, or (one in ten) weeks late.
    std::int64_t report = later(day, r.chance(0.9) ? 1 + r.unit() * 9 : 22 + r.unit() * 8);
    if (report < end_) at(report, [this, &b, kind, day] { status_change(b, kind, day); });
  }
  // The year's risk-grade reviews open on its first working day (2023-01-03).
  if (std::int64_t open = ms(iso("2023-01-03T09:00:00+08:00")); open < end_)
    at(open, [this] { risk_reviews(); });
  if (o_.daily) {
    std::int64_t day = ms(iso("2023-01-01T00:00:00+08:00"));
    if (!o_.daily_from.empty())  // a late start opens its week's and month's records too
      daily_start_ = day = std::max(day, ms(iso(o_.daily_from)));
    for (; day < std::min(end_, ms(iso("2024-01-01T00:00:00+08:00"))); day += kDay)
      at(day, [this, day] { daily(day); });
  }
}

// A hazard from a daily check (workflows/food-safety/hazard.json): the officer fixes it the
// next morning unless it was fixed on the spot, and the principal verifies it the morning
// after that (never the one who fixed it, never on the same day).
void Sim::on_hazard(const InstanceView& v) {
  const json& d = v.data;
  std::string id = v.id, bid = d.value("businessId", "");
  std::string officer = d.value("officerId", ""), principal = d.value("principalId", "");
  if (principal.empty()) return;  // nobody may verify: it stays open, as it would
  std::int64_t morning = local_midnight(ms(clock_.now())) + kDay + 10 * kHour;
  auto verify = [=, this](std::int64_t when) {
    at(when, [=, this] {
      send(id, "", "verify", business_actor(principal, bid, "PRINCIPAL"), {{"note", "复查已整改"}});
    });
  };
  if (v.state == "OPEN") {
    at(morning, [=, this] {
      send(id, "", "mitigate", business_actor(officer, bid, "OFFICER"),
           {{"note", "已更换温控器，温度恢复正常"}}, [=, this](const StepResult& r) {
             if (r.ok()) verify(morning + kDay);
           });
    });
  } else if (v.state == "MITIGATED") {
    verify(morning);
  }
}

// The office's bulletin (workflows/food-safety/bulletin.json): counted by the engine a
// week after each round's end (09:00), and a digest every Monday from the first one.
void Sim::bulletin(const json& rounds) {
  auto local = [](std::int64_t t) { return local_text(local_tm(t), "%Y-%m-%dT%H:%M:%S+08:00"); };
  json periods = json::array();
  std::set<std::string> seen;
  for (const auto& r : rounds)
    if (seen.insert(r["period"].get<std::string>()).second)
      periods.push_back(
          {{"period", r["period"]},
           {"issueAt", local(ms(iso(r["end"].get<std::string>())) + 1000 + 6 * kDay + 9 * kHour)}});
  std::set<std::string> offices;
  for (const auto& k : city_.cadres)
    if (!k.admin_id.empty() && k.admin_id != "adm-GM") offices.insert(k.admin_id);
  start("food-safety.bulletin", "bulletin/" + city_path_ + "/2023",
        {{"unitPath", city_path_},
         {"adminId", "adm-GM"},
         {"recipients", json(offices)},
         {"periods", periods},
         {"next", 0},
         {"digestFrom", "2023-01-02T09:00:00+08:00"}});
}

// A commitment letter for the cadre's bindings active now: sign, upload, file.
void Sim::letter(const demo::Cadre& k, const std::string& reason, std::int64_t now) {
  json ids = json::array();
  for (const auto& bd : city_.bindings)
    if (bd.cadre_id == k.id && ms(iso(bd.start_at)) <= now &&
        (bd.end_at.empty() || ms(iso(bd.end_at)) > now))
      ids.push_back(bd.business_id);
  json data = {{"cadreId", k.id},
               {"cadreName", k.name},
               {"level", k.level},
               {"reason", reason},
               {"businessIds", ids},
               {"signatoryId", k.signatory_id},
               {"signatoryLevel", k.level},
               {"adminId", k.admin_id},
               {"upperAdminId", k.upper_admin_id},
               {"responsibilityListVer", 1},
               {"taskListVer", 1},
               {"townshipId", k.township_id.empty() ? "GM" : k.township_id},
               {"villageId", k.village_id},
               {"unitPath", path(k.region_id)}};
  std::string key = "letter/" + k.id + "/2023";
  start("food-safety.commitment-letter", key, data, [this, key, &k, now](const StepResult& r) {
    if (!r.ok() || !r.instance) return;
    std::string id = r.instance->id;
    auto rng = std::make_shared<Rng>(mix(o_.seed, key));
    int when = timeliness(*rng, b_.signing);
    if (when == 2) return;
    double quick = b_.prompt_days;
    std::int64_t sign_at =
        when == 0 ? later(now, rng->unit() * quick) : later(now, 16 + rng->unit() * 25);
    Actor cadre = cadre_actor(k.id), office = office_actor(k.admin_id);
    at(sign_at, [=, this] {
      json sig = {{"cadreSignature", k.name},
                  {"signatorySignature", k.signatory_id},
                  {"signedOn", local_date(sign_at)}};
      send(id, "", "sign", cadre, sig, [=, this](const StepResult& s) {
        if (!s.ok()) return;
        std::int64_t up = later(sign_at, rng->unit() * std::min(quick, 2.0));
        json file = {{"fileHash", std::string(64, 'a')}, {"fileName", "letter-" + k.id + ".pdf"}};
        at(up, [=, this] {
          send(id, "", "upload", cadre, file, [=, this](const StepResult& u) {
            if (!u.ok()) return;
            std::int64_t review = later(up, rng->unit() * std::min(quick, 4.0));
            bool ret = rng->chance(b_.letter_return);
            at(review, [=, this] {
              if (!ret) return send(id, "", "approve", office, json::object());
              send(id, "", "return", office, {{"reason", "扫描件不清晰"}},
                   [=, this](const StepResult& x) {
                     if (!x.ok()) return;
                     std::int64_t again = later(review, 1 + rng->unit() * 3);
                     at(again, [=, this] {
                       send(id, "", "upload", cadre, file, [=, this](const StepResult& y) {
                         if (y.ok())
                           at(later(again, 1 + rng->unit() * 2),
                              [=, this] { send(id, "", "approve", office, json::object()); });
                       });
                     });
                   });
            });
          });
        });
      });
    });
  });
}

// A responsibility list due at the end of 2022: submitted by the unit's clerk, accepted
// by the upper level.
void Sim::list(const demo::Unit& u) {
  std::string township = u.kind == "township" ? u.id : "";
  for (const auto& r : city_.regions)
    if (r.id == u.id && r.kind == "village") township = r.parent_id;
  json data = {{"unitId", u.id},
               {"unitName", u.name},
               {"year", 2023},
               {"level", u.kind},
               {"submitterId", u.clerk_id},
               {"reviewerId", u.reviewer_id},
               {"upperAdminId", u.upper_admin_id},
               {"dueAt", "2022-12-31T23:59:59+08:00"},
               {"townshipId", township},
               {"villageId", u.kind == "village" ? u.id : ""},
               {"unitPath", path(u.id)}};
  std::string key = "list/" + u.id + "/2023";
  std::int64_t now = ms(clock_.now());
  start("food-safety.responsibility-list", key, data, [=, this](const StepResult& r) {
    if (!r.ok() || !r.instance) return;
    std::string id = r.instance->id;
    auto rng = std::make_shared<Rng>(mix(o_.seed, key));
    int when = timeliness(*rng, b_.listing);
    if (when == 2) return;
    std::int64_t sub = when == 0 ? later(now, rng->unit() * std::min(30.0, 3 * b_.prompt_days))
                                 : later(ms(iso("2023-01-01T00:00:00+08:00")), rng->unit() * 20);
    json file = {{"listVersion", 1},
                 {"fileHash", std::string(64, 'b')},
                 {"fileName", "list-" + u.id + ".pdf"}};
    at(sub, [=, this] {
      send(id, "", "submit", Actor{u.clerk_id, {"ADMIN"}, {{"unit", path(u.id)}}}, file,
           [=, this](const StepResult& s) {
             if (s.ok())
               at(later(sub, rng->unit() * std::min(3.0, b_.prompt_days)), [=, this] {
                 send(id, "", "accept", office_actor(u.reviewer_id), json::object());
               });
           });
    });
  });
}

// A cadre leaves: the office supersedes the old letter, the new cadre gets a letter for
// the bindings taken over, and live supervision tasks of those bindings are re-bound.
void Sim::churn(const demo::Cadre& next) {
  std::int64_t now = ms(clock_.now());
  const demo::Cadre& old = *cadres_.at(next.replaces);
  Actor office = office_actor(old.admin_id);
  send("", "letter/" + old.id + "/2023", "supersede", office, {{"reason", "干部调整"}});
  letter(next, "change", now);
  for (const auto& bd : city_.bindings) {
    if (bd.cadre_id != next.id || bd.start_at != next.start_at) continue;
    for (const auto* prev : by_business_.at(bd.business_id)) {
      if (prev->cadre_id != old.id || prev->end_at != next.start_at) continue;
      for (const auto& p : periods_of(*prev))
        send("", "sup/" + p + "/" + prev->id, "rebind", office,
             {{"newCadreId", next.id},
              {"newCadreName", next.name},
              {"newBindingId", bd.id},
              {"newAdminId", next.admin_id},
              {"reason", "干部调整"}});
    }
  }
}

// The business file (food-safety.business, key biz/<id>): the engine marks items for the
// next visit there (missed records, a missing director) and raises their problems.
void Sim::business_file(const demo::Business& b, std::int64_t now) {
  if (!b.closed_on.empty() && ms(iso(b.closed_on)) <= now) return;
  const demo::Cadre* k = serving(b, now);
  if (!k) return;
  json data = {{"businessId", b.id},
               {"businessName", b.name},
               {"unitPath", business_path(b)},
               {"stationId", b.station_id},
               {"adminId", k->admin_id},
               {"cadreId", k->id},
               {"principalId", b.principal_id},
               {"requiresDirector", b.requires_director}};
  if (!k->upper_admin_id.empty()) data["upperAdminId"] = k->upper_admin_id;
  if (!b.director_id.empty()) data["directorId"] = b.director_id;
  if (!b.officer_id.empty()) data["officerId"] = b.officer_id;
  start("food-safety.business", "biz/" + b.id, data);
}

const demo::Cadre* Sim::serving(const demo::Business& b, std::int64_t now) const {
  const demo::Cadre* k = nullptr;
  for (const auto* bd : by_business_.at(b.id))
    if (ms(iso(bd->start_at)) <= now && (bd->end_at.empty() || ms(iso(bd->end_at)) > now))
      k = cadres_.at(bd->cadre_id);
  if (!k && !by_business_.at(b.id).empty()) k = cadres_.at(by_business_.at(b.id).front()->cadre_id);
  return k;
}

// A move within the business's village (迁址) or a change of its 包保 grade, reported by the
// station (food-safety.status-change, README (i)); no re-binding is needed, so the office
// confirms: within 1-5 days, or (one in ten) after its 7 working days, when the
// workflow marks the re-binding overdue and then escalates it. One report in thirty is
// withdrawn by the station the same afternoon (a wrong report).
void Sim::status_change(const demo::Business& b, const std::string& kind, std::int64_t day) {
  std::int64_t now = ms(clock_.now());
  if (!b.closed_on.empty() && ms(iso(b.closed_on)) <= now) return;  // closed meanwhile
  const demo::Cadre* k = serving(b, now);
  if (!k) return;
  const std::string date = local_date(day);
  std::string key = "change/" + b.id + "/" + date;
  json data = {
      {"businessId", b.id},        {"businessName", b.name}, {"unitPath", business_path(b)},
      {"stationId", b.station_id}, {"adminId", k->admin_id}, {"kind", kind},
      {"effectiveDate", date},     {"cadreId", k->id},       {"principalId", b.principal_id}};
  if (!k->upper_admin_id.empty()) data["upperAdminId"] = k->upper_admin_id;
  if (kind == "move") {
    data["newUnitPath"] = business_path(b);
    data["note"] = "同村迁址，包保干部不变";
  } else {
    static const std::string kGrades = "ABCD";
    auto g = kGrades.find(b.grade);
    if (g == std::string::npos) return;
    data["newGrade"] = std::string(1, kGrades[g == 3 ? 2 : g + 1]);  // D to C, others toward D
    data["note"] = "经营规模变化，包保等级调整";
  }
  Rng r(mix(o_.seed, key));
  Actor station = station_actor(b.station_id, b.station_id, "REGULATOR");
  Actor office = office_actor(k->admin_id);
  bool wrong = r.chance(1.0 / 30);
  std::int64_t confirm = later(now, r.chance(0.9) ? 1 + r.unit() * 4 : 11 + r.unit() * 3);
  start(
      "food-safety.status-change", key, data,
      [=, this](const StepResult& s) {
        if (!s.ok() || !s.instance) return;
        std::string id = s.instance->id;
        if (wrong)
          at(now + 6 * kHour, [=, this] {
            send(id, "", "withdraw", station, {{"reason", "误报，主体未变更"}});
          });
        else
          at(confirm, [=, this] {
            send(id, "", "confirm", office, {{"note", "核实无需调整包保"}});
          });
      },
      station);
}

// The year's risk-grade reviews (food-safety.risk-review, README (h)): the station opens
// one per open business on the year's first working day, due by proposeBy (the last
// working day of December), so that the year's flags (rectifications past their deadline,
// failed samples) reach it. A closure cancels it (the status change's confirm).
void Sim::risk_reviews() {
  const std::int64_t now = ms(clock_.now());
  for (const auto& b : city_.businesses) {
    if (!b.closed_on.empty() && ms(iso(b.closed_on)) <= now) continue;
    const demo::Cadre* k = serving(b, now);
    if (!k || b.risk_level.empty()) continue;
    std::string key = "risk/" + b.id + "/2023";
    json d = {{"businessId", b.id},
              {"businessName", b.name},
              {"unitPath", business_path(b)},
              {"year", 2023},
              {"currentLevel", b.risk_level},
              {"stationId", b.station_id},
              {"adminId", k->admin_id},
              {"cadreId", k->id},
              {"principalId", b.principal_id},
              {"proposeBy", "2023-12-29T18:00:00+08:00"}};
    if (!k->upper_admin_id.empty()) d["upperAdminId"] = k->upper_admin_id;
    Actor station = station_actor(b.station_id, b.station_id, "REGULATOR");
    start(
        "food-safety.risk-review", key, d,
        [=, this](const StepResult& s) {
          if (!s.ok() || !s.instance) return;
          // The station proposes in December (the claiming rates: on time, or in January).
          Rng r(mix(o_.seed, key));
          int when = timeliness(r, b_.claiming);
          if (when == 2) return;
          std::int64_t go = when == 0 ? later(ms(iso("2023-12-01T00:00:00+08:00")), r.unit() * 24)
                                      : later(ms(iso("2024-01-02T00:00:00+08:00")), r.unit() * 10);
          std::string id = s.instance->id;
          if (go < end_) at(go, [=, this] { propose_risk(id, key, d, false); });
        },
        station);
  }
}

// The station's proposal from the review's flags: one grade up when the year flagged the
// business, one down for one clean business in ten, else unchanged; the office approves
// in 1-4 days or returns it once (visitReturn) and the station proposes again.
void Sim::propose_risk(const std::string& id, const std::string& key, const json& d, bool again) {
  auto v = engine_.get(id);
  if (!v || v->status != InstanceStatus::running) return;  // cancelled by a closure
  static const std::string kLevels = "ABCD";
  const std::string level = d["currentLevel"];
  const auto g = kLevels.find(level);
  Rng r(mix(o_.seed, key + (again ? "/again" : "/propose")));
  json basis = json::array();
  for (const auto& f : v->data.value("flags", json::array()))
    if (f.value("source", "") != "" &&
        std::find(basis.begin(), basis.end(), f["source"]) == basis.end())
      basis.push_back(f["source"]);
  json p;
  if (!basis.empty() && g < 3)
    p = {{"riskLevel", std::string(1, kLevels[g + 1])},
         {"reason", "年内整改逾期或抽检不合格"},
         {"basis", basis}};
  else if (basis.empty() && g > 0 && g != std::string::npos && r.chance(0.1))
    p = {{"riskLevel", std::string(1, kLevels[g - 1])},
         {"reason", "全年无违法违规记录"},
         {"basis", {"good_record"}}};
  else
    p = {{"riskLevel", level}, {"basis", basis.empty() ? json{"inspection"} : basis}};
  Actor station = station_actor(d["stationId"], d["stationId"], "REGULATOR");
  Actor office = office_actor(d["adminId"]);
  send(id, "", "propose", station, p, [=, this](const StepResult& s) {
    if (!s.ok()) return;
    Rng a(mix(o_.seed, key + (again ? "/approve-again" : "/approve")));
    std::int64_t when = later(ms(clock_.now()), 1 + a.unit() * 3);
    if (!again && a.chance(b_.visit_return)) {
      const double redo = 1 + a.unit();  // days until the station proposes again
      at(when, [=, this] {
        send(id, "", "return", office, {{"reason", "依据不足，请补充检查记录"}},
             [=, this](const StepResult& x) {
               if (x.ok())
                 at(later(ms(clock_.now()), redo), [=, this] { propose_risk(id, key, d, true); });
             });
      });
    } else {
      at(when, [=, this] { send(id, "", "approve", office, json::object()); });
    }
  });
}

// A business closes: its live supervision tasks are exempted (approved upstairs), its file
// closed.
void Sim::closure(const demo::Business& b) {
  // The station reports the closure (food-safety.status-change, README (i)) with the live
  // tasks of the bindings that end with it: those of the rounds opened by now.
  json keys = json::array();
  std::string cadre, admin = "adm-GM", upper;
  std::int64_t now = ms(clock_.now());
  for (const auto* bd : by_business_.at(b.id)) {
    if (bd->end_at != b.closed_on) continue;
    const demo::Cadre& k = *cadres_.at(bd->cadre_id);
    cadre = k.id, admin = k.admin_id, upper = k.upper_admin_id;
    // The newest opened rounds first: at most 4 keys fit, and older tasks have ended.
    auto covers = periods_of(*bd);
    for (auto r = rounds_.rbegin(); r != rounds_.rend() && keys.size() < 4; ++r) {
      std::string p = (*r)["period"];
      if (ms(iso((*r)["start"].get<std::string>())) <= now &&
          std::count(covers.begin(), covers.end(), p))
        keys.push_back("sup/" + p + "/" + bd->id);
    }
  }
  json data = {{"businessId", b.id},
               {"businessName", b.name},
               {"unitPath", business_path(b)},
               {"stationId", b.station_id},
               {"adminId", admin},
               {"kind", "close"},
               {"effectiveDate", b.closed_on.substr(0, 10)},
               {"taskKeys", keys},
               {"cadreId", cadre.empty() ? json() : json(cadre)},
               {"principalId", b.principal_id}};
  if (!upper.empty()) data["upperAdminId"] = upper;
  Actor office = office_actor(admin);
  start(
      "food-safety.status-change", "change/" + b.id + "/" + b.closed_on.substr(0, 10), data,
      [=, this](const StepResult& r) {
        if (!r.ok() || !r.instance) return;
        std::string id = r.instance->id;
        // The office confirms the same afternoon: the business file closes and the tasks
        // are exempted by the workflow.
        at(now + 6 * kHour, [=, this] { send(id, "", "confirm", office, {{"note", "停业核实"}}); });
      },
      station_actor(b.station_id, b.station_id, "REGULATOR"));
}

// A pushed supervision task: the cadre visits in the period, late, or never.
void Sim::on_supervision(const InstanceView& v) {
  sup_key_[v.id] = v.business_key;
  Rng r(mix(o_.seed, v.business_key));
  int when = timeliness(r, b_.inspection);
  if (when == 2) return;
  std::int64_t now = ms(clock_.now()), end = ms(iso(v.data["periodEnd"]));
  std::int64_t start = std::max(now, ms(iso(v.data["periodStart"])));
  double window = double(end - start) / kDay - 1.5;
  std::int64_t go = when == 0 ? (window > 0 ? later(start, r.unit() * window) : later(now, 0))
                              : later(std::max(end, now), 1 + r.unit() * 20);
  if (when == 0 && go > end) go = now;
  std::string id = v.id;
  json d = v.data;
  at(go, [=, this] {
    // Check-in and submission in one batch: steps of one instance apply in order.
    send(id, "", "check_in", cadre_actor(d["cadreId"]),
         {{"lat", 36.4}, {"lng", 94.9}, {"mode", "ONSITE"}});
    visit(id, d, r, false);
  });
}

// Submits the checklist (each item non-compliant with problemsPerVisit / items), then the
// office accepts, returns once, or leaves it to the automatic acceptance.
void Sim::visit(const std::string& id, const json& d, Rng r, bool resubmit) {
  json answers = json::array();
  double p = b_.problems_per_visit / double(kChecklist.size());
  for (const auto& item : kChecklist) {
    if (resubmit || !r.chance(p)) {
      answers.push_back({{"itemId", item}, {"compliant", true}});
      continue;
    }
    double u = r.unit();
    const char* sev = u < b_.severity_illegal                         ? "illegal"
                      : u < b_.severity_illegal + b_.severity_serious ? "serious"
                      : u < b_.severity_illegal + b_.severity_serious + b_.severity_general
                          ? "general"
                          : "minor";
    answers.push_back({{"itemId", item},
                       {"compliant", false},
                       {"note", "检查发现问题：" + item},
                       {"severity", sev}});
  }
  // Items the business file marked for this visit (missed records, a missing director):
  // the cadre checks each; found rectified (their problems are handled on their own).
  if (auto now = engine_.get(id); now && now->data.contains("markedItems"))
    for (const auto& m : now->data["markedItems"])
      answers.push_back({{"itemId", m["itemId"]}, {"compliant", true}});
  Actor cadre = cadre_actor(d["cadreId"]);
  send(id, "", "submit", cadre, {{"answers", answers}}, [=, this](const StepResult& s) mutable {
    if (!s.ok()) return;
    std::int64_t now = ms(clock_.now());
    Actor office = office_actor(d["adminId"]);
    if (!resubmit && r.chance(b_.visit_return)) {
      std::int64_t ret = later(now, 0.5 + r.unit());
      at(ret, [=, this]() mutable {
        send(id, "", "return", office, {{"reason", "请补充现场照片"}},
             [=, this](const StepResult& x) mutable {
               if (x.ok()) at(later(ret, 0.5 + r.unit() * 2), [=, this] { visit(id, d, r, true); });
             });
      });
    } else if (r.chance(b_.admin_review)) {
      at(later(now, r.unit() * 3), [=, this] { send(id, "", "accept", office, json::object()); });
    }
  });
}

// A problem pushed to a station: claimed, rectification ordered, evidence, re-check.
void Sim::on_problem(const InstanceView& v) {
  const json& d = v.data;
  std::string task = d.value("taskId", "");
  std::string key = (sup_key_.count(task) ? sup_key_[task] : v.business_key) + "/" +
                    d.value("checklistItemId", "");
  auto r = std::make_shared<Rng>(mix(o_.seed, key));
  std::string id = v.id, station = d["stationId"];
  std::int64_t now = ms(clock_.now());
  int when = timeliness(*r, b_.claiming);
  std::int64_t claim = when == 0 ? later(now, r->unit() * 1.5) : later(now, 3 + r->unit() * 5);
  at(claim, [=, this] {
    send(id, "", "claim", station_actor(station, station, "REGULATOR"), json::object(),
         [=, this](const StepResult& s) {
           if (!s.ok()) return;
           std::int64_t order = later(claim, r->unit() * 0.5);
           at(order, [=, this] {
             send(id, "", "order_rectification",
                  station_actor("insp-" + station, station, "INSPECTOR"), {{"measure", "限期整改"}},
                  [=, this](const StepResult& x) {
                    if (!x.ok() || !x.instance) return;
                    if (x.instance->state == "ESCALATED") {
                      at(later(order, 20 + r->unit() * 40), [=, this] {
                        send(id, "", "conclude", station_actor(station, station, "REGULATOR"),
                             {{"conclusion", "已立案查处"}});
                      });
                      return;
                    }
                    evidence(id, x.instance->data, r, order);
                  });
           });
         });
  });
}

void Sim::evidence(const std::string& id, const json& d, std::shared_ptr<Rng> r,
                   std::int64_t from) {
  std::int64_t ev = later(from, lognormal(*r, b_.rectify_median_days, b_.rectify_sigma));
  if (d.contains("rectifyDeadline") && r->chance(b_.rectify_within_deadline))
    ev = std::min(ev, std::max(from, floor_slot(ms(iso(d["rectifyDeadline"])) - kHour)));
  std::string principal = d.is_object() && d.contains("principalId") && d["principalId"].is_string()
                              ? d["principalId"].get<std::string>()
                              : "";
  std::string station = d["stationId"];
  Actor submitter = principal.empty()
                        ? station_actor("insp-" + station, station, "INSPECTOR")
                        : business_actor(principal, d.value("businessId", ""), "PRINCIPAL");
  Actor checker = r->chance(0.5) ? station_actor("insp2-" + station, station, "INSPECTOR")
                                 : cadre_actor(d["reporterId"]);
  at(ev, [=, this] {
    send(id, "", "submit_evidence", submitter, {{"note", "已按要求整改"}},
         [=, this](const StepResult& s) {
           if (!s.ok()) return;
           std::int64_t check = later(ev, r->unit() * std::min(3.0, 3 * b_.prompt_days + 0.2));
           bool fail = r->chance(b_.reopen);
           at(check, [=, this] {
             send(id, "", "start_recheck", checker, json::object());
             {
               {
                 if (!fail) return send(id, "", "pass", checker, json::object());
                 send(id, "", "fail", checker, {{"reason", "复查未通过"}},
                      [=, this](const StepResult& y) {
                        if (!y.ok()) return;
                        at(check, [=, this] {  // after the system's resume step
                          auto now = engine_.get(id);
                          if (now && now->state == "RECTIFYING")
                            evidence(id, now->data, r, check);
                          else if (now && now->state == "ESCALATED")
                            at(later(check, 20 + r->unit() * 40), [=, this] {
                              send(id, "", "conclude", station_actor(station, station, "REGULATOR"),
                                   {{"conclusion", "已立案查处"}});
                            });
                        });
                      });
               }
             }
           });
         });
  });
}

// Daily self-management records (日管控) for every business open that day: started at
// midnight, submitted by the officer in the day, the next morning (late) or never.
int Sim::filing(const demo::Business& b, const std::string& key) {
  Rng biz(mix(o_.seed, "daily/" + b.id));
  bool sloppy = biz.chance(b_.daily_sloppy_share);
  // Sloppy businesses carry most misses and late days; the overall means stay the rates.
  double share = std::max(b_.daily_sloppy_share, 1e-9);
  double miss = 1 - b_.daily_on_time - b_.daily_late;
  double p_miss =
      sloppy ? std::min(1.0, miss * 0.84 / share) : miss * 0.16 / std::max(1 - share, 1e-9);
  double p_late = sloppy ? std::min(1.0 - p_miss, b_.daily_late * 0.64 / share)
                         : b_.daily_late * 0.36 / std::max(1 - share, 1e-9);
  Rng r(mix(o_.seed, key));
  double u = r.unit();
  return u < p_miss ? 2 : u < p_miss + p_late ? 1 : 0;
}

// The week's inspection report (周排查): the director files it, or the officer where no
// director is required; on time on Thursday, late on the Monday after (the grace day).
void Sim::weekly(std::int64_t day, const std::string& date) {
  for (const auto& b : city_.businesses) {
    if (!b.closed_on.empty() && ms(iso(b.closed_on)) <= day) continue;
    std::string author = b.director_id.empty() ? b.officer_id : b.director_id;
    const char* role = b.director_id.empty() ? "OFFICER" : "DIRECTOR";
    json data = {
        {"businessId", b.id},    {"businessName", b.name},       {"weekStart", date},
        {"authorIds", {author}}, {"unitPath", business_path(b)}, {"principalId", b.principal_id}};
    std::string key = "weekly/" + b.id + "/" + date;
    int when = filing(b, key);
    ++report_.weekly_records;
    std::string bid = b.id;
    start("food-safety.weekly-report", key, data, [=, this](const StepResult& s) {
      if (!s.ok() || !s.instance || when == 2) return;
      std::string id = s.instance->id;
      at(day + (when == 0 ? 3 * kDay + 10 * kHour : 7 * kDay + 10 * kHour), [=, this] {
        send(id, "", "submit", business_actor(author, bid, role),
             {{"daysDone", 7},
              {"daysMissing", 0},
              {"openHazards", 0},
              {"summary", "本周排查未发现隐患"}},
             [this](const StepResult& x) { report_.weekly_filed += x.ok(); });
      });
    });
  }
}

// The month's scheduling meeting (月调度): the principal attends and the minutes are
// filed on the 20th (on time) or not at all.
void Sim::monthly(std::int64_t day, const std::string& month, const std::string& month_end) {
  for (const auto& b : city_.businesses) {
    if (!b.closed_on.empty() && ms(iso(b.closed_on)) <= day) continue;
    json authors = {b.principal_id};
    if (!b.director_id.empty()) authors.push_back(b.director_id);
    authors.push_back(b.officer_id);
    json data = {{"businessId", b.id},  {"businessName", b.name}, {"unitPath", business_path(b)},
                 {"month", month},      {"monthEnd", month_end},  {"principalId", b.principal_id},
                 {"authorIds", authors}};
    std::string key = "monthly/" + b.id + "/" + month;
    int when = filing(b, key);
    ++report_.monthly_records;
    std::string bid = b.id, principal = b.principal_id, officer = b.officer_id;
    start("food-safety.monthly-minutes", key, data, [=, this](const StepResult& s) {
      if (!s.ok() || !s.instance || when == 2) return;
      std::string id = s.instance->id;
      at(day + 19 * kDay + 15 * kHour, [=, this] {
        send(id, "", "hold", business_actor(principal, bid, "PRINCIPAL"),
             {{"heldOn", month + "-20"},
              {"attendees", {principal, officer}},
              {"summary", "听取本月食品安全情况汇报"},
              {"nextMonthPlan", "继续落实日管控、周排查"}},
             [this](const StepResult& x) { report_.monthly_held += x.ok(); });
      });
    });
  }
}

void Sim::daily(std::int64_t day) {
  const std::tm tm = local_tm(day);
  const std::string date = local_text(tm);
  // The first day of the records (daily_from) also opens its week's and month's records.
  const bool first = day == daily_start_;
  if (tm.tm_wday == 1 || first) weekly(day, date);
  if (tm.tm_mday == 1 || first) {
    char month[8], next[64];
    std::strftime(month, sizeof month, "%Y-%m", &tm);
    int y = tm.tm_year + 1900 + (tm.tm_mon == 11), m = tm.tm_mon == 11 ? 1 : tm.tm_mon + 2;
    std::snprintf(next, sizeof next, "%04d-%02d-01T00:00:00+08:00", y, m);
    monthly(day, month, next);
  }
  std::string period = "2023Q" + std::to_string(tm.tm_mon / 3 + 1);
  for (const auto& b : city_.businesses) {
    if (!b.closed_on.empty() && ms(iso(b.closed_on)) <= day) continue;
    std::string cadre;
    for (const auto* bd : by_business_.at(b.id))
      if (ms(iso(bd->start_at)) <= day && (bd->end_at.empty() || ms(iso(bd->end_at)) > day))
        cadre = bd->cadre_id;
    int& streak = missed_streak_[b.id];
    json data = {{"businessId", b.id},
                 {"businessName", b.name},
                 {"date", date},
                 {"officerId", b.officer_id},
                 {"cadreId", cadre},
                 {"stationId", b.station_id},
                 {"principalId", b.principal_id},
                 {"missedStreak", streak},
                 {"townshipId", b.township_id},
                 {"villageId", b.village_id},
                 {"unitPath", business_path(b)},
                 {"period", period}};
    if (!b.director_id.empty()) data["directorId"] = b.director_id;
    std::string key = "daily/" + b.id + "/" + date;
    int when = filing(b, key);
    Rng r(mix(o_.seed, key + "/hour"));
    ++report_.daily_records;
    std::int64_t hour = when == 0 ? (r.chance(0.6) ? 9 : 15) : 33;
    std::string bid = b.id, officer = b.officer_id;
    start("food-safety.daily-record", key, data, [=, this](const StepResult& s) {
      if (!s.ok() || !s.instance) return;
      std::string id = s.instance->id;
      if (when == 2) {
        ++missed_streak_[bid];
        return;
      }
      std::int64_t t = day + hour * kHour;
      // About one check in a hundred finds a hazard (half fixed on the spot): the record
      // spawns a food-safety.hazard, which on_hazard() sees through and closes.
      Rng hr(mix(o_.seed, key + "/hazard"));
      json report = {{"zeroRisk", true}};
      if (hr.chance(kHazardChance))
        report = {{"zeroRisk", false},
                  {"hazards",
                   {{{"description", "冷藏柜温度超过 8℃"},
                     {"measure", "已转移食材并报修"},
                     {"fixedOnSpot", hr.chance(0.5)}}}}};
      at(t, [=, this] {
        send(id, "", "submit", business_actor(officer, bid, "OFFICER"), report,
             [=, this](const StepResult& x) {
               if (x.ok()) missed_streak_[bid] = 0;
             });
      });
    });
  }
}

}  // namespace

json default_plan() { return json::array({json{{"every", "quarter"}}}); }

std::string check_plan(const json& plan, const std::string& file, const std::string& pointer) {
  const std::string where = file + ": " + pointer;
  if (!plan.is_array() || plan.empty())
    return where +
           ": expected a non-empty array of frequency rules ({\"every\": \"quarter\" | "
           "\"month\" | \"half-year\" | \"year\", \"levels\": [...], \"grades\": [...]})";
  // Which rule gives each (level, grade) its frequency: each needs exactly one.
  std::map<std::pair<std::string, std::string>, std::size_t> owner;
  for (std::size_t i = 0; i < plan.size(); ++i) {
    const json& r = plan[i];
    std::string at = where + "/" + std::to_string(i);
    if (!r.is_object()) return at + ": expected an object {every, levels, grades}";
    for (const auto& [k, v] : r.items()) {
      if (k == "every") {
        if (!v.is_string() ||
            !std::count(std::begin(kFrequencies), std::end(kFrequencies), v.get<std::string>()))
          return at + "/every: expected \"quarter\", \"month\", \"half-year\" or \"year\"";
        continue;
      }
      const std::vector<std::string>* known = k == "levels"   ? &kPlanLevels
                                              : k == "grades" ? &kPlanGrades
                                                              : nullptr;
      if (!known) return at + "/" + k + ": unknown member (expected every, levels, grades)";
      std::string what = k == "levels" ? "cadre level" : "business grade", list;
      for (const auto& n : *known) list += (list.empty() ? "" : ", ") + n;
      if (!v.is_array() || v.empty())
        return at + "/" + k + ": expected a non-empty array of " + what + "s (" + list + ")";
      for (std::size_t j = 0; j < v.size(); ++j)
        if (!v[j].is_string() || !std::count(known->begin(), known->end(), v[j].get<std::string>()))
          return at + "/" + k + "/" + std::to_string(j) + ": unknown " + what + " " + v[j].dump() +
                 " (expected one of " + list + ")";
    }
    if (!r.contains("every")) return at + ": missing \"every\" (quarter, month, half-year, year)";
    for (const auto& l : r.value("levels", json(kPlanLevels)))
      for (const auto& g : r.value("grades", json(kPlanGrades)))
        if (auto [it, fresh] =
                owner.emplace(std::pair{l.get<std::string>(), g.get<std::string>()}, i);
            !fresh)
          return at + ": level " + l.get<std::string>() + ", grade " + g.get<std::string>() +
                 " already has a frequency in " + pointer + "/" + std::to_string(it->second) +
                 " (each level and grade needs exactly one)";
  }
  for (const auto& l : kPlanLevels)
    for (const auto& g : kPlanGrades)
      if (!owner.count({l, g}))
        return where + ": no rule gives level " + l + ", grade " + g +
               " a frequency (each level and grade needs exactly one; a rule without levels "
               "or grades covers them all)";
  return {};
}

json round_plan(const std::string& end, const json& plan) {
  json rounds = json::array();
  auto add = [&](const std::string& period, const std::string& start, const std::string& last,
                 const json& rule) {
    if (*parse_time(start) >= *parse_time(end)) return;
    json r = {{"period", period}, {"start", start}, {"end", last}};
    for (const char* k : {"levels", "grades"})
      if (rule.contains(k)) r[k] = rule[k];
    rounds.push_back(std::move(r));
  };
  add("2022R1", "2022-12-01T00:00:00+08:00", "2022-12-31T23:59:59+08:00", json::object());
  static const char* kMonthEnd[] = {"01-31", "02-28", "03-31", "04-30", "05-31", "06-30",
                                    "07-31", "08-31", "09-30", "10-31", "11-30", "12-31"};
  for (const auto& rule : plan) {
    std::string every = rule.value("every", "quarter");
    int months = every == "month" ? 1 : every == "half-year" ? 6 : every == "year" ? 12 : 3;
    for (int m = 0; m < 12; m += months) {
      char period[32], start[64], last[64];  // room for any int (-Wformat-truncation)
      if (months == 1)
        std::snprintf(period, sizeof period, "2023M%02d", m + 1);
      else if (months == 12)
        std::snprintf(period, sizeof period, "2023Y");
      else
        std::snprintf(period, sizeof period, "2023%c%d", months == 3 ? 'Q' : 'H', m / months + 1);
      std::snprintf(start, sizeof start, "2023-%02d-01T00:00:00+08:00", m + 1);
      std::snprintf(last, sizeof last, "2023-%sT23:59:59+08:00", kMonthEnd[m + months - 1]);
      add(period, start, last, rule);
    }
  }
  // In time order (the scheduler opens them one after the other); the rules' order among
  // rounds starting together.
  std::vector<json> sorted(rounds.begin(), rounds.end());
  std::stable_sort(sorted.begin(), sorted.end(), [](const json& a, const json& b) {
    return *parse_time(a["start"].get<std::string>()) < *parse_time(b["start"].get<std::string>());
  });
  return json(sorted);
}

RunReport run(const demo::City& city, const RunOptions& o) {
  RunReport out;
  std::error_code ec;
  if (fs::exists(o.data_dir, ec) && !fs::is_empty(o.data_dir, ec)) {
    out.error = o.data_dir + " is not empty (the simulation needs a fresh data directory)";
    return out;
  }
  std::string city_dir = o.data_dir + "/city";
  if (auto e = demo::write_city(city, city_dir); !e.empty()) return out.error = e, out;

  Problems problems;
  auto clock = std::make_shared<VirtualClock>(*parse_time(kStart));
  EngineOptions eo;
  eo.data_dir = o.data_dir + "/engine";
  eo.clock = clock;
  eo.durable = o.durable;
  eo.initial_map_bytes = std::size_t(o.daily ? 4096 : 512) << 20;
  // A moment's group (thousands of steps at midnight) in transactions of 256 rather than
  // one of 2,048: the committer appends one while the writer executes the next, on the two
  // cores. The statistics are the same; the year's wall time 0.87-0.88x (PERFORMANCE.md).
  eo.max_batch = 256;
  eo.calendars = std::make_shared<Calendars>(find_calendars({o.calendars_dir}, ".", problems));
  auto engine = Engine::open(eo, problems);
  if (!engine || problems.has_errors()) {
    for (const auto& p : problems.items())
      out.error += (out.error.empty() ? "" : "; ") + p.to_string();
    if (out.error.empty()) out.error = "cannot open the engine in " + eo.data_dir;
    return out;
  }
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(o.workflows_dir, ec))
    if (e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    auto r = engine->deploy(json::parse(s.str()), f.string());
    if (!r.ok) {
      out.error = f.string() + ": does not deploy";
      for (const auto& p : r.problems.items()) out.error += "; " + p.to_string();
      engine->close();
      return out;
    }
  }
  if (files.empty())
    return engine->close(), out.error = "no definitions in " + o.workflows_dir, out;

  // The master-data source, exactly as engine-config.json configures it.
  Problems cp;
  auto config = EngineConfig::load_file(city_dir + "/engine-config.json", cp);
  if (!config)
    return engine->close(), out.error = "cannot read " + city_dir + "/engine-config.json", out;
  for (auto it = config->plugins.begin(); it != config->plugins.end();)
    it = it->first == "master-data" ? std::next(it) : config->plugins.erase(it);
  auto services = std::make_shared<HostServices>(clock);
  auto registry = PluginRegistry::load(*config, services, cp);
  auto source = registry.find("master-data");
  if (!source) {
    out.error = "the data source master-data (plugin source.sqlite) did not load";
    for (const auto& p : cp.items()) out.error += "; " + p.to_string();
    engine->close();
    return out;
  }
  Sim sim(city, o, *engine, *clock, source.get());
  out = sim.play();
  auto m = engine->metrics();
  out.commits = m.commits;
  out.timers_fired = m.timers_fired;
  engine->close();
  return out;
}

}  // namespace bihuan::cli::sim
