// A tiny HTTP/1.1 server on 127.0.0.1 (port chosen by the kernel) for tests and benches of
// the HTTP plugins: plain POSIX sockets, one thread per connection, one request per
// connection. Each request is recorded, then answered as the handler says: a status and
// body, after an optional delay, or never ("hang": the connection is held until stop()).
// Thread-safe; stop() (or the destructor) wakes delayed and hanging connections and joins
// every thread.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace bihuan::testing {

struct HttpReceived {
  std::string method, target, body;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

struct HttpReply {
  int status = 200;
  std::string body = "{}";
  std::string content_type = "application/json";
  std::chrono::milliseconds delay{0};
  bool hang = false;
};

class LoopbackHttpServer {
 public:
  using Handler = std::function<HttpReply(const HttpReceived&)>;
  explicit LoopbackHttpServer(Handler handler = {}) : handler_(std::move(handler)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 256);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~LoopbackHttpServer() { stop(); }
  LoopbackHttpServer(const LoopbackHttpServer&) = delete;
  LoopbackHttpServer& operator=(const LoopbackHttpServer&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  void set_handler(Handler h) {
    std::lock_guard lock(mu_);
    handler_ = std::move(h);
  }
  std::vector<HttpReceived> received() const {
    std::lock_guard lock(mu_);
    return received_;
  }
  std::size_t count() const { return served_.load(); }

  void stop() {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    ::shutdown(fd_, SHUT_RDWR);
    if (acceptor_.joinable()) acceptor_.join();
    std::list<Connection> threads;
    {
      std::lock_guard lock(mu_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.thread.join();
    ::close(fd_);
  }

 private:
  void accept_loop() {
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 200) < 0) continue;
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
      }
      if (!(p.revents & POLLIN)) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::lock_guard lock(mu_);
      // Join the connections that finished (a bench opens thousands).
      for (auto it = threads_.begin(); it != threads_.end();) {
        if (it->done->load()) {
          it->thread.join();
          it = threads_.erase(it);
        } else {
          ++it;
        }
      }
      auto done = std::make_shared<std::atomic<bool>>(false);
      threads_.push_back({std::thread([this, c, done] {
                            serve(c);
                            *done = true;
                          }),
                          done});
    }
  }

  // Reads one request (headers, then Content-Length bytes); false on EOF/error/stop.
  bool read_request(int c, HttpReceived& r) {
    std::string data;
    char buf[65536];
    std::size_t header_end = std::string::npos, need = 0;
    for (;;) {
      if (header_end == std::string::npos &&
          (header_end = data.find("\r\n\r\n")) != std::string::npos) {
        std::size_t line_end = data.find("\r\n");
        std::string first = data.substr(0, line_end);
        r.method = first.substr(0, first.find(' '));
        r.target = first.substr(first.find(' ') + 1, first.rfind(' ') - first.find(' ') - 1);
        for (std::size_t pos = line_end + 2; pos < header_end;) {
          std::size_t e = data.find("\r\n", pos);
          std::string line = data.substr(pos, e - pos);
          auto colon = line.find(':');
          std::string name = line.substr(0, colon);
          std::transform(name.begin(), name.end(), name.begin(),
                         [](unsigned char ch) { return std::tolower(ch); });
          std::string value = line.substr(colon + 1);
          value.erase(0, value.find_first_not_of(' '));
          r.headers[name] = value;
          pos = e + 2;
        }
        need = header_end + 4 +
               (r.headers.count("content-length") ? std::stoul(r.headers["content-length"]) : 0);
      }
      if (header_end != std::string::npos && data.size() >= need) {
        r.body = data.substr(header_end + 4, need - header_end - 4);
        return true;
      }
      pollfd p{c, POLLIN, 0};
      int rc = ::poll(&p, 1, 200);
      {
        std::lock_guard lock(mu_);
        if (stopping_) return false;
      }
      if (rc <= 0) continue;
      ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) return false;
      data.append(buf, static_cast<std::size_t>(n));
    }
  }

  void serve(int c) {
    HttpReceived r;
    if (read_request(c, r)) {
      HttpReply reply;
      {
        std::unique_lock lock(mu_);
        received_.push_back(r);
        if (handler_) reply = handler_(r);
        if (reply.hang)
          cv_.wait(lock, [&] { return stopping_; });
        else if (reply.delay.count() > 0)
          cv_.wait_for(lock, reply.delay, [&] { return stopping_; });
      }
      if (!reply.hang) {
        std::string out = "HTTP/1.1 " + std::to_string(reply.status) +
                          " X\r\nContent-Type: " + reply.content_type +
                          "\r\nContent-Length: " + std::to_string(reply.body.size()) +
                          "\r\nConnection: close\r\n\r\n" + reply.body;
        for (std::size_t off = 0; off < out.size();) {
          ssize_t n = ::send(c, out.data() + off, out.size() - off, MSG_NOSIGNAL);
          if (n <= 0) break;
          off += static_cast<std::size_t>(n);
        }
        ++served_;
      }
    }
    ::shutdown(c, SHUT_WR);
    ::close(c);
  }

  Handler handler_;
  int fd_ = -1, port_ = 0;
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  struct Connection {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::list<Connection> threads_;
  std::vector<HttpReceived> received_;
  std::atomic<std::size_t> served_{0};
};

}  // namespace bihuan::testing
