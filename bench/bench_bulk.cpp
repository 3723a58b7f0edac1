// Bulk work over the HTTP API at scale (docs/PERFORMANCE.md, "Bulk actions"): n instances
// of one definition with a unit (access block), served by the real Server on 127.0.0.1:0,
// then timed through HTTP:
//   a) GET /v1/instances/export?format=csv of all n, read as it streams and thrown away
//      (the server's RssAnon is sampled while it runs: it must not grow with n);
//   b) the same as JSON;
//   c) POST /v1/batches dryRun (the count) of all n;
//   d) a cancel batch of all n, polled every 100 ms until it ends; its counts are checked
//      against /v1/stats.
//
//   ./build/bench/bench_bulk [--n 100000] [--dir /var/tmp/bihuan-bench-bulk] [--nosync]
//
// Durable storage unless --nosync.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "api/http_client.hpp"
#include "bihuan/engine.hpp"
#include "bihuan/server.hpp"
#include "engine_bench_support.hpp"

namespace {

using bihuan::json;
using namespace bench;
namespace http = boost::beast::http;

const std::string kCase = R"({"id":"bench.bulk","version":1,"initial":"OPEN",
  "access":{"unit":{"var":"data.unit"}},
  "states":{"OPEN":{"on":{"close":{"target":"DONE"}}},"DONE":{"type":"final","outcome":"closed"}}})";

// Streams one GET, discarding the body a piece at a time: (bytes, lines, peak RssAnon MiB).
struct Streamed {
  std::size_t bytes = 0, lines = 0;
  double peak_rss = 0;
  int status = 0;
};
Streamed stream_get(std::uint16_t port, const std::string& target, const std::string& token) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket sock(ioc);
  sock.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::authorization, "Bearer " + token);
  http::write(sock, req);
  boost::beast::flat_buffer buf;
  http::response_parser<http::buffer_body> p;
  p.body_limit(boost::none);
  http::read_header(sock, buf, p);
  Streamed out;
  out.status = static_cast<int>(p.get().result_int());
  static char tmp[1 << 16];
  while (!p.is_done()) {
    p.get().body().data = tmp;
    p.get().body().size = sizeof tmp;
    boost::beast::error_code ec;
    http::read(sock, buf, p, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      std::fprintf(stderr, "read: %s\n", ec.message().c_str());
      break;
    }
    std::size_t got = sizeof tmp - p.get().body().size;
    out.bytes += got;
    for (std::size_t i = 0; i < got; ++i) out.lines += tmp[i] == '\n';
    out.peak_rss = std::max(out.peak_rss, rss_anon_mib());
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t n = 100000;
  std::string dir = "/var/tmp/bihuan-bench-bulk";
  bool durable = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--n" && i + 1 < argc)
      n = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--dir" && i + 1 < argc)
      dir = argv[++i];
    else if (a == "--nosync")
      durable = false;
  }
  std::filesystem::remove_all(dir);
  bihuan::EngineOptions o;
  o.data_dir = dir;
  o.durable = durable;
  o.initial_map_bytes = std::size_t{1} << 30;
  bihuan::Problems p;
  auto engine = bihuan::Engine::open(o, p);
  if (!engine || !engine->deploy(json::parse(kCase), "bench").ok) {
    std::fprintf(stderr, "cannot open %s or deploy\n", dir.c_str());
    return 1;
  }
  auto& e = *engine;
  auto t0 = SteadyClock::now();
  ClosedLoop loop;
  loop.window = 256;
  loop.run(n, [&](std::size_t i, auto done) {
    bihuan::StartRequest r;
    r.definition = "bench.bulk";
    char unit[32];
    std::snprintf(unit, sizeof unit, "city/T%02zu/V%02zu", i % 10 + 1, i / 10 % 10 + 1);
    r.data = {{"unit", unit}, {"shop", "商户 " + std::to_string(i)}, {"n", i}};
    e.start_async(std::move(r), [done](bihuan::StepResult res) { done(res.ok(), res.message); });
  });
  if (loop.failures) {
    std::fprintf(stderr, "population: %zu failed\n", loop.failures);
    return 1;
  }
  std::printf("# %zu instances in %.1f s (%s, %s), load average %.1f\n", n, seconds_since(t0),
              dir.c_str(), durable ? "durable" : "nosync", load_average());

  bihuan::ServerConfig c;
  c.port = 0;
  c.threads = 2;
  c.rate_per_second = 0;
  c.tokens = {{"admin", bihuan::ServerConfig::hash_token("admin-token"),
               bihuan::Actor{"admin", {"admin"}}, 0, 0}};
  bihuan::ServerHooks hooks;
  hooks.log = [](const std::string&) {};
  auto server = bihuan::Server::start(e, c, hooks, p);
  if (!server) {
    std::fprintf(stderr, "server did not start\n");
    return 1;
  }
  const auto port = server->port();
  const std::string token = "admin-token";

  for (const char* format : {"csv", "json"}) {
    double before = rss_anon_mib();
    auto t = SteadyClock::now();
    auto s = stream_get(port,
                        std::string("/v1/instances/export?definition=bench.bulk&format=") + format +
                            (std::string(format) == "csv" ? "&columns=/shop,/n" : ""),
                        token);
    double secs = seconds_since(t);
    std::printf(
        "%s) export %-4s %8.2f s  %7.1f MB  %7zu lines  %8.0f rows/s  RssAnon %.0f -> "
        "peak %.0f MiB (status %d)\n",
        std::string(format) == "csv" ? "a" : "b", format, secs, s.bytes / 1e6, s.lines, n / secs,
        before, s.peak_rss, s.status);
  }

  bihuan::test::HttpClient client(port, token);
  json filter = {{"definition", "bench.bulk"}};
  auto t = SteadyClock::now();
  auto dry =
      client.post("/v1/batches", {{"action", "cancel"}, {"filter", filter}, {"dryRun", true}});
  std::printf("c) dry run count %8.2f s  count %s\n", seconds_since(t),
              dry.json_body().value("count", json()).dump().c_str());

  t = SteadyClock::now();
  double before = rss_anon_mib(), peak = before;
  auto r = client.post("/v1/batches", {{"action", "cancel"}, {"filter", filter}});
  if (r.status != 202) {
    std::fprintf(stderr, "batch: %d %s\n", r.status, r.body.c_str());
    return 1;
  }
  std::string id = r.json_body()["id"];
  json b;
  double counted_at = 0;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // a progress poll
    b = client.get("/v1/batches/" + id).json_body();
    peak = std::max(peak, rss_anon_mib());
    if (counted_at == 0 && b["state"] != "counting") counted_at = seconds_since(t);
    if (b["state"] != "counting" && b["state"] != "running") break;
  }
  double secs = seconds_since(t);
  auto stats = client.get("/v1/stats?definition=bench.bulk&status=cancelled").json_body();
  std::printf(
      "d) cancel batch %8.2f s  (counted in %.2f s)  %8.0f instances/s  state %s  "
      "succeeded %s  failed %s  stats cancelled %s  RssAnon %.0f -> peak %.0f MiB\n",
      secs, counted_at, n / secs, b["state"].dump().c_str(), b["succeeded"].dump().c_str(),
      b["failed"].dump().c_str(), stats["total"].dump().c_str(), before, peak);
  std::printf("# load average %.1f\n", load_average());
  server->shutdown(std::chrono::seconds(5));
  e.close();
  std::filesystem::remove_all(dir);
  return 0;
}
