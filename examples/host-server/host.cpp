// Hosting Bihuan's server in a program of your own: a bihuan::Node runs the engine, the
// bundled plugins, the dispatcher and the HTTP/JSON API (what `bihuan serve` runs), while
// the program uses the same engine directly. docs/embedding.md walks through it.
//
//   bihuan-host-example DATA_DIR
//
// prints one JSON line per step on stdout (the node's log goes to stderr) and exits 0 when
// every step did what it should.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <iostream>
#include <string>

#include "bihuan/node.hpp"

namespace {

const char* kDefinition = R"({
  "id": "example.ticket", "version": 1, "title": {"en": "Ticket"}, "initial": "open",
  "states": {
    "open": {"onEntry": [{"notify": "log", "to": "desk", "template": "ticket opened"}],
             "on": {"close": {"roles": ["desk"], "target": "closed"}}},
    "closed": {"type": "final", "outcome": "closed"}}})";

// GET `path` on 127.0.0.1:`port` with a plain socket; the status code (0 on failure).
int http_status(std::uint16_t port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (fd >= 0) ::close(fd);
    return 0;
  }
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (::write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return 0;
  }
  char buf[64] = {};
  ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  std::string head(buf, n > 0 ? static_cast<std::size_t>(n) : 0);  // "HTTP/1.1 200 OK..."
  return head.size() > 12 ? std::stoi(head.substr(9, 3)) : 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: bihuan-host-example DATA_DIR\n";
    return 2;
  }
  bihuan::NodeOptions options;
  options.data_dir = argv[1];
  options.listen = "127.0.0.1:0";                      // any free port
  options.workflow_dirs = std::vector<std::string>{};  // deploy nothing at start
  bihuan::Node node(options);
  if (std::string err = node.start(); !err.empty()) {
    std::cout << bihuan::json({{"step", "start"}, {"error", err}}).dump() << "\n";
    return 1;
  }
  std::cout << bihuan::json({{"step", "start"}, {"url", node.url()}}).dump() << "\n";

  // The program uses the node's engine directly; HTTP clients see the same data.
  bihuan::Engine& engine = node.engine();
  auto deployed = engine.deploy(bihuan::json::parse(kDefinition), "ticket");
  bihuan::StartRequest start;
  start.definition = "example.ticket";
  auto started = engine.start(start);
  bool ok = deployed.ok && started.ok();
  std::cout << bihuan::json({{"step", "deploy+start"},
                             {"ok", ok},
                             {"state", started.instance ? started.instance->state : ""}})
                   .dump()
            << "\n";
  int healthz = http_status(node.port(), "/healthz");
  std::cout << bihuan::json({{"step", "http"}, {"healthz", healthz}}).dump() << "\n";

  node.stop();  // the destructor would too
  return ok && healthz == 200 ? 0 : 1;
}
