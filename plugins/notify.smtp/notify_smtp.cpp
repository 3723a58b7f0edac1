// notify.smtp: sends each notification as one e-mail through an SMTP server (plain TCP,
// RFC 5321): EHLO (HELO if refused), AUTH PLAIN when a username is configured, MAIL FROM,
// one RCPT TO per recipient, DATA, QUIT. One connection per message.
//
// The message (RFC 5322 + MIME): From, To, Subject (UTF-8, RFC 2047 encoded words),
// Date (engine clock, UTC), Message-ID derived from the idempotency key (the same on every
// attempt, so receivers can deduplicate), X-Bihuan-Key, text/plain; charset=UTF-8 body in
// base64 (default) or 8bit (`"bodyEncoding": "8bit"`, used only when the server
// advertises 8BITMIME). Lines are CRLF; lines starting with "." are dot-stuffed.
// Recipients (`to`) must be e-mail addresses.
// Outcome: 2xx/3xx as expected -> ok; a 4xx reply, a timeout or a connection error ->
// retry; a 5xx reply or a recipient that is not an address -> fail. Any refused recipient
// aborts the whole message (nobody gets it), so a retry never sends twice.
// `timeoutMs` bounds the whole session (name resolution excepted: the system resolver's).
// Thread-safe: each call uses its own connection.
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcntl.h>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <string>
#include <vector>

#include "bihuan/plugin/sdk.hpp"

namespace {

using namespace bihuan::plugin;
using Clock = std::chrono::steady_clock;

constexpr const char* kSchema = R"json({
  "type": "object",
  "required": ["host", "from"],
  "additionalProperties": false,
  "properties": {
    "host": {"type": "string", "minLength": 1},
    "port": {"type": "integer", "minimum": 1, "maximum": 65535, "description": "default 25"},
    "from": {"type": "string", "pattern": "^[^\\s<>@]+@[^\\s<>@]+$", "description": "envelope and From address"},
    "fromName": {"type": "string", "description": "display name in From (UTF-8)"},
    "username": {"type": "string", "description": "AUTH PLAIN when set"},
    "password": {"type": "string"},
    "heloName": {"type": "string", "pattern": "^[A-Za-z0-9.-]+$", "description": "default bihuan.localdomain"},
    "timeoutMs": {"type": "integer", "minimum": 1, "maximum": 600000, "description": "whole session (default 30000)"},
    "bodyEncoding": {"enum": ["base64", "8bit"], "description": "default base64"},
    "defaultSubject": {"type": "string", "description": "when a message has no subject"}
  }
})json";

std::string base64(std::string_view in) {
  static constexpr char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                 (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], t[v & 63]};
  }
  if (i + 1 == in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += {t[v >> 18], t[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    unsigned v =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += {t[v >> 18], t[(v >> 12) & 63], t[(v >> 6) & 63], '='};
  }
  return out;
}

bool is_ascii_printable(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) return false;
  return true;
}

// RFC 2047: UTF-8 text as "=?UTF-8?B?...?=" words split on character boundaries, folded
// with CRLF SP, each line at most 76 characters counting the `prefix` ("Subject: ") on
// the first. ASCII text without "=?" that fits stays as is.
std::string encode_header_text(std::string_view s, std::size_t prefix) {
  if (is_ascii_printable(s) && s.find("=?") == std::string_view::npos && prefix + s.size() <= 76)
    return std::string(s);
  std::string out;
  std::size_t i = 0, room = 76 - prefix;  // characters left on this line
  while (i < s.size()) {
    // "=?UTF-8?B?" + "?=" take 12; every 3 bytes take 4 base64 characters.
    std::size_t max_bytes = room > 12 + 4 ? (room - 12) / 4 * 3 : 3;
    std::size_t end = i, take = 0;
    while (end < s.size()) {
      std::size_t len = 1;
      auto c = static_cast<unsigned char>(s[end]);
      if (c >= 0xF0)
        len = 4;
      else if (c >= 0xE0)
        len = 3;
      else if (c >= 0xC0)
        len = 2;
      if (take + len > max_bytes && take > 0) break;
      take += len;
      end += len;
    }
    if (end > s.size()) end = s.size();
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + base64(s.substr(i, end - i)) + "?=";
    i = end;
    room = 75;  // after the folding space
  }
  return out;
}

// Text with every line end (LF, CR or CRLF) as CRLF, ending with one.
std::string to_crlf(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    if (text[i] == '\n' || text[i] == '\r')
      out += "\r\n";
    else
      out += text[i];
  }
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out += "\r\n";
  return out;
}

// CRLF text with every line that starts with "." given one more (RFC 5321 4.5.2).
std::string dot_stuffed(std::string_view crlf_text) {
  std::string out;
  bool line_start = true;
  for (char c : crlf_text) {
    if (line_start && c == '.') out += '.';
    out += c;
    line_start = c == '\n';
  }
  return out;
}

bool is_address(std::string_view a) {
  auto at = a.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == a.size() ||
      a.find('@', at + 1) != std::string_view::npos)
    return false;
  for (char c : a)
    if (static_cast<unsigned char>(c) <= 0x20 || c == '<' || c == '>' || c == ',' || c == 0x7f)
      return false;
  return true;
}

// An SMTP reply: its code (0 when the connection failed) and its text.
struct Reply {
  int code = 0;
  std::string text;
};

// One SMTP session on a socket, every read and write bounded by one deadline.
class Session {
 public:
  Session(Clock::time_point deadline) : deadline_(deadline) {}
  ~Session() {
    if (fd_ >= 0) ::close(fd_);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Connects; false with error_ set.
  bool connect(const std::string& host, const std::string& port) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
      error_ = "cannot resolve " + host + ": " + ::gai_strerror(rc);
      return false;
    }
    std::string last = "no address";
    for (addrinfo* a = res; a; a = a->ai_next) {
      int fd =
          ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
      if (fd < 0) continue;
      int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
      if (rc != 0 && errno == EINPROGRESS && wait(fd, POLLOUT)) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        rc = err == 0 ? 0 : -1;
        errno = err;
      }
      if (rc == 0) {
        fd_ = fd;
        break;
      }
      last = timed_out_ ? "timed out" : std::strerror(errno);
      ::close(fd);
      if (timed_out_) break;
    }
    ::freeaddrinfo(res);
    if (fd_ < 0) error_ = "cannot connect to " + host + ":" + port + ": " + last;
    return fd_ >= 0;
  }

  bool send(std::string_view data) {
    while (!data.empty()) {
      if (!wait(fd_, POLLOUT)) return fail_io("sending");
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) return fail_io("sending");
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads one (possibly multi-line) reply.
  Reply read_reply() {
    Reply r;
    for (;;) {
      std::string line;
      if (!read_line(line)) return Reply{0, error_};
      if (line.size() < 3 || !std::isdigit(static_cast<unsigned char>(line[0]))) {
        error_ = "malformed SMTP reply: " + line.substr(0, 100);
        return Reply{0, error_};
      }
      r.text += (r.text.empty() ? "" : " | ") + line;
      if (line.size() == 3 || line[3] != '-') {
        r.code = std::stoi(line.substr(0, 3));
        return r;
      }
    }
  }

  Reply command(const std::string& line) {
    if (!send(line + "\r\n")) return Reply{0, error_};
    return read_reply();
  }

  const std::string& error() const { return error_; }
  bool timed_out() const { return timed_out_; }

 private:
  bool wait(int fd, short events) {
    for (;;) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
      if (left <= 0) {
        timed_out_ = true;
        errno = ETIMEDOUT;
        return false;
      }
      pollfd p{fd, events, 0};
      int rc = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
      if (rc > 0) return true;
      if (rc < 0 && errno != EINTR) return false;
    }
  }
  bool fail_io(const char* what) {
    error_ = timed_out_ ? std::string("timed out ") + what
                        : std::string(what) + ": " + std::strerror(errno);
    return false;
  }
  bool read_line(std::string& line) {
    for (;;) {
      auto nl = buffer_.find("\r\n");
      if (nl != std::string::npos) {
        line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 2);
        return true;
      }
      if (buffer_.size() > 64 * 1024) {
        error_ = "SMTP reply line too long";
        return false;
      }
      if (!wait(fd_, POLLIN)) return fail_io("waiting for a reply");
      char chunk[4096];
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n < 0) return fail_io("reading a reply");
      if (n == 0) {
        error_ = "the server closed the connection";
        return false;
      }
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  Clock::time_point deadline_;
  int fd_ = -1;
  std::string buffer_, error_;
  bool timed_out_ = false;
};

std::string rfc5322_date(std::int64_t ms) {
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  static const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
                tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::string hex(std::string_view s) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (char c : s) {
    out += digits[static_cast<unsigned char>(c) >> 4];
    out += digits[static_cast<unsigned char>(c) & 15];
  }
  return out;
}

class SmtpNotifier final : public Notifier {
 public:
  explicit SmtpNotifier(const Host& host) : host_(host) {
    server_ = host.config_or("/host", "");
    port_ = host.config_or("/port", "25");
    from_ = host.config_or("/from", "");
    from_name_ = host.config_or("/fromName", "");
    username_ = host.config_or("/username", "");
    password_ = host.config_or("/password", "");
    helo_ = host.config_or("/heloName", "bihuan.localdomain");
    timeout_ = std::chrono::milliseconds(std::stoll(host.config_or("/timeoutMs", "30000")));
    eight_bit_ = host.config_or("/bodyEncoding", "base64") == "8bit";
    default_subject_ = host.config_or("/defaultSubject", "Bihuan notification");
    if (!username_.empty() && password_.empty())
      throw std::runtime_error("username is set but password is not");
  }

  Result notify(const Message& m) override {
    if (m.to.empty()) return Result::fail("the message has no recipients");
    for (auto to : m.to)
      if (!is_address(to))
        return Result::fail("recipient \"" + std::string(to) + "\" is not an e-mail address");
    Session s(Clock::now() + timeout_);
    if (!s.connect(server_, port_)) return Result::retry(s.error());
    Reply r = s.read_reply();
    if (r.code != 220) return outcome("greeting", r, s);
    r = s.command("EHLO " + helo_);
    bool esmtp = r.code == 250;
    if (!esmtp) {
      if (r.code == 0) return outcome("EHLO", r, s);
      r = s.command("HELO " + helo_);
      if (r.code != 250) return outcome("HELO", r, s);
    }
    bool eight_bit = eight_bit_ && esmtp && r.text.find("8BITMIME") != std::string::npos;
    if (!username_.empty()) {
      r = s.command("AUTH PLAIN " +
                    base64(std::string(1, '\0') + username_ + std::string(1, '\0') + password_));
      if (r.code != 235) return outcome("AUTH PLAIN", r, s);
    }
    r = s.command("MAIL FROM:<" + from_ + ">" + (eight_bit ? " BODY=8BITMIME" : ""));
    if (r.code != 250) return outcome("MAIL FROM", r, s);
    for (auto to : m.to) {
      r = s.command("RCPT TO:<" + std::string(to) + ">");
      if (r.code != 250 && r.code != 251) return outcome("RCPT TO:<" + std::string(to) + ">", r, s);
    }
    r = s.command("DATA");
    if (r.code != 354) return outcome("DATA", r, s);
    if (!s.send(compose(m, eight_bit) + ".\r\n")) return Result::retry(s.error());
    r = s.read_reply();
    if (r.code != 250) return outcome("end of DATA", r, s);
    s.command("QUIT");  // the message is accepted: the QUIT reply does not matter
    return Result::ok(r.text);
  }

 private:
  // A failed step: 4xx, timeouts and broken connections retry, 5xx fails. Says RSET/QUIT.
  Result outcome(const std::string& step, const Reply& r, Session& s) {
    std::string what =
        "SMTP " + server_ + ":" + port_ + ": " + step + ": " + (r.code ? r.text : s.error());
    if (r.code) s.command("QUIT");
    if (r.code >= 500) return Result::fail(what);
    return Result::retry(what);
  }

  std::string compose(const Message& m, bool eight_bit) const {
    std::string h;
    h += "From: " +
         (from_name_.empty() ? from_ : encode_header_text(from_name_, 6) + " <" + from_ + ">") +
         "\r\n";
    std::string to;
    for (auto t : m.to) to += (to.empty() ? "" : ",\r\n ") + std::string(t);
    h += "To: " + to + "\r\n";
    h += "Subject: " +
         encode_header_text(m.subject.empty() ? std::string_view(default_subject_) : m.subject, 9) +
         "\r\n";
    h += "Date: " + rfc5322_date(host_.now_ms()) + "\r\n";
    h += "Message-ID: <" + hex(m.key) + "@bihuan>\r\n";
    if (is_ascii_printable(m.key)) h += "X-Bihuan-Key: " + std::string(m.key) + "\r\n";
    h += "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n";
    std::string body;
    if (eight_bit) {
      h += "Content-Transfer-Encoding: 8bit\r\n";
      body = to_crlf(m.text);
    } else {
      h += "Content-Transfer-Encoding: base64\r\n";
      std::string b = base64(to_crlf(m.text));  // text/plain's canonical form: CRLF line ends
      for (std::size_t i = 0; i < b.size(); i += 76) body += b.substr(i, 76) + "\r\n";
    }
    return dot_stuffed(h + "\r\n" + body);
  }

  Host host_;
  std::string server_, port_, from_, from_name_, username_, password_, helo_, default_subject_;
  std::chrono::milliseconds timeout_{30000};
  bool eight_bit_ = false;
};

}  // namespace

BIHUAN_PLUGIN(SmtpNotifier, "notify.smtp", "1.0.0", kSchema,
              "Sends each notification as an e-mail through SMTP")
