#include "sql/pg_connection.h"

#include <libpq-fe.h>

#include <array>
#include <cstring>
#include <vector>

namespace blobsync {

namespace {

// Type OIDs (server/catalog/pg_type_d.h) of parameters and results we convert.
constexpr Oid kBoolOid = 16, kByteaOid = 17, kInt8Oid = 20, kInt2Oid = 21, kInt4Oid = 23, kTextOid = 25,
              kOidOid = 26;

Errc code_for(std::string_view state) {
  if (state.starts_with("23") || state == "40001" || state == "40P01") return Errc::kConflict;
  if (state == "55P03" || state == "57014") return Errc::kTimeout;
  if (state.starts_with("22")) return Errc::kInvalidArgument;
  if (state.starts_with("28") || state == "42501") return Errc::kPermissionDenied;
  if (state == "3D000") return Errc::kNotFound;
  if (state == "53100") return Errc::kNoSpace;
  if (state.starts_with("42") || state.starts_with("0A")) return Errc::kInternal;  // our SQL is wrong
  return Errc::kIOError;
}

std::string one_line(const char* msg) {
  std::string s = msg ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s)
    if (c == '\n') c = ' ';
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// BYTEA in the text output format ("\x0a1b...", bytea_output = hex).
std::string decode_bytea(const char* text, int len) {
  std::string out;
  if (len < 2 || text[0] != '\\' || text[1] != 'x') return std::string(text, static_cast<std::size_t>(len));
  out.reserve(static_cast<std::size_t>(len - 2) / 2);
  for (int i = 2; i + 1 < len; i += 2) {
    int hi = hex_value(text[i]), lo = hex_value(text[i + 1]);
    if (hi < 0 || lo < 0) break;
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

}  // namespace

std::string number_placeholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int n = 0;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    char c = sql[i];
    if (c == '\'' || c == '"') {  // literal or quoted identifier; doubled quotes stay inside
      std::size_t end = i + 1;
      while (end < sql.size() && sql[end] != c) ++end;
      out.append(sql.substr(i, end + 1 - i));
      i = end;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      std::size_t end = sql.find('\n', i);
      if (end == std::string_view::npos) end = sql.size() - 1;
      out.append(sql.substr(i, end + 1 - i));
      i = end;
    } else if (c == '?') {
      out += "$" + std::to_string(++n);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool pg_retryable(std::string_view sqlstate) { return sqlstate == "40001" || sqlstate == "40P01"; }

Result<std::unique_ptr<PgConnection>> PgConnection::connect(std::string_view url, const PgOptions& options) {
  std::string dsn(url);
  std::string timeout = std::to_string(options.connect_timeout.count());
  // Earlier keywords are defaults: the expanded URL (dbname) overrides them.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {timeout.c_str(), "blobsync", dsn.c_str(), nullptr};
  // Reject a malformed URL up front with libpq's own explanation.
  char* parse_error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(dsn.c_str(), &parse_error);
  if (!parsed) {
    std::string msg = one_line(parse_error ? parse_error : "out of memory");
    PQfreemem(parse_error);
    // libpq quotes the URL, which may hold a password.
    for (auto at = msg.find(dsn); !dsn.empty() && at != std::string::npos; at = msg.find(dsn))
      msg.replace(at, dsn.size(), "...");
    return fail(Errc::kInvalidArgument, "bad PostgreSQL URL: {}", msg);
  }
  PQconninfoFree(parsed);
  PGconn* raw = PQconnectdbParams(keys, values, 1);
  if (!raw) return fail(Errc::kIOError, "PostgreSQL: out of memory");
  std::unique_ptr<PgConnection> conn(new PgConnection(raw));
  if (PQstatus(raw) != CONNECTION_OK) {
    std::string msg = one_line(PQerrorMessage(raw));
    Errc code = Errc::kIOError;
    if (msg.find("password") != std::string::npos || msg.find("authentication") != std::string::npos)
      code = Errc::kPermissionDenied;
    else if (msg.find("does not exist") != std::string::npos)
      code = Errc::kNotFound;
    return make_error(code, fmt::format("cannot connect to PostgreSQL: {}", msg));
  }
  PQsetNoticeProcessor(raw, [](void*, const char*) {}, nullptr);  // "already exists, skipping" etc.
  std::string setup = fmt::format(
      "SET client_min_messages = warning; SET lock_timeout = '{}s'; SET statement_timeout = '{}s'; "
      "SET idle_in_transaction_session_timeout = '{}s'; SET bytea_output = 'hex'",
      options.lock_timeout.count(), options.statement_timeout.count(), options.statement_timeout.count());
  if (auto r = conn->exec(setup); !r) return std::unexpected(r.error());
  return conn;
}

PgConnection::~PgConnection() { PQfinish(conn_); }

bool PgConnection::broken() const { return PQstatus(conn_) != CONNECTION_OK; }

bool PgConnection::alive() {
  // Twice: the first read may return the server's parting message, the
  // second then sees the end of the stream.
  for (int i = 0; i < 2; ++i)
    if (PQconsumeInput(conn_) != 1) return false;
  return !broken();
}

std::string PgConnection::describe() const {
  const char* host = PQhost(conn_);
  std::string h = host ? host : "";
  if (h.find(':') != std::string::npos) h = "[" + h + "]";
  return fmt::format("postgresql://{}@{}:{}/{}", PQuser(conn_), h, PQport(conn_), PQdb(conn_));
}

Result<> PgConnection::exec(std::string_view sql) {
  std::string s(sql);
  ResultPtr res(PQexec(conn_, s.c_str()));
  auto status = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
    sqlstate_.clear();
    return {};
  }
  return std::unexpected(failure(res.get(), "in", sql));
}

Error PgConnection::failure(pg_result* res, std::string_view what, std::string_view sql) {
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  sqlstate_ = state ? state : "";
  std::string msg = one_line(res ? PQresultErrorMessage(res) : nullptr);
  if (msg.empty()) msg = one_line(PQerrorMessage(conn_));
  return Error{code_for(sqlstate_), fmt::format("postgresql: {} ({}: {})", msg, what, sql.substr(0, 200))};
}

Result<std::string> PgConnection::prepared(std::string_view sql, std::span<const SqlParam> params) {
  std::string key(sql);
  std::vector<Oid> types;
  key.push_back('\0');
  for (const SqlParam& p : params) {
    Oid t = std::visit(
        [](const auto& v) -> Oid {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::nullptr_t>) return 0;
          else if constexpr (std::is_same_v<T, std::int64_t>) return kInt8Oid;
          else if constexpr (std::is_same_v<T, std::string_view>) return kTextOid;
          else return kByteaOid;
        },
        p);
    types.push_back(t);
    key += std::to_string(t) + ",";
  }
  if (auto it = statements_.find(key); it != statements_.end()) return it->second;
  std::string name = "b" + std::to_string(statements_.size() + 1);
  std::string text = number_placeholders(sql);
  ResultPtr res(PQprepare(conn_, name.c_str(), text.c_str(), static_cast<int>(types.size()), types.data()));
  if (!res || PQresultStatus(res.get()) != PGRES_COMMAND_OK) return std::unexpected(failure(res.get(), "preparing", sql));
  statements_.emplace(std::move(key), name);
  return name;
}

Result<SqlResult> PgConnection::query(std::string_view sql, std::span<const SqlParam> params) {
  auto name = prepared(sql, params);
  if (!name) return std::unexpected(name.error());
  // Every parameter goes in binary: integers big-endian, text and bytes as is.
  std::vector<std::array<char, 8>> ints(params.size());
  std::vector<const char*> values(params.size());
  std::vector<int> lengths(params.size()), formats(params.size(), 1);
  static const char kEmpty = 0;
  for (std::size_t i = 0; i < params.size(); ++i) {
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::nullptr_t>) {
            values[i] = nullptr;
          } else if constexpr (std::is_same_v<T, std::int64_t>) {
            auto u = static_cast<std::uint64_t>(v);
            for (int b = 0; b < 8; ++b) ints[i][static_cast<std::size_t>(b)] = static_cast<char>(u >> (56 - 8 * b));
            values[i] = ints[i].data();
            lengths[i] = 8;
          } else if constexpr (std::is_same_v<T, std::string_view>) {
            values[i] = v.empty() ? &kEmpty : v.data();
            lengths[i] = static_cast<int>(v.size());
          } else {
            values[i] = v.data.empty() ? &kEmpty : reinterpret_cast<const char*>(v.data.data());
            lengths[i] = static_cast<int>(v.data.size());
          }
        },
        params[i]);
  }
  ResultPtr res(PQexecPrepared(conn_, name->c_str(), static_cast<int>(params.size()), values.data(), lengths.data(),
                               formats.data(), 0));
  auto status = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return std::unexpected(failure(res.get(), "in", sql));
  sqlstate_.clear();
  int ncols = PQnfields(res.get()), nrows = PQntuples(res.get());
  SqlResult out(ncols);
  for (int r = 0; r < nrows; ++r) {
    for (int c = 0; c < ncols; ++c) {
      if (PQgetisnull(res.get(), r, c)) {
        out.push(std::monostate{});
        continue;
      }
      const char* v = PQgetvalue(res.get(), r, c);
      int len = PQgetlength(res.get(), r, c);
      switch (PQftype(res.get(), c)) {
        case kBoolOid: out.push(std::int64_t{v[0] == 't' ? 1 : 0}); break;
        case kInt2Oid:
        case kInt4Oid:
        case kInt8Oid:
        case kOidOid: out.push(static_cast<std::int64_t>(std::strtoll(v, nullptr, 10))); break;
        case kByteaOid: out.push(decode_bytea(v, len)); break;
        default: out.push(std::string(v, static_cast<std::size_t>(len))); break;
      }
    }
  }
  // PQcmdTuples counts SELECTed rows too; only changes count as affected.
  if (!std::string_view(PQcmdStatus(res.get())).starts_with("SELECT"))
    out.set_affected(std::strtoll(PQcmdTuples(res.get()), nullptr, 10));
  return out;
}

}  // namespace blobsync
