// SyncConfig: the settings of the WebSocket sync endpoint (/sync/<room>):
// identity, tokens, limits, persistence and blob-channel tuning. Every field
// has a working default; `blobsync serve` fills them from its config keys.
//
// Thread safety: a plain value; immutable once a SyncEndpoint is created.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace blobsync::sync {

struct SyncConfig {
  // This server's identity in every room's _blobRegistry: its public sync URL.
  std::string url = "ws://127.0.0.1:3913/sync";
  // Where meta.db lives (the same database as the blob index).
  std::filesystem::path data_dir = "data";
  // Interrupted blob-channel uploads; default DATA/sync-staging.
  std::filesystem::path staging_dir;

  // Who may connect (sync/access.h decides). Static pre-shared tokens:
  std::vector<std::string> tokens;           // read-write
  std::vector<std::string> read_only_tokens;  // sync step 2 / updates dropped, uploads FORBIDDEN
  // Whether every connection needs a token; unset: only when `tokens` or
  // `read_only_tokens` is non-empty (otherwise the server is open).
  std::optional<bool> require_token;
  // Room tokens (sync/room_token.h): the HS256 key (empty: none accepted),
  // and tokens_not_before (Unix seconds, 0: none): tokens issued earlier
  // are refused.
  std::vector<std::uint8_t> room_token_secret;
  std::int64_t tokens_not_before = 0;
  // Bytes a room token may add (uploads, document updates) unless its
  // `quota` claim says otherwise; 0: no quota (docs/security.md, "Quotas").
  std::uint64_t room_token_quota = 1ull << 30;
  // The mesh's token (MeshConfig::peer_token): what this server presents to
  // its peers. peer_tokens: what it accepts from peers (a peer gets `_mesh`,
  // no chunk re-hash, no fetch on its behalf); empty: peer_token is
  // accepted. Never a client token (config load refuses an overlap).
  std::string peer_token;
  std::vector<std::string> peer_tokens;

  // Rooms.
  std::chrono::milliseconds room_idle_timeout{60'000};
  // A WebSocket peer silent for half of this is pinged; closed if nothing comes back in the other half.
  std::chrono::milliseconds ws_idle_timeout{60'000};  // unload after this long with no connection
  std::size_t max_connections = 20'000;                 // extra WebSocket connections get 1013
  std::size_t max_message_bytes = (8u << 20) + (64u << 10);  // largest frame accepted (larger: 1009)
  // Bytes queued per connection, each way: a reader slower than the queue
  // is disconnected; a sender whose messages wait for the room this much is
  // not read from until they are processed.
  std::size_t max_queued_bytes = 16u << 20;
  // Room limits (issue 18, docs/security.md "Limits"; room_manager.h); 0: no limit.
  std::size_t max_rooms = 10'000;                 // rooms in memory (active + parked)
  std::uint32_t max_new_rooms_per_address = 60;   // rooms a client address brings into memory per minute
  bool gc = true;                                       // Yjs garbage collection of deleted content

  // Document limits (issue 18, docs/security.md "Limits"); 0: no limit.
  // Past one an update or awareness change is refused with a protocol error
  // to its sender; a stored update past one at load is quarantined.
  struct DocLimits {
    std::uint64_t max_pending_structs = 10'000;  // out-of-order structs + deletes waiting
    std::uint64_t max_pending_bytes = 16ull << 20;
    std::uint64_t max_doc_bytes = 64ull << 20;       // estimated: stored size + deltas since load
    std::uint64_t max_awareness_bytes = 64ull << 10;  // one client's awareness state (JSON)
  };
  DocLimits doc_limits;

  // Persistence: the update log is folded into a snapshot past these.
  std::uint64_t compact_updates = 1000;
  std::uint64_t compact_bytes = 1u << 20;
  bool fsync = true;  // synchronous=FULL (durable on power loss); false: NORMAL

  // Blob channel.
  std::uint64_t max_blob_bytes = 100ull * 1024 * 1024;  // same default as HTTP max_upload_bytes
  std::vector<std::string> allowed_mime;               // empty: default_allowed_mime() (store/mime_policy.h)
  std::uint32_t window = 16;                           // chunks in flight per transfer (<= 256)
  std::size_t max_transfers_per_connection = 8;
  std::size_t max_uploads = 64;                        // concurrent uploads, whole server
  std::size_t max_uploads_per_connection = 8;          // (within max_transfers_per_connection)
  std::chrono::milliseconds upload_idle_timeout{60'000};  // no chunk this long: ERROR, claim released
  std::uint64_t max_staging_bytes = 4ull << 30;        // declared sizes of all staged uploads; more: BUSY
  std::chrono::hours staging_expiry{24};
  unsigned blob_threads = 2;                           // disk and hashing work

  // Registry maintenance: reconcile runs this long (plus random jitter up to
  // the same again) after a remote change to _blobRegistry.
  std::chrono::milliseconds reconcile_delay{250};
  // On clean shutdown, remove this server from every registry entry it is
  // listed in (issue 6 decides whether serve turns this on).
  bool withdraw_on_shutdown = false;
};

}  // namespace blobsync::sync
