#include "pg/pg_conn.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <vector>

namespace bihuan::pg {
namespace {

std::string trimmed(const char* s) {
  std::string t = s ? s : "";
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  return t;
}

// Names the server from what libpq used (defaults included), never the password.
std::string describe(PGconn* c) {
  std::string host = trimmed(PQhost(c)), port = trimmed(PQport(c));
  std::string out = "PostgreSQL at ";
  if (host.empty() || host.front() == '/' || host.front() == '@')
    out += "socket " + (host.empty() ? std::string("(default directory)") : host);
  else
    out += host;
  if (!port.empty()) out += " port " + port;
  out += ", database " + trimmed(PQdb(c)) + ", user " + trimmed(PQuser(c));
  return out;
}

}  // namespace

void Result::Clear::operator()(pg_result* r) const { PQclear(r); }

bool Result::ok() const {
  if (!r_) return false;
  auto s = PQresultStatus(r_.get());
  return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

int Result::rows() const { return r_ ? PQntuples(r_.get()) : 0; }

std::string_view Result::value(int row, int col) const {
  if (!r_ || PQgetisnull(r_.get(), row, col)) return {};
  return {PQgetvalue(r_.get(), row, col),
          static_cast<std::size_t>(PQgetlength(r_.get(), row, col))};
}

std::string Result::error(std::string_view fallback) const {
  const char* primary = r_ ? PQresultErrorField(r_.get(), PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  if (!primary) {
    std::string msg = r_ ? trimmed(PQresultErrorMessage(r_.get())) : "";
    if (msg.empty()) msg = std::string(fallback);
    if (msg.empty()) msg = "no result came back (the connection was lost)";
    return msg;
  }
  std::string out = primary;
  if (const char* state = PQresultErrorField(r_.get(), PG_DIAG_SQLSTATE))
    out += std::string(" (SQLSTATE ") + state + ")";
  return out;
}

std::string Result::sqlstate() const {
  const char* state = r_ ? PQresultErrorField(r_.get(), PG_DIAG_SQLSTATE) : nullptr;
  return state ? state : "";
}

std::string Result::command() const { return r_ ? PQcmdStatus(r_.get()) : ""; }

std::unique_ptr<Conn> Conn::connect(const std::string& conninfo, const ConnectDefaults& d,
                                    std::string* error) {
  // Our defaults first: keywords later in the array, the expanded conninfo among them,
  // override earlier ones (libpq's rule), so the caller's settings win.
  std::string timeout = std::to_string(d.connect_timeout_s);
  std::string user_timeout = std::to_string(d.tcp_user_timeout_ms);
  std::string options =
      "-c statement_timeout=" + std::to_string(std::max(0, d.statement_timeout_ms));
  const char* keys[] = {"connect_timeout", "tcp_user_timeout", "options", "dbname", nullptr};
  const char* values[] = {timeout.c_str(), user_timeout.c_str(), options.c_str(), conninfo.c_str(),
                          nullptr};
  PGconn* c = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (!c) {
    if (error) *error = "PostgreSQL: libpq could not allocate a connection (out of memory)";
    return nullptr;
  }
  if (PQstatus(c) != CONNECTION_OK) {
    if (error) *error = describe(c) + ": cannot connect: " + trimmed(PQerrorMessage(c));
    PQfinish(c);
    return nullptr;
  }
  std::unique_ptr<Conn> conn(new Conn(c, describe(c)));
  // Notices ("relation ... already exists, skipping") are not errors: no stderr for them.
  // But an error that arrives between statements (pg_terminate_backend's FATAL, sent before
  // the server closes the socket) dooms the connection.
  PQsetNoticeReceiver(c, &Conn::on_notice, conn.get());
  return conn;
}

void Conn::on_notice(void* self, const PGresult* r) {
  const char* severity = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
  if (severity && (std::string_view(severity) == "FATAL" || std::string_view(severity) == "PANIC"))
    static_cast<Conn*>(self)->doomed_ = true;
}

Conn::~Conn() { PQfinish(conn_); }

Result Conn::exec(std::string_view sql, std::span<const Param> params) {
  std::string text(sql);
  std::vector<Oid> types;
  std::vector<const char*> values;
  std::vector<int> lengths, formats;
  for (const auto& p : params) {
    types.push_back(p.oid);
    values.push_back(p.bytes.data() ? p.bytes.data() : "");
    lengths.push_back(static_cast<int>(p.bytes.size()));
    formats.push_back(1);
  }
  return Result(PQexecParams(conn_, text.c_str(), static_cast<int>(params.size()), types.data(),
                             values.data(), lengths.data(), formats.data(), /*resultFormat=*/1));
}

bool Conn::run(std::string_view sql, std::string* error) {
  Result r(PQexec(conn_, std::string(sql).c_str()));
  if (r.ok()) return true;
  if (error) *error = r.error(last_error());
  return false;
}

Result Conn::query(std::string_view sql) { return Result(PQexec(conn_, std::string(sql).c_str())); }

std::string Conn::last_error() const { return trimmed(PQerrorMessage(conn_)); }
bool Conn::broken() const { return doomed_ || PQstatus(conn_) != CONNECTION_OK; }
bool Conn::idle() const { return PQtransactionStatus(conn_) == PQTRANS_IDLE; }
bool Conn::failed_txn() const { return PQtransactionStatus(conn_) == PQTRANS_INERROR; }

bool Conn::alive() {
  // A terminated backend sends a FATAL error, then closes: a read may take the message (the
  // socket may still be open), a later one the end of the stream (libpq's sockets never
  // block).
  for (int i = 0; i < 3 && !broken(); ++i) {
    if (PQconsumeInput(conn_) != 1) break;
    PQisBusy(conn_);  // parses what came: a FATAL notice dooms the connection (on_notice)
  }
  return !broken();
}

int Conn::backend_pid() const { return PQbackendPID(conn_); }

bool Conn::reset(std::string* error) {
  PQreset(conn_);
  doomed_ = false;
  if (PQstatus(conn_) == CONNECTION_OK) return true;
  if (error) *error = server_ + ": cannot reconnect: " + last_error();
  return false;
}

}  // namespace bihuan::pg
