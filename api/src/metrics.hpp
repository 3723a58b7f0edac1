// HTTP request counters and the Prometheus text exposition of everything /metrics shows.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bihuan/engine.hpp"

namespace bihuan::api {

class HttpMetrics {
 public:
  HttpMetrics();
  // Declares the routes before serving: route i is "METHOD pattern"; index routes.size()
  // counts requests that matched no route. Not thread-safe; call once.
  void set_routes(std::vector<std::pair<std::string, std::string>> method_and_pattern);
  // Lock-free: one relaxed increment per counter.
  void count(std::size_t route, unsigned status, double seconds);
  void connection_opened() { connections_.fetch_add(1, std::memory_order_relaxed); }
  void connection_closed() { connections_.fetch_sub(1, std::memory_order_relaxed); }
  void connection_refused() { refused_.fetch_add(1, std::memory_order_relaxed); }
  // One refused authentication or authorization (bihuan_http_refused_total{reason}).
  void refused(const std::string& reason);
  std::uint64_t refused_count(const std::string& reason) const;
  std::int64_t open_connections() const { return connections_.load(std::memory_order_relaxed); }
  std::string text() const;

 private:
  static constexpr unsigned kStatuses = 600;
  std::vector<std::pair<std::string, std::string>> routes_;  // + "unmatched"
  std::unique_ptr<std::atomic<std::uint64_t>[]> requests_;   // routes_.size() * kStatuses
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
  std::atomic<std::uint64_t> sum_micros_{0}, count_{0};
  std::atomic<std::int64_t> connections_{0};
  std::atomic<std::uint64_t> refused_{0};
  mutable std::mutex refusals_mu_;
  std::map<std::string, std::uint64_t> refusals_;  // by reason (a few dozen at most)
};

// The engine's counters in Prometheus text (bihuan_* families).
std::string engine_metrics_text(const EngineMetrics& m);

// Appends one histogram family (cumulative buckets, _sum, _count).
void write_histogram(std::string& out, const std::string& name, const std::string& help,
                     const Histogram& h);

}  // namespace bihuan::api
