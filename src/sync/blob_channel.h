// BlobChannel: the server side of the blob channel (docs/protocol.md) for one
// WebSocket connection. Created on the connection's first blob message, so a
// plain y-websocket client never gets a blob message.
//
//   UPLOAD  -> policy checks (at most max_uploads_per_connection here and
//              max_uploads on the server, within max_staging_bytes; more:
//              BUSY; within the room token's quota, else QUOTA_EXCEEDED), WANT with the missing ranges (resuming staged
//              chunks), CHUNKs verified and pwritten to staging, CREDIT per
//              chunk, then the whole blob ingested through BlobStore
//              (expected = its hash, the HTTP MIME policy applied), staging
//              removed, this server announced in the room's _blobRegistry,
//              DONE. An upload with no CHUNK for upload_idle_timeout gets
//              ERROR (CANCELLED) and ends; its staging stays for a resume
//              unless it holds nothing.
//   REQUEST -> only a blob the connection's room lists (ConnectionDeps::listed),
//              permanent and not quarantined (a temporary XRPC upload is never
//              read through a room);
//              (a blob the store lacks: ConnectionDeps::fetch_missing first, if set)
//              META, then CHUNKs read one at a time from the store (each
//              re-checked against its chunk hash), at most `window`
//              uncredited and only while the connection's write queue is
//              short, then DONE.
//   HAVE    -> HAVE_REPLY (at most kMaxHaveHashes; a blob counts as held only
//              if it could be read here: listed in the room, permanent, not
//              quarantined).   CANCEL -> the transfer stops, no reply.
// Errors go back as ERROR for the request; an ERROR, CANCEL or late message
// for an unknown or finished request is never answered, so two peers cannot
// loop. Memory: at most `window` chunk frames per transfer are held.
//
// Disk and hashing run on a worker pool; state lives on the connection's
// strand: every method here must be called there (ConnectionDeps::post gets back).
//
// Thread safety: strand-confined, see above.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "protocol/blob_messages.h"
#include "sync/connection.h"
#include "sync/room_store.h"
#include "sync/sync_config.h"

namespace blobsync {
class BlobStore;
class MimePolicy;
}  // namespace blobsync

namespace blobsync::sync {

class UploadStaging;
class TokenQuota;
class StagedUpload;

// Shared by every connection of a SyncEndpoint.
struct BlobChannelDeps {
  const SyncConfig& config;
  BlobStore& store;
  UploadStaging& staging;
  const MimePolicy& mime;
  // Runs a task on the worker pool (disk, hashing).
  std::function<void(std::function<void()>)> run_blocking;
  // Replicate on fetch (set by the mesh): fetches a blob this server lacks
  // from another holder listed in `room`'s registry; done (any thread) once
  // it is stored. Empty: a REQUEST for a missing blob is NOT_FOUND at once.
  std::function<void(const std::string& room, const Digest& hash, std::function<void(Result<>)> done)> fetch_missing;
  // Runs fn on any thread after `delay` unless the returned function is
  // called first (upload idle timeouts). Empty: uploads never time out.
  std::function<std::function<void()>(std::chrono::milliseconds delay, std::function<void()> fn)> run_after;
};

class BlobChannel : public std::enable_shared_from_this<BlobChannel> {
 public:
  // This connection's (BlobChannelDeps are every connection's).
  struct ConnectionDeps {
    std::function<void(SharedBytes)> send;             // queue one frame (thread-safe)
    std::function<void(std::function<void()>)> post;   // run on the connection's strand
    std::function<std::size_t()> queued_bytes;         // the connection's unsent bytes
    // Announce in the connection's room; done may run on any thread.
    std::function<void(const AnnouncedBlob&, std::function<void(Result<>)>)> announce;
    // Fetch a missing blob before answering a REQUEST (the connection's room
    // bound in); empty for connections from other servers, so two servers
    // whose registries list each other never wait on each other.
    std::function<void(const Digest&, std::function<void(Result<>)>)> fetch_missing;
    // Which of these blobs the connection's room lists (Room::listed; done
    // on any thread): through a room, only those are read (REQUEST, HAVE).
    std::function<void(std::vector<Digest>, std::function<void(std::vector<bool>)>)> listed;
    // The hold an upload's blob is stored with: the room's ("room:<room>@<url>",
    // room_holds.h).
    std::string hold;
    bool read_only = false;
    // The other end is another server of the mesh, proven by a peer token
    // (sync/access.h; never a header). It reads any permanent blob without
    // `listed` (heals fetch through the directory room), and its replicator
    // checks every chunk, so served chunks skip this server's re-check
    // (clients get chunks re-hashed as read: a damaged disk shows up here as
    // an error rather than at the client).
    bool peer = false;
    // The connection's room-token quota (sync/token_quota.h): an UPLOAD
    // reserves its size (over it: QUOTA_EXCEEDED, nothing staged); a stored
    // blob is charged, a blob already held costs nothing. Null: no quota.
    std::shared_ptr<TokenQuota> quota;
  };

  // A download pauses while the connection has more than this unsent.
  static constexpr std::size_t kQueueHighWater = 4u << 20;

  BlobChannel(BlobChannelDeps& deps, ConnectionDeps conn);
  ~BlobChannel();

  void on_frame(std::vector<std::uint8_t> frame);
  // The connection's write queue went below kQueueHighWater.
  void on_drained();
  // The connection is gone: stop everything; staging stays for a resume.
  void close();
  // Chunk bytes received and not yet on disk (for pacing reads).
  std::size_t buffered_bytes() const { return buffered_; }

 private:
  struct Upload;
  struct Download;

  void on_upload(protocol::UploadMsg m);
  void on_chunk(std::vector<std::uint8_t> frame, const protocol::ChunkMsg& m);
  void on_request(protocol::RequestMsg m);
  // conn_.listed for these hashes, back on the strand (all true for a peer).
  void check_listed(std::vector<Digest> hashes, std::function<void(std::vector<bool>)> then);
  void serve_request(protocol::RequestMsg m, std::uint64_t gen, bool may_fetch);
  void on_have(protocol::HaveMsg m);
  void answer_have(protocol::HaveMsg m, std::uint64_t gen, std::vector<bool> listed);
  void on_credit(const protocol::CreditMsg& m);
  void end(std::uint64_t req);

  void start_upload(std::uint64_t req);
  void chunk_written(std::uint64_t req, std::uint64_t index, std::size_t bytes, Result<std::string> sniffed);
  void finalize(std::uint64_t req);
  void pump(std::uint64_t req);
  // Ends the upload if it stays without a chunk for upload_idle_timeout.
  void watch_idle(std::uint64_t req, const std::shared_ptr<Upload>& up);
  // Deletes the staging of an ended upload that holds no chunk.
  void drop_if_empty(const std::shared_ptr<Upload>& up);

  void send(const protocol::BlobMessage& m);
  void error(std::uint64_t req, protocol::BlobErrorCode code, std::string message);
  bool check_new_req(std::uint64_t req);
  bool recently_ended(std::uint64_t req) const;

  BlobChannelDeps& deps_;
  ConnectionDeps conn_;
  bool closed_ = false;
  std::size_t buffered_ = 0;
  std::map<std::uint64_t, std::shared_ptr<Upload>> uploads_;
  std::map<std::uint64_t, std::shared_ptr<Download>> downloads_;
  // Requests waiting for a worker or the room (HAVE, REQUEST), each with its
  // generation: a callback of a cancelled request never answers a later
  // request that reuses its id.
  std::map<std::uint64_t, std::uint64_t> pending_;
  std::uint64_t next_gen_ = 0;
  std::uint64_t add_pending(std::uint64_t req) { return pending_[req] = ++next_gen_; }
  bool still_pending(std::uint64_t req, std::uint64_t gen) const {
    auto it = pending_.find(req);
    return it != pending_.end() && it->second == gen;
  }
  std::deque<std::uint64_t> ended_;        // recent finished requests: late messages are ignored
};

}  // namespace blobsync::sync
