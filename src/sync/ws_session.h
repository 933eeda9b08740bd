// WsSession: one WebSocket connection on /sync/<room> (Boost.Beast, binary
// frames, one message per frame). Accepts the upgrade the HTTP server handed
// over, checks the room name and the token, joins the room, then reads
// messages: blob-channel frames (types 10-20) go to the connection's
// BlobChannel, everything else to the room.
//
//   - Reads are paced: at most 64 messages and SyncConfig::max_queued_bytes
//     in the room's queue and 8 MiB of blob chunks in flight per connection,
//     so a fast sender cannot make the server buffer without bound.
//   - Writes to an idle plain-TCP connection go straight to the socket from
//     the sending thread (sync/coalescing_socket.h); otherwise through a
//     queue. A reader so slow that the queue holds more than
//     SyncConfig::max_queued_bytes loses its queue and is closed with 1013
//     (the TCP connection cut 5 s later if it does not read that far).
//   - The session keeps the HTTP server's connection slot
//     (UpgradeContext::slot): it counts under max_connections until it ends.
//   - Beast pings after 30 s without traffic from the peer and closes the
//     connection 30 s later if nothing (no pong) came back; the room sends
//     a keep-alive after 15 s without any message to the peer.
//   - Invalid room name: HTTP 400 instead of the upgrade. Bad token:
//     accepted, then closed with 4401. Too many connections: closed 1013.
//
// Thread safety: the Connection methods may be called from any thread;
// everything else runs on the connection's strand.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <stop_token>
#include <thread>
#include <unordered_map>

#include "sync/conn_pool.h"
#include "sync/connection.h"
#include "sync/token_quota.h"

namespace blobsync::http {
struct UpgradeContext;
}

namespace blobsync::sync {

struct BlobChannelDeps;
class RoomManager;
struct SyncConfig;

// The open sessions, for counting and for closing them all at shutdown. Its
// sweep (one thread, started by the first add(), every kSweepPeriod) calls
// Connection::sweep() on each: one timer for every dormant connection
// instead of Beast's per-stream idle timer.
class SessionRegistry {
 public:
  static constexpr std::chrono::milliseconds kSweepPeriod{500};
  SessionRegistry() = default;
  ~SessionRegistry();  // stops the sweep
  ConnId add(std::weak_ptr<Connection> conn);
  void remove(ConnId id);
  std::size_t size() const;
  // Closes every open connection with `code`.
  void close_all(std::uint16_t code, std::string_view reason);
  // Stops and joins the sweep for good (shutdown, after close_all(): a dormant connection's close
  // has its own timer). Before the io_contexts the sweep posts to go away.
  void stop_sweep();
  // Dormant connections (no Beast stream state; ws_session.cpp), for the metrics.
  std::size_t dormant() const { return static_cast<std::size_t>(dormant_.load(std::memory_order_relaxed)); }
  void count_dormant(int delta) { dormant_.fetch_add(delta, std::memory_order_relaxed); }

 private:
  void sweep_loop(std::stop_token stop);

  mutable std::mutex mu_;
  ConnId next_ = 1;
  // guarded by mu_; its nodes from the pool (conn_pool.h): they live as long as their connections
  std::unordered_map<ConnId, std::weak_ptr<Connection>, std::hash<ConnId>, std::equal_to<ConnId>,
                     ConnAllocator<std::pair<const ConnId, std::weak_ptr<Connection>>>>
      conns_;
  std::atomic<std::int64_t> dormant_{0};
  std::int64_t trimmed_at_ = 0;  // the sweep's: dormant_ when it last trimmed the heap
  std::condition_variable_any wake_;  // with mu_: wakes the sweep to stop
  bool sweep_stopped_ = false;        // guarded by mu_: stop_sweep() ran, add() starts none
  std::jthread sweeper_;              // last: stopped and joined before the rest goes
};

// Called once per upgrade: every 256, free heap pages go back to the kernel.
void release_freed_memory();

struct SessionDeps {
  const SyncConfig& config;
  RoomManager& rooms;
  BlobChannelDeps& blobs;
  SessionRegistry& sessions;
  std::string prefix;            // "/sync/"
  std::weak_ptr<void> owner;     // sessions lock it: keeps the above alive while they exist
  TokenQuotas* quotas = nullptr;  // room-token storage quotas (null: none kept)
};

// Takes over an upgraded connection. Call on the connection's strand.
void start_ws_session(SessionDeps& deps, std::unique_ptr<http::UpgradeContext> ctx);

}  // namespace blobsync::sync
