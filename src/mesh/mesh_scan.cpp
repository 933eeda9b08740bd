// The mesh's registry scans: read a room's _blobRegistry, then announce
// what this server holds but is not listed for and hand what it lacks to
// the Replicator (replication = all); and announce what the Replicator
// stored.
#include "core/blob_id.h"
#include "crdt/doc.h"
#include "mesh/mesh_impl.h"

namespace blobsync::mesh {

// Reads the room's registry (the given keys, or all), then (off the I/O
// threads) checks the store: held but unlisted -> announce; listed
// elsewhere, not held -> fetch (replication = all). Changes seen by the
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
    s->run_blocking([s, name, entries = std::move(entries)]() mutable {
      std::vector<char> held;
      std::vector<sync::AnnouncedBlob> unlisted;  // held, not listed: announced with the store's size
      held.reserve(entries.size());
      for (const auto& [hash, e] : entries) {
        held.push_back(s->holds(hash));
        bool listed = std::find(e.holders.begin(), e.holders.end(), s->self) != e.holders.end();
        if (!held.back() || listed) continue;
        if (auto rec = s->deps.blobs.stat(hash)) unlisted.push_back(sync::AnnouncedBlob{hash, rec->size, rec->chunk_count});
      }
      asio::post(s->strand, [s, name, entries = std::move(entries), held = std::move(held),
                             unlisted = std::move(unlisted)] { s->act(name, entries, held, unlisted); });
    });
  });
}

// Registry sizes are whatever a client wrote: announcements use the
// store's record, fetches the holder's META (Replicator, max_bytes).
void Mesh::Impl::act(const std::string& name, const std::vector<std::pair<Digest, protocol::RegistryEntry>>& entries,
                     const std::vector<char>& held, const std::vector<sync::AnnouncedBlob>& unlisted) {
  auto it = rooms.find(name);
  if (it == rooms.end()) return;
  auto& st = it->second;
  st.scanning = false;
  if (draining) return;
  // Results ignored: a write the room cannot make durable is logged there
  // (and closes the room), and a later scan finds what is still unlisted.
  for (const auto& blob : unlisted) st.room->announce(blob, [](Result<>) {});
  if (config.replication == Replication::kAll) {
    for (std::size_t i = 0; i < entries.size(); ++i) {
      const auto& [hash, e] = entries[i];
      if (held[i]) continue;
      auto holders = policy->admit(e.holders);  // only peers and mesh_allow matches
      if (!holders.empty()) replicator->want(FetchJob{hash, name, std::move(holders), replicate_max});
    }
  }
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
