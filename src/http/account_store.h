// AccountStore: local accounts and refresh-token sessions, in tables of the
// shared metadata database (component "http_accounts").
//
// DIDs are minted locally as did:plc: + 24 base32 characters and are NOT
// registered with any PLC directory. Passwords are hashed with argon2id
// (libsodium crypto_pwhash_str, interactive limits: ~64 MiB, so callers run
// create/authenticate off the I/O threads).
//
// Runs on any SqlDb (SQLite or PostgreSQL); handles and emails are UNIQUE
// columns, so two servers creating the same handle at once get one account
// and one HandleNotAvailable.
//
// Thread safety: safe for concurrent use.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "http/xrpc_error.h"

namespace blobsync {
class SqlDb;
}

namespace blobsync::http {

struct Account {
  std::string did;
  std::string handle;
  std::string email;
  std::int64_t created_at = 0;  // unix seconds
};

class AccountStore {
 public:
  static Result<std::unique_ptr<AccountStore>> open(std::shared_ptr<SqlDb> db);

  // Errors: 400 InvalidHandle, HandleNotAvailable, InvalidRequest (email in
  // use, bad email, empty or long password).
  XResult<Account> create(std::string_view handle, std::string_view email, std::string_view password);
  // identifier: handle, email or DID. Costs one argon2id verification
  // whether or not the account exists (a missing one is checked against a
  // dummy hash), so timing does not tell which. Errors: 401
  // AuthenticationRequired (the same for both).
  XResult<Account> authenticate(std::string_view identifier, std::string_view password);
  // Errors: 400 AccountNotFound.
  XResult<Account> get(std::string_view did_or_handle);

  // Refresh sessions: a jti is valid until used (rotation) or revoked.
  Result<> add_session(std::string_view jti, std::string_view did, std::int64_t expires_at);
  // Removes the jti; true if it existed and belonged to did.
  Result<bool> take_session(std::string_view jti, std::string_view did);

  // One-time e-mail-style tokens ("ABCDE-23456"), one per account and
  // purpose (a new one replaces the last). This server sends no e-mail: the
  // caller logs the token for the operator to pass on.
  XResult<std::string> issue_token(std::string_view did, std::string_view purpose);
  // Compares in constant time (core/secret_compare.h), case-insensitively.
  // The token is used up when it matches. Errors: 400 InvalidToken (none
  // issued, or another), 400 ExpiredToken (older than max_age_s).
  XResult<> use_token(std::string_view did, std::string_view purpose, std::string_view token, std::int64_t max_age_s);
  // Deletes the account, its sessions and its tokens (records and blobs are
  // RepoStore::delete_account). Returns whether it existed.
  XResult<bool> remove(std::string_view did);

  static bool valid_handle(std::string_view handle);
  // Whether the built-in dummy hash has the limits create() hashes with (a
  // test: libsodium's interactive limits changing would make open() compute one).
  static bool dummy_hash_current();

 private:
  explicit AccountStore(std::shared_ptr<SqlDb> db) : db_(std::move(db)) {}
  // REQUIRES: `column` is one of did, handle, email (it is pasted into SQL).
  XResult<Account> find(std::string_view column, std::string_view value, std::string* password_hash = nullptr);
  std::shared_ptr<SqlDb> db_;
  std::string dummy_hash_;  // argon2id, create()'s limits
};

}  // namespace blobsync::http
