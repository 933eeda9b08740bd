// Connection: what a room needs from one WebSocket client: queue messages,
// close it, and tell when it last got something (for keep-alives). WsSession
// implements it; tests use fakes.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace blobsync::sync {

class TokenQuota;

using ConnId = std::uint64_t;
using SharedBytes = std::shared_ptr<const std::vector<std::uint8_t>>;

inline SharedBytes share_bytes(std::vector<std::uint8_t> bytes) {
  return std::make_shared<const std::vector<std::uint8_t>>(std::move(bytes));
}

class Connection {
 public:
  virtual ~Connection() = default;
  virtual ConnId id() const = 0;
  // Queues messages, sent in order, one WebSocket frame each. Never blocks;
  // a connection whose queue outgrows its limit is closed instead.
  virtual void send(std::vector<SharedBytes> messages) = 0;
  // The same for a batch shared by many connections (a room's broadcast):
  // no per-connection copy of the list.
  virtual void send_shared(std::span<const SharedBytes> messages) {
    send(std::vector<SharedBytes>(messages.begin(), messages.end()));
  }
  virtual void close(std::uint16_t code, std::string_view reason) = 0;
  // Steady-clock milliseconds when a message was last queued.
  virtual std::int64_t last_send_ms() const = 0;
  // What this connection's document updates are charged to (its room
  // token's quota, sync/token_quota.h); null: no quota.
  virtual TokenQuota* write_quota() { return nullptr; }
  // Called by the session registry's sweep about twice a second (steady
  // milliseconds), from its own thread: a WebSocket session lets an idle
  // connection go dormant and keeps a dormant one alive (ws_session.h).
  virtual void sweep(std::int64_t /*now_ms*/) {}
};

}  // namespace blobsync::sync
