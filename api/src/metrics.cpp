#include "metrics.hpp"

#include <cstdio>

namespace bihuan::api {

namespace {

std::string prom_num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

std::string label_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void family(std::string& out, const std::string& name, const char* type, const std::string& help) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void scalar(std::string& out, const std::string& name, const char* type, const std::string& help,
            double v) {
  family(out, name, type, help);
  out += name + " " + prom_num(v) + "\n";
}

}  // namespace

void write_histogram(std::string& out, const std::string& name, const std::string& help,
                     const Histogram& h) {
  family(out, name, "histogram", help);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < h.bounds.size() && i < h.counts.size(); ++i) {
    cumulative += h.counts[i];
    out +=
        name + "_bucket{le=\"" + prom_num(h.bounds[i]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  if (h.counts.size() > h.bounds.size()) cumulative += h.counts.back();
  out += name + "_bucket{le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
  out +=
      name + "_sum " + prom_num(h.sum) + "\n" + name + "_count " + std::to_string(h.count) + "\n";
}

HttpMetrics::HttpMetrics()
    : bounds_{0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
      buckets_(new std::atomic<std::uint64_t>[15]()) {
  set_routes({});
}

void HttpMetrics::set_routes(std::vector<std::pair<std::string, std::string>> method_and_pattern) {
  routes_ = std::move(method_and_pattern);
  routes_.emplace_back("-", "unmatched");
  requests_.reset(new std::atomic<std::uint64_t>[routes_.size() * kStatuses]());
}

void HttpMetrics::count(std::size_t route, unsigned status, double seconds) {
  if (route >= routes_.size()) route = routes_.size() - 1;
  if (status >= kStatuses) status = kStatuses - 1;
  requests_[route * kStatuses + status].fetch_add(1, std::memory_order_relaxed);
  std::size_t i = 0;
  while (i < bounds_.size() && seconds > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<std::uint64_t>(seconds * 1e6), std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void HttpMetrics::refused(const std::string& reason) {
  std::lock_guard lock(refusals_mu_);
  // Reasons are fixed codes, but a route's problem type could be anything: bounded.
  if (refusals_.size() < 256 || refusals_.count(reason))
    ++refusals_[reason];
  else
    ++refusals_["other"];
}

std::uint64_t HttpMetrics::refused_count(const std::string& reason) const {
  std::lock_guard lock(refusals_mu_);
  auto it = refusals_.find(reason);
  return it == refusals_.end() ? 0 : it->second;
}

std::string HttpMetrics::text() const {
  std::string out;
  family(out, "bihuan_http_requests_total", "counter",
         "HTTP requests answered, by route pattern, method and status.");
  for (std::size_t r = 0; r < routes_.size(); ++r)
    for (unsigned st = 0; st < kStatuses; ++st) {
      std::uint64_t n = requests_[r * kStatuses + st].load(std::memory_order_relaxed);
      if (!n) continue;
      out += "bihuan_http_requests_total{route=\"" + label_escape(routes_[r].second) +
             "\",method=\"" + routes_[r].first + "\",status=\"" + std::to_string(st) + "\"} " +
             std::to_string(n) + "\n";
    }
  Histogram h;
  h.bounds = bounds_;
  for (std::size_t i = 0; i <= bounds_.size(); ++i)
    h.counts.push_back(buckets_[i].load(std::memory_order_relaxed));
  h.sum = static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6;
  h.count = count_.load(std::memory_order_relaxed);
  write_histogram(out, "bihuan_http_request_duration_seconds",
                  "Time from a complete request to its answer.", h);
  scalar(out, "bihuan_http_open_connections", "gauge", "Connections open now.",
         static_cast<double>(connections_.load(std::memory_order_relaxed)));
  scalar(out, "bihuan_http_refused_connections_total", "counter",
         "Connections refused at the connection limit.",
         static_cast<double>(refused_.load(std::memory_order_relaxed)));
  family(out, "bihuan_http_refused_total", "counter",
         "Requests refused authentication (401) or authorization (403, 404 by scope), by "
         "reason.");
  {
    std::lock_guard lock(refusals_mu_);
    for (const auto& [reason, n] : refusals_)
      out += "bihuan_http_refused_total{reason=\"" + label_escape(reason) + "\"} " +
             std::to_string(n) + "\n";
  }
  return out;
}

std::string engine_metrics_text(const EngineMetrics& m) {
  std::string out;
  scalar(out, "bihuan_steps_total", "counter",
         "Steps applied (start, event, cancel, migrate), refused ones included.",
         static_cast<double>(m.steps));
  scalar(out, "bihuan_steps_refused_total", "counter",
         "Steps refused (guard, role, version, payload...).", static_cast<double>(m.steps_refused));
  scalar(out, "bihuan_commits_total", "counter",
         "LMDB write transactions committed (group commits).", static_cast<double>(m.commits));
  scalar(out, "bihuan_storage_failures_total", "counter",
         "Group commits that failed in storage (nothing applied).",
         static_cast<double>(m.storage_failures));
  scalar(out, "bihuan_timers_fired_total", "counter", "Timers fired.",
         static_cast<double>(m.timers_fired));
  scalar(out, "bihuan_timers_ahead_total", "counter",
         "Timer firings executed ahead of their due time.", static_cast<double>(m.timers_ahead));
  scalar(out, "bihuan_timers_ahead_dropped_total", "counter",
         "Timer firings executed ahead and dropped unwritten (another step came first).",
         static_cast<double>(m.timers_ahead_dropped));
  scalar(out, "bihuan_timers_dropped_total", "counter",
         "Timer firings dropped: only their timer was removed (instance gone, damaged, or no "
         "longer holding it).",
         static_cast<double>(m.timers_dropped));
  scalar(
      out, "bihuan_timers_refused_total", "counter",
      "Timer firings their instance refused (guard, event not accepted); recorded in its history.",
      static_cast<double>(m.timers_refused));
  scalar(out, "bihuan_steps_reexecuted_total", "counter",
         "Requests executed again: another process committed in between, or the commit under "
         "theirs failed.",
         static_cast<double>(m.reexecuted));
  scalar(out, "bihuan_writer_turns_total", "counter",
         "Times this node took the writer's turn on a shared store (0 on LMDB).",
         static_cast<double>(m.turns_taken));
  scalar(out, "bihuan_writer_turns_passed_total", "counter",
         "Times this node let the writer's turn go after a slice because another node waited.",
         static_cast<double>(m.turns_passed));
  scalar(out, "bihuan_writer_turn_waits_expired_total", "counter",
         "Times this node waited for the writer's turn past the limit and executed without it.",
         static_cast<double>(m.turn_waits_expired));
  write_histogram(out, "bihuan_step_latency_seconds",
                  "Time from a step's request to its durable commit.", m.step_latency_seconds);
  write_histogram(out, "bihuan_group_commit_batch_size", "Requests per group commit.",
                  m.batch_size);
  write_histogram(out, "bihuan_timer_lag_seconds", "How late timers fired after their due time.",
                  m.timer_lag_seconds);
  scalar(out, "bihuan_outbox_depth", "gauge", "Messages in the outbox (waiting, retrying or dead).",
         static_cast<double>(m.outbox_depth));
  scalar(out, "bihuan_pending_timers", "gauge", "Timers waiting to fire.",
         static_cast<double>(m.pending_timers));
  scalar(out, "bihuan_instances", "gauge", "Instances stored (all statuses).",
         static_cast<double>(m.instances));
  scalar(out, "bihuan_storage_map_bytes", "gauge", "Size of the LMDB map.",
         static_cast<double>(m.map_bytes));
  scalar(out, "bihuan_engine_failed", "gauge",
         "1 once a fatal storage error stopped the engine (writes refused, /readyz false); else 0.",
         m.failed ? 1.0 : 0.0);
  return out;
}

}  // namespace bihuan::api
