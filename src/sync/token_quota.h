// TokenQuotas: storage quotas of room tokens (docs/security.md, "Quotas").
// A room token may add at most its limit in bytes (its `quota` claim, else
// room_token_quota): blob-channel uploads it stores (a blob this server
// already held costs nothing) and the document updates it sends (each
// update's encoded size). Usage only grows (a token is short-lived; a new
// user session gets a new token); it is counted per key (sync/room_token.h
// quota_key: "sub:<sub>" or "jwt:<signature hash>"), so a reconnect or a
// re-minted token of the same `sub` continues where the last one stopped.
//
// Usage lives in memory while a connection of the key is open, loaded from
// meta.db (sync table token_usage) on first use and written back through
// the RoomStore's write queue: one job per batch of changes, however many
// updates they were (no database round trip per message). Uploads reserve
// their declared size at UPLOAD (core/quota_ledger.h), so parallel uploads
// of one token cannot together pass its quota.
//
// A crash may lose the last batch (the usage then errs low by at most what
// was charged since the previous write). Servers of a mesh count
// separately: a token used on two servers may add its quota on each.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>

#include "core/quota_ledger.h"

namespace blobsync::sync {

class RoomStore;
class TokenQuota;

class TokenQuotas {
 public:
  // `store` must outlive every TokenQuota handed out.
  explicit TokenQuotas(RoomStore& store);
  ~TokenQuotas();

  // The quota of one connection: loads the key's usage if no connection
  // has it loaded (a synchronous meta.db read). limit 0: counted, unlimited.
  std::shared_ptr<TokenQuota> open(const std::string& key, std::uint64_t limit);

  struct State;

 private:
  std::shared_ptr<State> s_;
};

class TokenQuota {
 public:
  TokenQuota(std::shared_ptr<TokenQuotas::State> s, std::string key, std::uint64_t limit);
  ~TokenQuota();
  TokenQuota(const TokenQuota&) = delete;
  TokenQuota& operator=(const TokenQuota&) = delete;

  const std::string& key() const { return key_; }
  std::uint64_t limit() const { return limit_; }
  // Bytes this key has added so far (persisted or about to be).
  std::uint64_t used() const;

  // An upload of `bytes` (its declared size): a reservation, or the refusal
  // as one line for the client.
  std::expected<QuotaLedger::Reservation, std::string> reserve(std::uint64_t bytes);
  // The reserved upload was stored: its bytes are added to the usage.
  void charge(QuotaLedger::Reservation& r);
  // A document update of `bytes`: added, or the refusal (nothing added).
  std::optional<std::string> try_add(std::uint64_t bytes);
  // Takes back a try_add() whose update then failed to apply.
  void refund(std::uint64_t bytes);

 private:
  std::shared_ptr<TokenQuotas::State> s_;
  std::string key_;
  std::uint64_t limit_;
};

}  // namespace blobsync::sync
