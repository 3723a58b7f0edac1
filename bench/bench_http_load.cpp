// Open-loop HTTP load generator for the API of `bihuan serve` (scripts/bench-http-growth.sh
// drives it; scripts/bench-http.sh measures throughput with wrk, which is closed loop).
//
// Contract. Keep-alive HTTP/1.1 to 127.0.0.1:PORT, one request in flight per connection (no
// pipelining), `Authorization: Bearer TOKEN`. --mode start|event|get is OPEN LOOP: request k
// is due at t0 + k/RATE for k < RATE*SECONDS; a connection takes the next due request when it
// is free (waiting for its due time if early), and the latency of a request is its completion
// time minus its DUE time, so time spent queued behind a slow server counts (no coordinated
// omission). Percentiles are exact (all samples sorted) over the 2xx answers due after the
// warm-up (the first second); "client timer lateness" is the client's own share (a free
// connection sending after the due time). Requests still unanswered TIMEOUT (10) seconds
// after the last one was due are abandoned and reported ("unfinished", "unsent").
// --mode populate is CLOSED loop: CONNECTIONS connections start instances as fast as the
// server answers until N exist (giving up after 100 failed attempts).
//
//   ./build/bench/bench_http_load --port P --token T --mode start|event|get --rate R
//        [--seconds 10] [--connections 64] [--threads 1] [--ids FILE] [--out FILE] [--json]
//   ./build/bench/bench_http_load --port P --token T --mode populate --n N [--out FILE]
//
// Requests (as bench/http/*.lua send them with wrk): start = POST /v1/instances
// {"definition":D,"data":{"n":0}}, 201, "id" read from the answer and appended to --out;
// event = POST /v1/instances/{id}/events {"event":"bump"}, ids of --ids in a shuffled order
// (distinct instances while there are more ids than requests, then it wraps); get =
// GET /v1/instances/{id}, ids uniformly at random from --ids. Prints a summary (one JSON line
// with --json). Exit status 0 when the run finished (HTTP errors are counted, not fatal);
// 1 when it could not (no connection, server gone, populate short, unreadable --ids); 2 bad
// options.
#include <sys/prctl.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

enum class Mode { start, event, get, populate };
constexpr std::uint64_t kMaxPopulateFailures = 100;  // then populate gives up

struct Options {
  int port = 0, connections = 64, threads = 1;
  std::string token, mode, ids_file, out_file, definition = "bench.counter";
  double rate = 0, seconds = 10, warmup = 1, timeout = 10;
  std::uint64_t n = 0;
  bool json = false;
};

// Shared by every connection: options, ids, the schedule and the claim counter.
struct Plan {
  Options o;
  Mode mode = Mode::get;
  tcp::endpoint server;
  std::string host, start_body;
  std::vector<std::string> ids;      // --ids
  std::vector<std::uint32_t> order;  // event: a shuffled permutation of ids
  Clock::time_point t0, measure_from;
  std::uint64_t total = 0;               // open loop: requests scheduled
  std::atomic<std::uint64_t> next{0};    // the next request to claim
  std::atomic<std::uint64_t> failed{0};  // populate: failed attempts (each earns a retry)
  std::atomic<bool> told_error{false}, told_lost{false};

  Clock::time_point due(std::uint64_t k) const {
    return t0 + std::chrono::nanoseconds(std::llround(static_cast<double>(k) * 1e9 / o.rate));
  }
};

// One connection's results, merged after the run.
struct Tally {
  std::uint64_t sent = 0, completed = 0, ok = 0, io_errors = 0, lost = 0;
  std::map<std::string, std::uint64_t>
      errors;                            // non-2xx by status; "bad-json" for a 201 without id
  std::vector<std::int64_t> latency_ns;  // 2xx answers due after the warm-up
  std::vector<std::int64_t> late_ns;     // how late the client sent requests it waited for
  std::vector<std::string> created;      // start/populate: new instance ids
  Clock::time_point last{};              // last completion
};

class Connection;

// One thread: its io_context, its connections and the deadline that abandons the rest.
struct Worker {
  asio::io_context io{1};
  asio::steady_timer deadline{io};
  std::vector<std::shared_ptr<Connection>> conns;
  int busy = 0;  // connections that still have work
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Worker& w, Plan& plan, std::uint64_t seed)
      : w_(w), plan_(plan), sock_(w.io), timer_(w.io), rng_(seed) {}

  // Synchronous (before the clock starts, or to replace a connection the server closed).
  bool connect(beast::error_code& ec) {
    beast::error_code ignored;
    sock_.close(ignored);
    buf_.clear();
    ec = {};
    sock_.connect(plan_.server, ec);
    if (!ec) sock_.set_option(tcp::no_delay(true), ec);
    return !ec;
  }
  void start() {
    ++w_.busy;
    next();
  }
  // The deadline passed: abandon whatever is in flight.
  void abandon() {
    stopped_ = true;
    beast::error_code ignored;
    timer_.cancel();
    sock_.close(ignored);
  }
  Tally& tally() { return tally_; }

 private:
  void next() {
    if (stopped_) return;
    std::uint64_t k = plan_.next.load();
    if (plan_.mode == Mode::populate) {  // closed loop: claim k only while k < N + failures
      do {
        std::uint64_t failed = plan_.failed.load();
        if (k >= plan_.o.n + failed || failed > kMaxPopulateFailures) return finish();
      } while (!plan_.next.compare_exchange_weak(k, k + 1));
      return send(k, Clock::now());
    }
    k = plan_.next.fetch_add(1);
    if (k >= plan_.total) return finish();
    Clock::time_point due = plan_.due(k);
    if (due <= Clock::now()) return send(k, due);  // late: it has been waiting since `due`
    timer_.expires_at(due);
    timer_.async_wait([self = shared_from_this(), k, due](beast::error_code ec) {
      if (ec) return;
      if (due >= self->plan_.measure_from)
        self->tally_.late_ns.push_back((Clock::now() - due).count());
      self->send(k, due);
    });
  }

  void send(std::uint64_t k, Clock::time_point due) {
    due_ = due;
    req_ = {};
    req_.version(11);
    req_.set(http::field::host, plan_.host);
    req_.set(http::field::authorization, "Bearer " + plan_.o.token);
    switch (plan_.mode) {
      case Mode::get: {
        std::uniform_int_distribution<std::size_t> pick(0, plan_.ids.size() - 1);
        req_.method(http::verb::get);
        req_.target("/v1/instances/" + plan_.ids[pick(rng_)]);
        break;
      }
      case Mode::event:
        req_.method(http::verb::post);
        req_.target("/v1/instances/" + plan_.ids[plan_.order[k % plan_.order.size()]] + "/events");
        req_.body() = R"({"event":"bump"})";
        break;
      case Mode::start:
      case Mode::populate:
        req_.method(http::verb::post);
        req_.target("/v1/instances");
        req_.body() = plan_.start_body;
        break;
    }
    if (req_.method() == http::verb::post) req_.set(http::field::content_type, "application/json");
    req_.prepare_payload();
    ++tally_.sent;
    http::async_write(sock_, req_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->fail(ec);
      self->res_ = {};
      http::async_read(self->sock_, self->buf_, self->res_,
                       [self](beast::error_code rec, std::size_t) { self->on_read(rec); });
    });
  }

  void on_read(beast::error_code ec) {
    if (ec) return fail(ec);
    Clock::time_point now = Clock::now();
    ++tally_.completed;
    tally_.last = now;
    unsigned status = res_.result_int();
    std::string error;
    if (status / 100 != 2) {
      error = std::to_string(status);
    } else if (plan_.mode == Mode::start || plan_.mode == Mode::populate) {
      json answer = json::parse(res_.body(), nullptr, false);
      if (answer.is_object() && answer.contains("id") && answer["id"].is_string())
        tally_.created.push_back(answer["id"].get<std::string>());
      else
        error = "bad-json";
    }
    if (error.empty()) {
      ++tally_.ok;
      if (due_ >= plan_.measure_from) tally_.latency_ns.push_back((now - due_).count());
    } else {
      ++tally_.errors[error];
      if (plan_.mode == Mode::populate) ++plan_.failed;
      if (!plan_.told_error.exchange(true))
        std::cerr << "bench_http_load: first error answer (" << error
                  << "): " << res_.body().substr(0, 300) << "\n";
    }
    if (!res_.keep_alive() && !reconnect(beast::error_code{})) return;
    next();
  }

  // A transport error: count it, reconnect and go on, or give up this connection.
  void fail(beast::error_code ec) {
    if (stopped_) return;  // abandoned at the deadline
    ++tally_.io_errors;
    if (plan_.mode == Mode::populate) ++plan_.failed;
    if (reconnect(ec)) next();
  }

  bool reconnect(beast::error_code why) {
    beast::error_code ec;
    if (connect(ec)) return true;
    ++tally_.lost;
    if (!plan_.told_lost.exchange(true))
      std::cerr << "bench_http_load: lost a connection to " << plan_.host << " ("
                << (why ? why.message() : "server closed it") << ") and cannot reconnect ("
                << ec.message() << "): did the server on port " << plan_.o.port << " stop?\n";
    finish();
    return false;
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    beast::error_code ignored;
    sock_.shutdown(tcp::socket::shutdown_both, ignored);
    sock_.close(ignored);
    if (--w_.busy == 0) w_.deadline.cancel();
  }

  Worker& w_;
  Plan& plan_;
  tcp::socket sock_;
  asio::steady_timer timer_;
  beast::flat_buffer buf_;
  http::request<http::string_body> req_;
  http::response<http::string_body> res_;
  Clock::time_point due_;
  std::mt19937_64 rng_;
  Tally tally_;
  bool stopped_ = false, finished_ = false;
};

int usage_error(const std::string& message) {
  std::cerr << "bench_http_load: " << message << " (--help lists the options)\n";
  return 2;
}

// Latency percentile p (0..1) of sorted samples, in ms (exact: the ceil(p*n)-th smallest).
double percentile_ms(const std::vector<std::int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return static_cast<double>(sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1]) / 1e6;
}

// x rounded to `decimals` places (divided, not multiplied, so that JSON prints it short).
double round_to(double x, int decimals) {
  double scale = std::pow(10.0, decimals);
  return std::round(x * scale) / scale;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{
      "Open-loop HTTP load generator for bihuan serve (see the top of bench/bench_http_load.cpp)"};
  app.add_option("--port", o.port, "Port of bihuan serve on 127.0.0.1")
      ->required()
      ->check(CLI::Range(1, 65535));
  app.add_option("--token", o.token, "Bearer token")->required();
  app.add_option("--mode", o.mode, "start|event|get (open loop) or populate (closed loop)")
      ->required()
      ->check(CLI::IsMember({"start", "event", "get", "populate"}));
  app.add_option("--rate", o.rate, "Requests per second (open loop)");
  app.add_option("--seconds", o.seconds, "Duration of the schedule (open loop)");
  app.add_option("--warmup", o.warmup, "Seconds of samples skipped at the start");
  app.add_option("--timeout", o.timeout,
                 "Seconds after the schedule ends before answers are abandoned");
  app.add_option("--connections", o.connections, "Connections")->check(CLI::Range(1, 65536));
  app.add_option("--threads", o.threads, "Client threads")->check(CLI::Range(1, 256));
  app.add_option("--ids", o.ids_file, "Instance ids, one a line (event, get)");
  app.add_option("--n", o.n, "populate: instances to create");
  app.add_option("--out", o.out_file, "start, populate: append the new ids to this file");
  app.add_option("--definition", o.definition, "Definition to start");
  app.add_flag("--json", o.json, "Print one JSON line of results");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // CLI11 names the option; --help is not an error
  }

  Plan plan;
  plan.mode = o.mode == "start"   ? Mode::start
              : o.mode == "event" ? Mode::event
              : o.mode == "get"   ? Mode::get
                                  : Mode::populate;
  bool open_loop = plan.mode != Mode::populate;
  if (open_loop && !(o.rate > 0))
    return usage_error("--mode " + o.mode + " needs --rate R > 0 (requests per second)");
  if (!(o.warmup >= 0) || !(o.timeout > 0))
    return usage_error("--warmup must be >= 0 and --timeout > 0");
  if (open_loop && o.seconds <= o.warmup)
    return usage_error("--seconds must be longer than the warm-up (--warmup, " +
                       json(o.warmup).dump() + " s): no samples would be left");
  if (!open_loop && o.n == 0)
    return usage_error("--mode populate needs --n N (instances to create)");
  if ((plan.mode == Mode::event || plan.mode == Mode::get) && o.ids_file.empty())
    return usage_error("--mode " + o.mode + " needs --ids FILE (instance ids, one a line)");
  if (!o.ids_file.empty()) {
    std::ifstream in(o.ids_file);
    if (!in) {
      std::cerr << "bench_http_load: --ids " << o.ids_file << ": cannot read it\n";
      return 1;
    }
    for (std::string line; std::getline(in, line);) {
      line.erase(line.find_last_not_of(" \t\r") + 1);
      if (!line.empty()) plan.ids.push_back(line);
    }
    if (plan.ids.empty() && (plan.mode == Mode::event || plan.mode == Mode::get)) {
      std::cerr << "bench_http_load: --ids " << o.ids_file << ": no instance ids in it\n";
      return 1;
    }
  }
  o.threads = std::min(o.threads, o.connections);
  plan.o = o;
  plan.server =
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(o.port));
  plan.host = "127.0.0.1:" + std::to_string(o.port);
  plan.start_body = json{{"definition", o.definition}, {"data", {{"n", 0}}}}.dump();
  std::random_device seeds;
  std::mt19937_64 rng((std::uint64_t{seeds()} << 32) | seeds());
  if (plan.mode == Mode::event) {
    plan.order.resize(plan.ids.size());
    for (std::uint32_t i = 0; i < plan.order.size(); ++i) plan.order[i] = i;
    std::shuffle(plan.order.begin(), plan.order.end(), rng);
  }
  plan.total = open_loop ? static_cast<std::uint64_t>(std::llround(o.rate * o.seconds)) : o.n;
  if (plan.mode == Mode::event && plan.total > plan.ids.size() && !o.json)
    std::cerr << "bench_http_load: note: " << plan.total << " events over " << plan.ids.size()
              << " instances: each gets up to "
              << (plan.total + plan.ids.size() - 1) / plan.ids.size() << "\n";

  // Many connections need many descriptors: raise the soft limit to the hard one.
  if (rlimit lim{}; getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }

  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < o.threads; ++t) workers.push_back(std::make_unique<Worker>());
  for (int c = 0; c < o.connections; ++c) {
    Worker& w = *workers[static_cast<std::size_t>(c % o.threads)];
    auto conn = std::make_shared<Connection>(w, plan, rng());
    beast::error_code ec;
    if (!conn->connect(ec)) {
      std::cerr << "bench_http_load: cannot connect to " << plan.host << " (connection " << c + 1
                << " of " << o.connections << "): " << ec.message()
                << "; is bihuan serve listening on port " << o.port << "?\n";
      return 1;
    }
    w.conns.push_back(std::move(conn));
  }

  // The clock: t0 a little ahead so that every thread is running when request 0 is due.
  plan.t0 = Clock::now() + std::chrono::milliseconds(open_loop ? 50 : 0);
  plan.measure_from =
      open_loop ? plan.t0 + std::chrono::nanoseconds(std::llround(o.warmup * 1e9)) : plan.t0;
  auto deadline = plan.t0 + std::chrono::nanoseconds(std::llround((o.seconds + o.timeout) * 1e9));
  for (auto& w : workers) {
    for (auto& conn : w->conns) asio::post(w->io, [conn] { conn->start(); });
    if (open_loop) {  // populate has no deadline: it ends when N exist or it gives up
      w->deadline.expires_at(deadline);
      w->deadline.async_wait([wp = w.get()](beast::error_code ec) {
        if (!ec)
          for (auto& conn : wp->conns) conn->abandon();
      });
    }
  }
  std::vector<std::thread> threads;
  for (auto& w : workers)
    threads.emplace_back([wp = w.get()] {
      prctl(PR_SET_TIMERSLACK,
            1UL);  // timers on time (default slack 50 us), lateness counts as latency
      wp->io.run();
    });
  for (auto& t : threads) t.join();

  // Merge.
  Tally all;
  for (auto& w : workers)
    for (auto& conn : w->conns) {
      Tally& t = conn->tally();
      all.sent += t.sent, all.completed += t.completed, all.ok += t.ok,
          all.io_errors += t.io_errors, all.lost += t.lost;
      for (auto& [k, v] : t.errors) all.errors[k] += v;
      all.latency_ns.insert(all.latency_ns.end(), t.latency_ns.begin(), t.latency_ns.end());
      all.late_ns.insert(all.late_ns.end(), t.late_ns.begin(), t.late_ns.end());
      all.created.insert(all.created.end(), t.created.begin(), t.created.end());
      all.last = std::max(all.last, t.last);
    }
  std::sort(all.latency_ns.begin(), all.latency_ns.end());
  std::sort(all.late_ns.begin(), all.late_ns.end());
  // The client's own lateness: p99 of (sent - due) for requests a free connection waited for.
  double client_late_p99 = percentile_ms(all.late_ns, 0.99);
  std::uint64_t http_errors = 0;
  for (auto& [k, v] : all.errors) http_errors += v;
  std::uint64_t unfinished = all.sent - all.completed - all.io_errors;
  std::uint64_t unsent = open_loop && all.sent < plan.total ? plan.total - all.sent : 0;
  double elapsed =
      all.last > plan.t0 ? std::chrono::duration<double>(all.last - plan.t0).count() : 0;
  double achieved = elapsed > 0 ? static_cast<double>(all.completed) / elapsed : 0;

  if (!o.out_file.empty() && !all.created.empty()) {
    std::ofstream out(o.out_file, std::ios::app);
    for (auto& id : all.created) out << id << "\n";
    if (!out) {
      std::cerr << "bench_http_load: --out " << o.out_file << ": cannot write it\n";
      return 1;
    }
  }

  json errors = json::object();
  for (auto& [k, v] : all.errors) errors[k] = v;
  if (all.io_errors) errors["io"] = all.io_errors;
  const auto& lat = all.latency_ns;
  if (o.json) {
    json r = {{"mode", o.mode},
              {"connections", o.connections},
              {"threads", o.threads},
              {"sent", all.sent},
              {"completed", all.completed},
              {"ok", all.ok},
              {"errors", errors},
              {"unfinished", unfinished},
              {"unsent", unsent},
              {"lostConnections", all.lost},
              {"elapsedSeconds", round_to(elapsed, 3)},
              {"achievedRate", round_to(achieved, 1)},
              {"samples", lat.size()},
              {"p50Ms", round_to(percentile_ms(lat, 0.5), 3)},
              {"p90Ms", round_to(percentile_ms(lat, 0.9), 3)},
              {"p99Ms", round_to(percentile_ms(lat, 0.99), 3)},
              {"p999Ms", round_to(percentile_ms(lat, 0.999), 3)},
              {"maxMs", round_to(lat.empty() ? 0 : static_cast<double>(lat.back()) / 1e6, 3)},
              {"clientLateP99Ms", round_to(client_late_p99, 3)}};
    if (open_loop)
      r.update({{"rate", o.rate},
                {"seconds", o.seconds},
                {"warmupSeconds", o.warmup},
                {"scheduled", plan.total}});
    else
      r.update({{"n", o.n}, {"created", all.created.size()}});
    std::cout << r.dump() << std::endl;
  } else {
    std::cout << std::fixed << std::setprecision(3) << "bench_http_load: " << o.mode << ", ";
    if (open_loop)
      std::cout << "open loop at " << std::setprecision(0) << o.rate << " req/s for "
                << std::setprecision(1) << o.seconds << " s";
    else
      std::cout << "closed loop until " << o.n << " instances are created";
    std::cout << ", " << o.connections << " connections, " << o.threads << " thread(s)\n"
              << "  sent " << all.sent << ", completed " << all.completed << " (2xx " << all.ok
              << "), errors " << errors.dump() << ", unfinished " << unfinished << ", unsent "
              << unsent << "\n"
              << std::setprecision(1) << "  achieved " << achieved << " req/s over "
              << std::setprecision(3) << elapsed << " s";
    if (!open_loop) std::cout << ", created " << all.created.size();
    std::cout << "\n  latency ms (" << (open_loop ? "due -> answered" : "sent -> answered")
              << ", 2xx only";
    if (open_loop) std::cout << ", first " << std::setprecision(1) << o.warmup << " s skipped";
    std::cout << "; " << lat.size() << " samples):" << std::setprecision(3) << " p50 "
              << percentile_ms(lat, 0.5) << "  p90 " << percentile_ms(lat, 0.9) << "  p99 "
              << percentile_ms(lat, 0.99) << "  p99.9 " << percentile_ms(lat, 0.999) << "  max "
              << (lat.empty() ? 0.0 : static_cast<double>(lat.back()) / 1e6) << "\n";
    if (open_loop)
      std::cout << "  client timer lateness p99 " << client_late_p99
                << " ms (part of the latency above)\n";
    std::cout << std::flush;
  }
  bool short_populate = !open_loop && all.created.size() < o.n;
  if (short_populate)
    std::cerr << "bench_http_load: populate created " << all.created.size() << " of " << o.n
              << " instances\n";
  return all.lost > 0 || short_populate ? 1 : 0;
}
