#include "mesh/heal.h"

#include <algorithm>
#include <atomic>
#include <mutex>

#include "mesh/local_replica.h"

namespace blobsync::mesh {

namespace {

bool has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

}  // namespace

HealPlan plan_heal(const RoomEntries& entries, const std::string& self_url, const std::vector<std::string>& peers) {
  HealPlan plan;
  for (const auto& [room, entry] : entries) {
    bool listed_peer = false, others = false;
    for (const auto& holder : entry.holders) {
      if (holder == self_url) continue;
      others = true;
      if (!has(peers, holder)) continue;
      listed_peer = true;
      if (!has(plan.holders, holder)) plan.holders.push_back(holder);
    }
    if (listed_peer && !plan.room) {
      plan.room = room;
    }
    if (others && has(entry.holders, self_url)) plan.withdraw_from.push_back(room);
  }
  if (plan.holders.empty())
    for (const auto& peer : peers)
      if (peer != self_url) plan.holders.push_back(peer);
  return plan;
}

void read_entries(const Digest& hash, std::vector<std::pair<std::string, std::shared_ptr<LocalReplica>>> replicas,
                  std::function<void(RoomEntries)> done) {
  struct Gather {
    std::mutex mu;
    RoomEntries found;  // guarded by mu
    std::atomic<std::size_t> left;
    std::function<void(RoomEntries)> done;
    void one() {
      if (left.fetch_sub(1) != 1) return;
      RoomEntries all;
      {
        std::lock_guard lock(mu);
        all = std::move(found);
      }
      done(std::move(all));
    }
  };
  auto g = std::make_shared<Gather>();
  g->left = replicas.size() + 1;  // +1: ours, so done runs even with no replicas
  g->done = std::move(done);
  for (auto& [name, replica] : replicas)
    replica->read([g, hash, name = name](crdt::Doc& doc) {
      if (auto e = protocol::registry_get(doc, hash)) {
        std::lock_guard lock(g->mu);
        g->found.emplace_back(name, std::move(*e));
      }
      g->one();
    });
  g->one();
}

}  // namespace blobsync::mesh
