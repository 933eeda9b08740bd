// MeshReport: a snapshot of the mesh's state for `blobsync peers` (GET
// /peers, JSON) and /metrics (Prometheus text lines), and the renderers.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace blobsync::mesh {

struct PeerReport {
  std::string url;
  std::string state;               // "up" (every room synced), "partial", "down", "idle" (no rooms yet)
  std::uint64_t rooms = 0;          // rooms with a link to this peer
  std::uint64_t rooms_up = 0;       // links connected
  std::uint64_t rooms_synced = 0;   // links that completed the initial sync
  std::uint64_t blobs_pending = 0;  // fetches queued or running that list this peer as a holder
  std::uint64_t blobs_failed = 0;   // fetch attempts from this peer that failed
  std::uint64_t blobs_fetched = 0;
  std::uint64_t link_failures = 0;
  std::optional<double> down_for_seconds;  // continuously unreachable for this long
  std::string last_error;
};

struct MeshReport {
  std::string self;
  std::string replication;
  // Counters are all uint64_t so that one table in mesh_report.cpp can name
  // each by member pointer.
  std::uint64_t rooms = 0;
  std::vector<PeerReport> peers;
  std::uint64_t fetches_active = 0, fetches_queued = 0, blobs_backing_off = 0;
  std::uint64_t blobs_replicated = 0, bytes_replicated = 0, fetch_failures = 0, holders_pruned = 0;
  // Distinct blobs background replication skips: a holder's META said they
  // are larger than this server's limit (registry sizes are not trusted).
  std::uint64_t blobs_too_large = 0;
  // Distinct registry holder URLs this server will not dial: neither a peer
  // nor under mesh_allow (saturates at DialPolicy::kMaxLogged).
  std::uint64_t holders_refused = 0;
};

std::string render_peers_json(const MeshReport& r);
std::string render_mesh_metrics(const MeshReport& r);

// Parses render_peers_json output (for the CLI). Errors: kInvalidArgument.
Result<MeshReport> parse_peers_json(std::string_view json);

}  // namespace blobsync::mesh
