// Awareness: the server's copy of a room's awareness states (cursors, user
// names...), with the exact apply and removal rules of y-protocols'
// awareness.js, so the server can relay updates and remove a connection's
// states when it closes.
//
// States are kept as the JSON text the client sent; the server never needs to
// look inside them beyond telling `null` (a removal) from anything else.
//
// Thread safety: not thread-safe; a room uses it from its own strand.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"

namespace blobsync::protocol {

struct AwarenessChange {
  std::vector<std::uint64_t> added, updated, removed;

  // Every client the change touched (the set y-websocket re-broadcasts).
  std::vector<std::uint64_t> all() const;
  bool empty() const { return added.empty() && updated.empty() && removed.empty(); }
};

class Awareness {
 public:
  // Applies an awareness update (the payload of a type-1 message:
  // varUint n, then n x (varUint client, varUint clock, varString JSON)).
  // Errors: kInvalidArgument for malformed bytes or JSON, kTooLarge for a
  // state longer than max_state_bytes (0: no limit); nothing is applied then.
  Result<AwarenessChange> apply_update(std::span<const std::uint8_t> update, std::int64_t now_ms,
                                       std::uint64_t max_state_bytes = 0);

  // Removes states (a closed connection's clients): bumps each clock so peers
  // accept the removal. Unknown ids are ignored.
  AwarenessChange remove(const std::vector<std::uint64_t>& clients, std::int64_t now_ms);

  // Removes states not renewed for `timeout_ms` (y-protocols: 30 s).
  AwarenessChange expire(std::int64_t now_ms, std::int64_t timeout_ms = 30000);

  // Encodes an update for the given clients (removed ones as "null").
  std::vector<std::uint8_t> encode_update(const std::vector<std::uint64_t>& clients) const;
  // Encodes every live state (sent to a connection when it joins).
  std::vector<std::uint8_t> encode_all() const;

  bool has_states() const { return !states_.empty(); }
  std::size_t state_count() const { return states_.size(); }
  const std::string* state_of(std::uint64_t client) const;

 private:
  struct Meta {
    std::uint64_t clock = 0;
    std::int64_t last_updated_ms = 0;
  };
  std::map<std::uint64_t, std::string> states_;  // client -> JSON text (never "null")
  std::map<std::uint64_t, Meta> meta_;           // kept after removal, as in y-protocols
};

}  // namespace blobsync::protocol
