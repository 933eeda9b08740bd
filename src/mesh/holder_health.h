// HolderHealth: what this server has seen of other servers' reachability,
// and the holder-pruning rule built on it (docs/protocol.md, "Pruning stale
// holders").
//
// Every connection attempt to a server (peer links, fetches, probes) reports
// its outcome here. A server is "down since T" when every attempt since T
// failed; one success clears it. Nothing is persisted: after a restart every
// server starts out healthy, which only delays pruning.
//
// plan_prunes() is the rule: in a room's registry, remove holder H from the
// entry of blob X when
//   - H has been unreachable continuously for at least `prune_after`, and
//   - this server holds X itself (a copy verified at ingest: the "other copy
//     exists" check of git-annex), and is listed in the entry (so the key
//     never disappears).
// A pruned server that comes back re-adds itself (its registry reconcile
// runs on the next remote change), so a wrong prune heals. Holders this
// server may not dial (DialPolicy) have no health and are never pruned.
//
// Thread safety: HolderHealth is safe to use from any thread; plan_prunes is
// a pure function.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/digest.h"
#include "protocol/registry.h"

namespace blobsync::mesh {

using Clock = std::chrono::steady_clock;

class HolderHealth {
 public:
  void reachable(const std::string& url);
  void unreachable(const std::string& url, Clock::time_point now = Clock::now());
  // When the current run of failures began; nullopt if the last attempt
  // succeeded or nothing was tried.
  std::optional<Clock::time_point> down_since(const std::string& url) const;
  // Every server with a current run of failures.
  std::vector<std::pair<std::string, Clock::time_point>> down() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, Clock::time_point> down_since_;  // guarded by mu_
};

struct PruneAction {
  Digest hash;
  std::string holder;
  bool operator==(const PruneAction&) const = default;
};

// health_key: the name a holder's health is kept under (its dial URL), or
// nullopt for a holder that is never dialed; empty: the holder string itself.
std::vector<PruneAction> plan_prunes(
    const std::vector<std::pair<Digest, protocol::RegistryEntry>>& entries, const std::string& self_url,
    const std::function<bool(const Digest&)>& holds, const HolderHealth& health, Clock::time_point now,
    std::chrono::milliseconds prune_after,
    const std::function<std::optional<std::string>(const std::string&)>& health_key = {});

}  // namespace blobsync::mesh
