// The mesh's registry scans: read a room's _blobRegistry, then announce
// what this server holds but is not listed for and hand what it lacks to
// the Replicator (replication = all); and announce what the Replicator
// stored.
#include "core/blob_id.h"
#include "crdt/doc.h"
#include "mesh/mesh_impl.h"
#include "mesh/scan_plan.h"

namespace blobsync::mesh {

// Reads the room's registry (the given keys, or all), then (off the I/O
// threads) plans what to do with it (plan_scan, scan_plan.h: the rule) and
// does it on the strand. Changes seen by the
// replica scan only their keys, so a burst of announcements costs O(burst).
void Mesh::Impl::scan(const std::string& name, std::optional<std::set<std::string>> keys) {
  auto it = rooms.find(name);
  if (it == rooms.end() || draining) return;
  auto& st = it->second;
  if (st.scanning) {
    if (keys) st.dirty.insert(keys->begin(), keys->end());
    else st.full_pending = true;
    return;
  }
  st.scanning = true;
  st.replica->read([s = shared_from_this(), name, keys = std::move(keys)](crdt::Doc& doc) {
    std::vector<std::pair<Digest, protocol::RegistryEntry>> entries;
    if (!keys) {
      entries = protocol::registry_entries(doc);
    } else {
      for (const auto& key : *keys) {
        auto hash = parse_blob_id(key);
        if (!hash) continue;
        if (auto e = protocol::registry_get(doc, *hash)) entries.emplace_back(*hash, std::move(*e));
      }
    }
    s->run_blocking([s, name, entries = std::move(entries)] {
      ScanRules rules{s->self, s->config.replication == Replication::kAll,
                      [&](const Digest& h) { return s->holds(h); },
                      [&](const Digest& h) -> std::optional<sync::AnnouncedBlob> {
                        auto rec = s->deps.blobs.stat(h);
                        if (!rec) return std::nullopt;
                        return sync::AnnouncedBlob{h, rec->size, rec->chunk_count};
                      },
                      [&](const std::vector<std::string>& holders) { return s->policy->admit(holders); }};
      asio::post(s->strand, [s, name, plan = plan_scan(entries, rules)] { s->act(name, plan); });
    });
  });
}

// Registry sizes are whatever a client wrote: announcements use the
// store's record, fetches the holder's META (Replicator, max_bytes).
void Mesh::Impl::act(const std::string& name, const ScanPlan& plan) {
  auto it = rooms.find(name);
  if (it == rooms.end()) return;
  auto& st = it->second;
  st.scanning = false;
  if (draining) return;
  // Results ignored: a write the room cannot make durable is logged there
  // (and closes the room), and a later scan finds what is still unlisted.
  for (const auto& blob : plan.announce) st.room->announce(blob, [](Result<>) {});
  for (const auto& f : plan.fetch) replicator->want(FetchJob{f.hash, name, f.holders, replicate_max});
  if (st.full_pending) {
    st.full_pending = false;
    st.dirty.clear();
    scan(name, std::nullopt);
  } else if (!st.dirty.empty()) {
    scan(name, std::exchange(st.dirty, {}));
  }
}

void Mesh::Impl::announce(const std::string& room, const sync::AnnouncedBlob& blob) {
  if (room == kDirectoryRoom) return;  // a heal fetched through it: the scans announce in the real rooms
  // Results ignored, as in act(): the room logs a failed write and the
  // scans announce what is still unlisted.
  asio::post(strand, [s = shared_from_this(), room, blob] {
    if (auto it = s->rooms.find(room); it != s->rooms.end()) {
      it->second.room->announce(blob, [](Result<>) {});
      return;
    }
    s->deps.rooms.with_room(room, [blob](sync::Room& r, std::function<void()> release) {
      r.announce(blob, [release](Result<>) { release(); });
    });
  });
}

}  // namespace blobsync::mesh
