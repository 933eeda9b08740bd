// MeshConfig: the settings of the leaderless server mesh (docs/architecture.md,
// "Topology, replication and failure handling"): which peers to keep in sync
// with, which blobs to replicate, and the timings of reconnects, retries,
// holder pruning and the clean-shutdown flush. Every field has a working
// default; `blobsync serve` fills them from `peers = [...]`, `--peer`,
// `peer_token`, the `mesh_*` and the `tls_*` config keys.
//
// Thread safety: a plain value; immutable once a Mesh is created.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "client/tls_context.h"
#include "client/ws_url.h"
#include "core/error.h"

namespace blobsync::mesh {

// The User-Agent of the mesh's connections to other servers, for their logs.
// It grants nothing: peer_token does (no replicate on fetch for it, no chunk
// re-hash; sync/access.h).
inline constexpr char kMeshUserAgent[] = "blobsync-mesh/1";

enum class Replication {
  kAll,       // fetch every blob listed in a hosted room's registry
  kOnDemand,  // fetch only when a client asks for a blob this server lacks
};

// "all" | "on-demand". Errors: kInvalidArgument naming the accepted values.
Result<Replication> parse_replication(std::string_view text);
std::string_view replication_name(Replication r);

// Logs the tls_insecure warning for one connection about to be made to
// `url` when it is over TLS and `tls` verifies nothing; else nothing.
void warn_if_insecure(const client::TlsContext& tls, const client::WsUrl& url);

struct MeshConfig {
  // Other servers' public sync URLs (ws://host:port/sync, or wss:// for a
  // peer that serves TLS). This server's own
  // URL (SyncConfig::url) may appear in the list and is skipped, so every
  // server of a mesh can share one list.
  std::vector<std::string> peers;
  // Token presented to peers (?token=), and only to them; empty: none. Never
  // a client token by default: servers of a mesh share it, and each accepts
  // its own peer_token (SyncConfig::peer_token).
  std::string peer_token;
  // URL prefixes (ws://host:port[/path], matched on whole components, see
  // DialPolicy) of registry holders that are not peers but may be fetched
  // from and probed, with no token. Empty: only peers are ever dialed.
  std::vector<std::string> mesh_allow;
  // Trust for wss:// peers and holders: the system's store unless ca_file
  // is set; `insecure` verifies nothing (tests only, warned loudly).
  client::TlsOptions tls;

  Replication replication = Replication::kAll;
  // A server asked (REQUEST) for a blob it lacks fetches it from another
  // holder listed in the room's registry, then serves it.
  bool replicate_on_fetch = true;
  // Background replication skips blobs larger than this (0: SyncConfig::max_blob_bytes).
  std::uint64_t replicate_max_bytes = 0;

  // Bounded concurrency: blobs fetched at once (whole server), spread over
  // up to this many connections per holder (a holder serves at most
  // SyncConfig::max_transfers_per_connection, 8 by default, on each).
  unsigned max_fetches = 8;
  unsigned connections_per_holder = 4;
  // Threads of the mesh's io_context (links, rooms, transfers; transfers
  // write chunks synchronously, so more threads than cores hide fsyncs) and
  // of its pool for blocking work (ingest of fetched blobs, store lookups).
  unsigned io_threads = 4;
  unsigned threads = 4;

  // Peer links reconnect after jittered exponential backoff, forever.
  std::chrono::milliseconds link_backoff_initial{250};
  std::chrono::milliseconds link_backoff_max{30'000};
  std::chrono::milliseconds connect_timeout{10'000};
  // A blob whose fetch failed from every holder waits before the next
  // background attempt (jittered, doubling up to the max).
  std::chrono::milliseconds blob_backoff_initial{1'000};
  std::chrono::milliseconds blob_backoff_max{300'000};
  // A holder that sends nothing for this long fails the transfer.
  std::chrono::milliseconds fetch_idle_timeout{30'000};

  // Holder pruning (docs/protocol.md, "Pruning stale holders"): a holder
  // continuously unreachable for prune_after is removed from entries of
  // blobs this server holds and is listed for. 0 disables pruning.
  std::chrono::milliseconds prune_after = std::chrono::hours(24);
  // How often holders that are not peers are probed, and pruning runs.
  std::chrono::milliseconds probe_interval = std::chrono::minutes(10);

  // How often the mesh looks for newly created local rooms and re-scans
  // registries for blobs whose backoff expired.
  std::chrono::milliseconds tick_interval{1'000};
  std::chrono::milliseconds rescan_interval{10'000};

  // Clean shutdown: how long to wait for peers to confirm they have this
  // server's withdrawal from the registry.
  std::chrono::milliseconds shutdown_flush_timeout{5'000};

  // Partially fetched blobs (resumable); default DATA/mesh-partial.
  std::filesystem::path partial_dir;
};

}  // namespace blobsync::mesh
