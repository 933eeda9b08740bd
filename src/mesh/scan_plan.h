// plan_scan: the rule of the mesh's registry scans (mesh_scan.cpp), as a pure
// function so it is unit-tested without a Mesh, a room or a socket.
//
// For each registry entry read from a room:
//   - held here, and this server is not listed -> announce it, with the
//     store's size and chunk count (the registry's are a client's claim);
//   - not held, and replicating everything -> fetch it from the listed
//     holders the DialPolicy admits (peers and mesh_allow matches only;
//     none admitted: nothing to fetch).
//   - anything else -> nothing.
//
// Thread safety: pure; the callbacks are called on the caller's thread.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/digest.h"
#include "protocol/registry.h"
#include "sync/room_store.h"

namespace blobsync::mesh {

struct ScanFetch {
  Digest hash;
  std::vector<std::string> holders;  // admitted by the policy, in the entry's order
};

struct ScanPlan {
  std::vector<sync::AnnouncedBlob> announce;
  std::vector<ScanFetch> fetch;
};

struct ScanRules {
  std::string_view self;  // this server's holder URL
  bool replicate_all = false;
  std::function<bool(const Digest&)> holds;
  // The stored blob's size and chunk count; nullopt when it vanished since holds().
  std::function<std::optional<sync::AnnouncedBlob>(const Digest&)> describe;
  // The holders this server may dial (DialPolicy::admit).
  std::function<std::vector<std::string>(const std::vector<std::string>&)> admit;
};

ScanPlan plan_scan(const std::vector<std::pair<Digest, protocol::RegistryEntry>>& entries, const ScanRules& rules);

}  // namespace blobsync::mesh
