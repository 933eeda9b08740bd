// plan_heal: where a server gets a verified copy of a blob its store
// quarantined (store/scrubber.h), and which registry entries stop listing it
// meanwhile (docs/architecture.md, "Quarantine and scrub").
//
//   - Ask the configured peers listed as holders of the blob in the hosted
//     rooms' registries; if none is listed, every peer (a peer's store
//     answers REQUEST for any blob it holds, whatever the room). Only peers:
//     a heal never dials a URL that merely appears in a registry.
//   - Withdraw this server from each entry that lists it and another holder
//     at once (a client then goes to the others first). Entries listing only
//     this server are left to the registry reconcile, which withdraws every
//     server that does not hold a servable copy; keys are never deleted by a
//     withdrawal, so the entry (and the room's hold on the blob) stays.
//   - The fetch runs in a room that lists a peer as holder, so the replicator
//     announces this server there once the copy is stored; the mesh's scans
//     re-announce it in the other rooms.
//
// Thread safety: plan_heal is a pure function; read_entries may be called
// from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/digest.h"
#include "protocol/registry.h"

namespace blobsync::mesh {

class LocalReplica;

struct HealPlan {
  std::vector<std::string> holders;        // peers to ask
  std::optional<std::string> room;         // a room listing one of them; none: any room reaches a peer
  std::vector<std::string> withdraw_from;  // rooms whose entry stops listing this server
};

// (room, the blob's entry there) for each hosted room that has one.
using RoomEntries = std::vector<std::pair<std::string, protocol::RegistryEntry>>;

HealPlan plan_heal(const RoomEntries& entries, const std::string& self_url, const std::vector<std::string>& peers);

// Reads the blob's entry in each replica's document (on the replicas'
// strands) and calls done once with those found (on the last replica's
// strand, or at once when there are none). A replica that was stopped never
// answers, and then neither does done: a heal is retried by the next scrub.
void read_entries(const Digest& hash, std::vector<std::pair<std::string, std::shared_ptr<LocalReplica>>> replicas,
                  std::function<void(RoomEntries)> done);

}  // namespace blobsync::mesh
