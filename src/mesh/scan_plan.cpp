#include "mesh/scan_plan.h"

#include <algorithm>

namespace blobsync::mesh {

ScanPlan plan_scan(const std::vector<std::pair<Digest, protocol::RegistryEntry>>& entries, const ScanRules& rules) {
  ScanPlan plan;
  for (const auto& [hash, entry] : entries) {
    if (rules.holds(hash)) {
      bool listed = std::find(entry.holders.begin(), entry.holders.end(), rules.self) != entry.holders.end();
      if (listed) continue;
      if (auto blob = rules.describe(hash)) plan.announce.push_back(*blob);
    } else if (rules.replicate_all) {
      auto holders = rules.admit(entry.holders);
      if (!holders.empty()) plan.fetch.push_back(ScanFetch{hash, std::move(holders)});
    }
  }
  return plan;
}

}  // namespace blobsync::mesh
