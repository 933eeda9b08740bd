// RoomCore: the y-websocket protocol logic of one room, without any I/O:
// the document, the awareness states and which connection controls which
// awareness client. Room (room.h) drives it on the room's strand and carries
// out the effects; the fuzz target and unit tests drive it directly.
//
// Behaviour (reference: y-websocket bin/utils.js):
//   join          -> [0,0,SV] to the new connection, then [1,all states] if any
//   [0,0,sv]      -> [0,1,encodeStateAsUpdate(sv)] to the sender
//   [0,1|2,u]     -> applied (dropped for read-only connections); the delta
//                    the document emits is persisted and broadcast as
//                    [0,2,delta] to ALL connections, sender included
//   [1,update]    -> applied; [1,changed states] to all connections
//   [2,...]       -> ignored
//   [3]           -> [1,all states] to the sender
//   anything else, or malformed -> a protocol error to the sender (never
//                    fatal to the room): y-protocols auth message
//                    [2, 0 (permission denied), "blobsync protocol error: ..."]
//                    which y-websocket logs as a warning and otherwise ignores.
//   leave         -> the connection's awareness clients are removed and the
//                    removal broadcast
//
// Limits (SyncConfig::DocLimits): an update that would leave too many
// structs pending, or add content to a document past max_doc_bytes, and an
// awareness state past max_awareness_bytes, get a protocol error naming the
// limit (what the update integrated before reaching the pending limit stays).
// The sender's room-token quota (sync/token_quota.h) is charged each
// update's encoded size; one that would pass it is refused the same way.
//
// Thread safety: not thread-safe; one thread (strand) at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/error.h"
#include "crdt/lib0.h"
#include "protocol/awareness.h"
#include "sync/connection.h"
#include "sync/sync_config.h"
#include "sync/token_quota.h"

namespace blobsync::crdt {
class Doc;
}

namespace blobsync::sync {

inline constexpr ConnId kAllConnections = 0;

struct Outgoing {
  ConnId to = kAllConnections;
  SharedBytes msg;
  bool reveals_doc = false;  // carries document state: held until that state is durable
};

struct RoomEffects {
  std::vector<Outgoing> out;
  std::vector<crdt::Bytes> persist;    // document deltas to make durable, in order
  bool registry_changed_remotely = false;
  std::vector<std::string> registry_keys;  // _blobRegistry keys changed (by anyone), for RoomHolds
  std::vector<std::string> errors;     // protocol errors, for the log
};

class RoomCore {
 public:
  explicit RoomCore(bool gc = true, SyncConfig::DocLimits limits = {});
  ~RoomCore();
  RoomCore(const RoomCore&) = delete;
  RoomCore& operator=(const RoomCore&) = delete;

  // Applies persisted state (a v1 snapshot, may be empty, then the log)
  // without producing effects. Returns the entries that failed to apply or
  // broke a limit (the caller quarantines them; the rest is kept).
  struct LoadFailure {
    std::size_t index = 0;  // into the log; kSnapshot for the snapshot
    std::string reason;
  };
  static constexpr std::size_t kSnapshot = SIZE_MAX;
  std::vector<LoadFailure> load(crdt::ByteView snapshot, const std::vector<crdt::Bytes>& log);
  // The document's size as the max_doc_bytes limit sees it: what was loaded
  // plus every delta since (an over-estimate), made exact by the caller
  // whenever it encodes the whole document anyway (compaction). Structs
  // waiting for their dependencies are in that encoding (as in yjs) but not
  // in the estimate: the pending limits bound them, and counting them here
  // would let one client spend a room's document budget with updates that
  // never apply.
  std::uint64_t doc_bytes() const { return doc_bytes_; }
  void set_doc_bytes(std::uint64_t encoded_size);

  void join(ConnId conn, RoomEffects& fx);
  void leave(ConnId conn, RoomEffects& fx);
  // quota: the sender's room-token quota (null: none); an update that would
  // pass it is refused whole, like one past max_doc_bytes.
  void handle(ConnId conn, std::span<const std::uint8_t> msg, bool read_only, std::int64_t now_ms, RoomEffects& fx,
              TokenQuota* quota = nullptr);
  // Drops awareness states not renewed for 30 s (as the reference server's
  // Awareness does) and broadcasts their removal.
  void expire_awareness(std::int64_t now_ms, RoomEffects& fx);
  // Runs a change made by this server (registry maintenance); its delta is
  // persisted and broadcast like any other.
  void local_change(const std::function<void(crdt::Doc&)>& fn, RoomEffects& fx);

  crdt::Doc& doc() { return *doc_; }
  std::size_t connection_count() const { return conns_.size(); }
  const protocol::Awareness& awareness() const { return awareness_; }
  // The origin tag of local_change transactions.
  static const void* local_origin();

  // [1, empty awareness update]: y-websocket treats any message as a sign of
  // life and this one changes nothing.
  static SharedBytes keepalive_message();
  static SharedBytes protocol_error_message(std::string_view text);

 private:
  void error(ConnId conn, std::string text, RoomEffects& fx);
  void broadcast_awareness(const protocol::AwarenessChange& change, RoomEffects& fx);

  SyncConfig::DocLimits limits_;
  std::unique_ptr<crdt::Doc> doc_;
  std::uint64_t doc_bytes_ = 0;
  protocol::Awareness awareness_;
  // conn -> awareness clients it controls. Both start at two buckets, not
  // the 13 (104 bytes) libstdc++ gives a default-constructed one on its
  // first insert: a room mostly has a few connections of one client each.
  static constexpr std::size_t kFewBuckets = 2;
  std::unordered_map<ConnId, std::unordered_set<std::uint64_t>> conns_ = decltype(conns_)(kFewBuckets);
  RoomEffects* fx_ = nullptr;  // where the doc's update observer reports, during a call
};

}  // namespace blobsync::sync
