#include "http/account_store.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <chrono>

#include "core/base32.h"
#include "core/secret_compare.h"
#include "sql/sql_db.h"

namespace blobsync::http {

namespace {

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string new_did() {
  std::uint8_t raw[15];  // 120 bits = exactly 24 base32 characters
  randombytes_buf(raw, sizeof raw);
  return "did:plc:" + base32::encode_lower(std::span<const std::uint8_t>(raw, sizeof raw));
}

XrpcFailure db_failure(const Error& e) { return to_xrpc(Error{Errc::kInternal, e.message}); }

// What a login for a missing account verifies against, so that it costs what
// a wrong password for a real account costs (no account enumeration by
// timing). An argon2id hash with the limits create() uses (of a password
// nobody types); open() makes a fresh one if libsodium's limits ever change.
constexpr const char* kDummyHash =
    "$argon2id$v=19$m=65536,t=2,p=1$m7d6B0WaxmPkbXLbQchY2A$M9xC4CviXZWGNN5BK0/jvDbtlYT+6UBd57iyqihFFa0";

}  // namespace

Result<std::unique_ptr<AccountStore>> AccountStore::open(std::shared_ptr<SqlDb> db) {
  if (sodium_init() < 0) return fail(Errc::kInternal, "libsodium failed to initialise");
  auto m = db->migrate("http_accounts",
                       {"CREATE TABLE account(did TEXT PRIMARY KEY, handle TEXT NOT NULL UNIQUE, "
                        "email TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL, created_at ${INT} NOT NULL);"
                        "CREATE TABLE refresh_session(jti TEXT PRIMARY KEY, did TEXT NOT NULL, "
                        "expires_at ${INT} NOT NULL);",
                        // 2: tokens mailed by the reference PDS (requestAccountDelete), logged here.
                        "CREATE TABLE account_token(did TEXT NOT NULL, purpose TEXT NOT NULL, token TEXT NOT NULL, "
                        "issued_at ${INT} NOT NULL, PRIMARY KEY(did, purpose));"});
  if (!m) return std::unexpected(m.error());
  std::unique_ptr<AccountStore> store(new AccountStore(std::move(db)));
  store->dummy_hash_ = kDummyHash;
  if (crypto_pwhash_str_needs_rehash(kDummyHash, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                     crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    char hash[crypto_pwhash_STRBYTES];
    std::uint8_t raw[16];
    randombytes_buf(raw, sizeof raw);
    if (crypto_pwhash_str_alg(hash, reinterpret_cast<const char*>(raw), sizeof raw, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0)
      return fail(Errc::kInternal, "out of memory while hashing a password");
    store->dummy_hash_ = hash;
  }
  return store;
}

bool AccountStore::dummy_hash_current() {
  return crypto_pwhash_str_needs_rehash(kDummyHash, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                        crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0;
}

bool AccountStore::valid_handle(std::string_view h) {
  if (h.empty() || h.size() > 253) return false;
  std::size_t labels = 0, start = 0;
  std::string_view last;
  while (start <= h.size()) {
    auto dot = h.find('.', start);
    if (dot == std::string_view::npos) dot = h.size();
    auto label = h.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    last = label;
    ++labels;
    start = dot + 1;
  }
  return labels >= 2 && !std::isdigit(static_cast<unsigned char>(last.front()));
}

XResult<Account> AccountStore::create(std::string_view handle_in, std::string_view email_in,
                                      std::string_view password) {
  std::string handle = lower(handle_in);
  std::string email = lower(email_in);
  if (!valid_handle(handle)) return xfail(400, "InvalidHandle", "Handle is not a valid domain name (e.g. alice.test)");
  auto at = email.find('@');
  bool control = std::any_of(email.begin(), email.end(), [](unsigned char ch) { return ch < 0x20 || ch == 0x7f; });
  if (email.size() > 254 || at == std::string::npos || at == 0 || at + 1 >= email.size() || control)
    return xfail(400, "InvalidRequest", "A valid email address is required");
  if (password.empty()) return xfail(400, "InvalidRequest", "A password is required");
  if (password.size() > 256) return xfail(400, "InvalidRequest", "Password is too long (max 256 bytes)");

  // Hash outside the db lock: it is the slow part.
  char hash[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(hash, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                            crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0)
    return xfail(503, "NotEnoughResources", "Out of memory while hashing the password");

  Account a{new_did(), handle, email, now_s()};
  std::optional<XrpcFailure> taken;
  auto r = db_->transaction([&](SqlConn& c) -> Result<> {
    taken.reset();
    auto h = c.query("SELECT 1 FROM account WHERE handle = ?", {std::string_view(handle)});
    if (!h) return std::unexpected(h.error());
    if (!h->empty()) {
      taken = XrpcFailure{400, "HandleNotAvailable", "Handle already taken: " + handle};
      return {};
    }
    auto e = c.query("SELECT 1 FROM account WHERE email = ?", {std::string_view(email)});
    if (!e) return std::unexpected(e.error());
    if (!e->empty()) {
      taken = XrpcFailure{400, "InvalidRequest", "Email already taken: " + email};
      return {};
    }
    auto ins = c.query("INSERT INTO account(did, handle, email, password_hash, created_at) VALUES(?,?,?,?,?)",
                       {std::string_view(a.did), std::string_view(a.handle), std::string_view(a.email),
                        std::string_view(hash), a.created_at});
    if (!ins) return std::unexpected(ins.error());
    return {};
  });
  if (taken) return std::unexpected(*taken);
  if (!r) {
    // Another server created the same handle or email between our check and insert.
    if (r.error().code == Errc::kConflict)
      return xfail(400, "HandleNotAvailable", "Handle or email already taken: " + handle);
    return std::unexpected(db_failure(r.error()));
  }
  return a;
}

XResult<Account> AccountStore::find(std::string_view column, std::string_view value, std::string* password_hash) {
  std::string sql = "SELECT did, handle, email, created_at, password_hash FROM account WHERE " + std::string(column) +
                    " = ?";
  auto res = db_->read(sql, {value});
  if (!res) return std::unexpected(db_failure(res.error()));
  if (res->empty()) return xfail(400, "AccountNotFound", "Account not found");
  if (password_hash) *password_hash = res->text(0, 4);
  return Account{res->text(0, 0), res->text(0, 1), res->text(0, 2), res->int64(0, 3)};
}

XResult<Account> AccountStore::get(std::string_view id) {
  if (id.starts_with("did:")) return find("did", id);
  return find("handle", lower(id));
}

XResult<Account> AccountStore::authenticate(std::string_view identifier, std::string_view password) {
  std::string id = lower(identifier);
  std::string column = id.starts_with("did:") ? "did" : id.find('@') != std::string::npos ? "email" : "handle";
  if (password.size() > 256) return xfail(401, "AuthenticationRequired", "Invalid identifier or password");
  std::string stored;
  auto a = find(column, column == "did" ? std::string(identifier) : id, &stored);
  if (!a && a.error().status != 400) return a;
  // Always one argon2id verification, against the dummy hash when there is
  // no account: a missing account costs what a wrong password costs.
  // crypto_pwhash_str_verify compares in constant time.
  bool real = a && !stored.empty();
  bool ok = crypto_pwhash_str_verify(real ? stored.c_str() : dummy_hash_.c_str(), password.data(), password.size()) == 0;
  if (!real || !ok) return xfail(401, "AuthenticationRequired", "Invalid identifier or password");
  return a;
}

Result<> AccountStore::add_session(std::string_view jti, std::string_view did, std::int64_t expires_at) {
  // Drop expired sessions while we are here. Housekeeping only: a row left
  // behind is harmless (its token is refused once past exp) and the next
  // add_session tries again, so its failure does not fail the login.
  (void)db_->query("DELETE FROM refresh_session WHERE expires_at < ?", {now_s()});
  auto r = db_->query("INSERT INTO refresh_session(jti, did, expires_at) VALUES(?,?,?)", {jti, did, expires_at});
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<bool> AccountStore::take_session(std::string_view jti, std::string_view did) {
  auto r = db_->query("DELETE FROM refresh_session WHERE jti = ? AND did = ?", {jti, did});
  if (!r) return std::unexpected(r.error());
  return r->affected() > 0;
}

XResult<std::string> AccountStore::issue_token(std::string_view did, std::string_view purpose) {
  // 50 random bits in the reference PDS's form: 5 + 5 base32 characters.
  std::uint8_t raw[7];
  randombytes_buf(raw, sizeof raw);
  std::string b32 = base32::encode_lower(std::span<const std::uint8_t>(raw, sizeof raw));
  std::string token;
  for (std::size_t i = 0; i < 10; ++i) {
    if (i == 5) token += '-';
    token += static_cast<char>(std::toupper(static_cast<unsigned char>(b32[i])));
  }
  auto r = db_->query(
      "INSERT INTO account_token(did, purpose, token, issued_at) VALUES(?,?,?,?) ON CONFLICT(did, purpose) DO UPDATE "
      "SET token = excluded.token, issued_at = excluded.issued_at",
      {did, purpose, std::string_view(token), now_s()});
  if (!r) return std::unexpected(db_failure(r.error()));
  return token;
}

XResult<> AccountStore::use_token(std::string_view did, std::string_view purpose, std::string_view token,
                                  std::int64_t max_age_s) {
  auto r = db_->read("SELECT token, issued_at FROM account_token WHERE did = ? AND purpose = ?", {did, purpose});
  if (!r) return std::unexpected(db_failure(r.error()));
  std::string given(token.substr(0, 64));
  for (auto& c : given) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  // A missing row is compared against a stand-in, so timing tells nothing.
  std::string stored = r->empty() ? std::string("-no-token-issued-") : r->text(0, 0);
  bool match = secrets_equal(given, stored) && !r->empty();
  if (!match) return xfail(400, "InvalidToken", "Token is invalid");
  if (now_s() - r->int64(0, 1) > max_age_s) return xfail(400, "ExpiredToken", "Token is expired");
  auto del = db_->query("DELETE FROM account_token WHERE did = ? AND purpose = ? AND token = ?",
                        {did, purpose, std::string_view(stored)});
  if (!del) return std::unexpected(db_failure(del.error()));
  // Two requests racing with one token: only the one that removed it goes on.
  if (del->affected() == 0) return xfail(400, "InvalidToken", "Token is invalid");
  return {};
}

XResult<bool> AccountStore::remove(std::string_view did) {
  bool existed = false;
  auto r = db_->transaction([&](SqlConn& c) -> Result<> {
    auto a = c.query("DELETE FROM account WHERE did = ?", {did});
    if (!a) return std::unexpected(a.error());
    existed = a->affected() > 0;
    for (const char* sql : {"DELETE FROM refresh_session WHERE did = ?", "DELETE FROM account_token WHERE did = ?"}) {
      if (auto x = c.query(sql, {did}); !x) return std::unexpected(x.error());
    }
    return {};
  });
  if (!r) return std::unexpected(db_failure(r.error()));
  return existed;
}

}  // namespace blobsync::http
