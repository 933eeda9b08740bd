// PeerLink: keeps one local room in sync with the same room on one peer
// server. It is a RoomClient to the peer in relay mode plus an in-process
// sync::Connection joined to the local Room, relaying every Yjs frame (sync
// and awareness) both ways, so to the peer this server is an ordinary
// y-websocket client and to the local room the peer is an ordinary
// connection:
//
//   local room --[0,0,SV] greeting--> link --> peer   (our SyncStep1)
//   peer --[0,1,diff]--> link --> local room          (applied, persisted,
//                                                      broadcast locally)
//   peer --[0,0,SV]--> link --> local room --[0,1,diff]--> link --> peer
//   updates either side --[0,2,u]--> the other side
//
// Every server links to every peer for every room it hosts, so a change
// reaches each server more than once; applying a known update is a no-op in
// Yjs and produces no broadcast, so relaying terminates. Awareness is relayed
// too (presence works across servers; clocks make duplicates no-ops).
//
// Failures: when the connection drops or cannot be opened, the link leaves
// the local room and retries after jittered exponential backoff (capped),
// forever; a connection that reached sync resets the backoff. Each attempt's
// outcome goes to HolderHealth (holder pruning).
//
// flush() proves delivery: it sends a SyncStep1 through the local room
// (whose reply is queued behind every earlier message to the link) and then
// one to the peer; the peer's SyncStep2 answer is held until what it applied
// before is durable there, so when it arrives the peer has persisted
// everything the local room had sent on this link.
//
// Thread safety: every public method may be called from any thread; state
// lives on the link's strand (the RoomClient runs on a strand nested in it).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "client/tls_context.h"
#include "crdt/lib0.h"

namespace blobsync::sync {
class Room;
}

namespace blobsync::mesh {

class HolderHealth;

struct PeerLinkOptions {
  std::string peer;  // the peer's sync URL, ws://host:port/sync or wss://...
  std::shared_ptr<client::TlsContext> tls;  // trust for a wss:// peer (null: the system's store)
  std::string room;
  std::string token;
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds backoff_initial{250};
  std::chrono::milliseconds backoff_max{30'000};
};

class PeerLink : public std::enable_shared_from_this<PeerLink> {
 public:
  enum class State { kConnecting, kUp, kBackoff, kStopped };

  struct Status {
    State state = State::kConnecting;
    bool synced = false;         // the peer answered our SyncStep1 on this connection
    bool local_closed = false;   // the local room went away: the link must be replaced
    std::uint64_t connects = 0;  // successful connections
    std::uint64_t failures = 0;  // failed attempts and dropped connections
    std::uint64_t frames_in = 0, frames_out = 0;
    std::string last_error;
  };

  // REQUIRES: health outlives the link.
  static std::shared_ptr<PeerLink> create(boost::asio::any_io_executor ex, PeerLinkOptions options,
                                          std::shared_ptr<sync::Room> room, HolderHealth& health);
  ~PeerLink();

  const std::string& peer() const;
  const std::string& room() const;

  void start();
  // Closes the connection and leaves the local room; no reconnect.
  void stop();

  // done(true) once the peer has durably applied everything the local room
  // queued to this link before the call; done(false) at the timeout, or if
  // the link is or goes down. `state_vector`: any recent state vector of the
  // room (keeps the probe replies small).
  void flush(crdt::Bytes state_vector, std::chrono::milliseconds timeout, std::function<void(bool)> done);

  Status status() const;

  struct Impl;

 private:
  explicit PeerLink(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

std::string_view link_state_name(PeerLink::State s);

}  // namespace blobsync::mesh
