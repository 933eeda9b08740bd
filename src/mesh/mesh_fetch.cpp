// Fetches the mesh makes now rather than on a scan: replicate on fetch (a
// client asked for a blob this server lacks) and healing a quarantined blob
// from the peers that hold it (heal.h).
#include <spdlog/spdlog.h>

#include "core/blob_id.h"
#include "crdt/doc.h"
#include "mesh/mesh_impl.h"

namespace blobsync::mesh {

void Mesh::Impl::fetch_for_client(const std::string& room, const Digest& hash, std::function<void(Result<>)> done) {
  auto it = rooms.find(room);
  if (it == rooms.end() || draining || stopped)
    return done(fail(Errc::kNotFound, "room {} is not hosted by the mesh", room));
  it->second.replica->read([s = shared_from_this(), room, hash, done = std::move(done)](crdt::Doc& doc) mutable {
    auto entry = protocol::registry_get(doc, hash);
    auto holders = entry ? s->policy->admit(entry->holders) : std::vector<std::string>{};
    if (holders.empty())
      return done(fail(Errc::kNotFound, "no holder of {} this server may fetch from is listed", to_hash_ref(hash)));
    // A client is waiting: up to what a client could upload here.
    s->replicator->fetch_now(FetchJob{hash, room, std::move(holders), s->deps.sync.max_blob_bytes},
                             std::move(done));
  });
}

void Mesh::Impl::heal(const Digest& hash) {
  if (draining || stopped || policy->peers().empty()) return;
  std::vector<std::pair<std::string, std::shared_ptr<LocalReplica>>> replicas;
  for (auto& [name, st] : rooms)
    if (name != kDirectoryRoom) replicas.emplace_back(name, st.replica);
  read_entries(hash, std::move(replicas), [s = shared_from_this(), hash](RoomEntries entries) {
    asio::post(s->strand, [s, hash, entries = std::move(entries)] { s->heal_from(hash, entries); });
  });
}

void Mesh::Impl::heal_from(const Digest& hash, const RoomEntries& entries) {
  if (draining || stopped) return;
  HealPlan plan = plan_heal(entries, self, policy->peers());
  // Results ignored: the heal does not wait on the withdrawals, and the room
  // logs a write it cannot make durable.
  for (const auto& name : plan.withdraw_from)
    if (auto it = rooms.find(name); it != rooms.end()) it->second.room->withdraw(hash, [](Result<>) {});
  spdlog::info("mesh: healing quarantined {} from {} peer(s)", to_hash_ref(hash), plan.holders.size());
  // The size limit is this server's own (the registry's size is a claim).
  replicator->fetch_now(FetchJob{hash, plan.room.value_or(kDirectoryRoom), plan.holders, deps.sync.max_blob_bytes},
                        [hash](Result<> r) {
                          if (r) spdlog::info("mesh: healed {}", to_hash_ref(hash));
                          else spdlog::warn("mesh: cannot heal {} yet: {}", to_hash_ref(hash), r.error().message);
                        });
}

}  // namespace blobsync::mesh
