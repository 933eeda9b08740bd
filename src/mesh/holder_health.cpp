#include "mesh/holder_health.h"

#include <algorithm>

namespace blobsync::mesh {

void HolderHealth::reachable(const std::string& url) {
  std::lock_guard lock(mu_);
  down_since_.erase(url);
}

void HolderHealth::unreachable(const std::string& url, Clock::time_point now) {
  std::lock_guard lock(mu_);
  down_since_.try_emplace(url, now);  // keeps the start of the current run
}

std::optional<Clock::time_point> HolderHealth::down_since(const std::string& url) const {
  std::lock_guard lock(mu_);
  auto it = down_since_.find(url);
  if (it == down_since_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::pair<std::string, Clock::time_point>> HolderHealth::down() const {
  std::lock_guard lock(mu_);
  return {down_since_.begin(), down_since_.end()};
}

std::vector<PruneAction> plan_prunes(
    const std::vector<std::pair<Digest, protocol::RegistryEntry>>& entries, const std::string& self_url,
    const std::function<bool(const Digest&)>& holds, const HolderHealth& health, Clock::time_point now,
    std::chrono::milliseconds prune_after,
    const std::function<std::optional<std::string>(const std::string&)>& health_key) {
  std::vector<PruneAction> out;
  if (prune_after.count() <= 0) return out;
  for (const auto& [hash, entry] : entries) {
    if (std::find(entry.holders.begin(), entry.holders.end(), self_url) == entry.holders.end()) continue;
    bool checked = false, held = false;
    for (const auto& holder : entry.holders) {
      if (holder == self_url) continue;
      auto key = health_key ? health_key(holder) : std::optional<std::string>(holder);
      if (!key) continue;
      auto since = health.down_since(*key);
      if (!since || now - *since < prune_after) continue;
      if (!checked) {  // the store lookup only for entries with a prunable holder
        held = holds(hash);
        checked = true;
      }
      if (held) out.push_back({hash, holder});
    }
  }
  return out;
}

}  // namespace blobsync::mesh
