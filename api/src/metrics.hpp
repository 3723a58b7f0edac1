// HTTP request counters and the Prometheus text exposition of everything /metrics shows.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "bihuan/engine.hpp"

namespace bihuan::api {

class HttpMetrics {
 public:
  HttpMetrics();
  // route: the route pattern ("/v1/instances/{id}"), or "unmatched".
  void count(const std::string& route, const std::string& method, unsigned status, double seconds);
  void connection_opened() { connections_.fetch_add(1, std::memory_order_relaxed); }
  void connection_closed() { connections_.fetch_sub(1, std::memory_order_relaxed); }
  void connection_refused() { refused_.fetch_add(1, std::memory_order_relaxed); }
  std::int64_t open_connections() const { return connections_.load(std::memory_order_relaxed); }
  std::string text() const;

 private:
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, unsigned>, std::uint64_t> requests_;
  std::vector<double> bounds_;
  std::vector<std::uint64_t> buckets_;
  double sum_ = 0;
  std::uint64_t count_ = 0;
  std::atomic<std::int64_t> connections_{0};
  std::atomic<std::uint64_t> refused_{0};
};

// The engine's counters in Prometheus text (bihuan_* families).
std::string engine_metrics_text(const EngineMetrics& m);

// Appends one histogram family (cumulative buckets, _sum, _count).
void write_histogram(std::string& out, const std::string& name, const std::string& help, const Histogram& h);

}  // namespace bihuan::api
