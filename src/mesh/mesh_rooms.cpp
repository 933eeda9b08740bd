// The mesh's room directory (the _mesh room listing every room) and, for
// each hosted room, its local replica and one PeerLink per peer: tick()
// keeps the set of hosted rooms in line with the directory and this
// server's own rooms, replacing rooms whose local side went away.
#include <spdlog/spdlog.h>

#include "crdt/doc.h"
#include "crdt/map.h"
#include "mesh/mesh_impl.h"
#include "sync/room_name.h"
#include "sync/conn_pool.h"

namespace blobsync::mesh {

void Mesh::Impl::tick() {
  if (draining || stopped) return;
  // With no peers of its own a server still lists its rooms in the
  // directory room, so servers that name it as their peer find them
  // (ensure_room hosts nothing else then).
  std::set<std::string> local = stored;
  for (auto& name : deps.rooms.names()) local.insert(std::move(name));  // parked rooms too
  std::set<std::string> wanted = directory;
  wanted.insert(kDirectoryRoom);
  std::vector<std::string> unlisted;
  for (const auto& name : local) {
    wanted.insert(name);
    if (name != kDirectoryRoom && !directory.contains(name)) unlisted.push_back(name);
  }
  if (!unlisted.empty()) {
    sync::ConnPool::Scope pooled;  // `directory` keeps the names for good (local_replica.cpp)
    add_to_directory(std::move(unlisted));
  }
  // Replace rooms whose local side went away (storage failure, unload).
  std::vector<std::string> dead;
  for (auto& [name, st] : rooms) {
    bool gone = st.replica->closed();
    for (auto& l : st.links) gone = gone || l->status().local_closed;
    if (gone) dead.push_back(name);
  }
  for (const auto& name : dead) teardown(name);
  for (const auto& name : wanted) ensure_room(name);
  auto now = Clock::now();
  if (now - last_rescan >= config.rescan_interval) {
    last_rescan = now;
    for (auto& [name, st] : rooms) scan(name, std::nullopt);
  }
  if (config.prune_after.count() > 0 && now - last_prune >= config.probe_interval) {
    last_prune = now;
    for (auto& [name, st] : rooms) prune(name);
  }
  tick_timer.expires_after(config.tick_interval);
  tick_timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->tick();
  });
}

void Mesh::Impl::add_to_directory(std::vector<std::string> names) {
  auto it = rooms.find(kDirectoryRoom);
  if (it == rooms.end()) return;  // next tick
  for (const auto& n : names) directory.insert(n);  // don't re-add while the edit travels
  it->second.replica->edit([names = std::move(names)](crdt::Doc& doc) {
    auto map = doc.get_map(kDirectoryMap);
    if (!map) return;
    for (const auto& n : names)
      if (!map.has(n)) map.set(n, crdt::Prelim(crdt::Any(true)));
  });
}

void Mesh::Impl::ensure_room(const std::string& name) {
  // With no peers there is nothing to link: no replica pins the room
  // (rooms park when idle), only the directory room is kept, for servers
  // that have this one as their peer to learn the rooms from.
  if ((policy->peers().empty() && name != kDirectoryRoom) || rooms.contains(name) || draining || stopped) return;
  if (!sync::validate_room_name(name)) return;  // junk in the directory
  auto room = deps.rooms.acquire(name);
  if (!room) return;  // the sync service is stopping
  RoomState st;
  st.room = room;
  bool is_directory = name == kDirectoryRoom;
  // The directory lists every room: read and written in place, not copied (local_replica.h).
  st.replica = LocalReplica::create(ioc.get_executor(), room,
                                    is_directory ? LocalReplica::Mode::kThrough : LocalReplica::Mode::kCopy);
  std::weak_ptr<Impl> weak = shared_from_this();
  st.replica->start([weak, name, is_directory](crdt::Doc& doc, const std::vector<std::string>& keys) {
    auto s = weak.lock();
    if (!s) return;
    if (is_directory) {
      auto map = doc.get_map(kDirectoryMap);
      std::vector<std::string> names = map ? map.keys() : std::vector<std::string>{};
      asio::post(s->strand, [s, names = std::move(names)] {
        for (const auto& n : names) {
          s->directory.insert(n);
          s->ensure_room(n);
        }
      });
    } else if (!keys.empty()) {
      asio::post(s->strand, [s, name, keys] { s->scan(name, std::set<std::string>(keys.begin(), keys.end())); });
    }
  });
  for (const auto& peer : policy->peers()) {
    PeerLinkOptions o;
    o.peer = peer;
    o.tls = tls;
    o.room = name;
    o.token = policy->peer_token();  // never a client token (docs/protocol.md)
    o.connect_timeout = config.connect_timeout;
    o.backoff_initial = config.link_backoff_initial;
    o.backoff_max = config.link_backoff_max;
    auto link = PeerLink::create(ioc.get_executor(), std::move(o), room, health);
    link->start();
    st.links.push_back(link);
  }
  {
    std::lock_guard lock(report_mu);
    all_links.insert(all_links.end(), st.links.begin(), st.links.end());
    hosted = rooms.size() + 1;
  }
  rooms.emplace(name, std::move(st));
  spdlog::debug("mesh: hosting room {}", name);
}

void Mesh::Impl::teardown(const std::string& name) {
  auto it = rooms.find(name);
  if (it == rooms.end()) return;
  auto& st = it->second;
  for (auto& l : st.links) l->stop();
  st.replica->stop();
  deps.rooms.release(st.room);
  {
    std::lock_guard lock(report_mu);
    std::erase_if(all_links, [&](const auto& l) {
      return std::find(st.links.begin(), st.links.end(), l) != st.links.end();
    });
    hosted = rooms.size() - 1;
  }
  rooms.erase(it);
}

}  // namespace blobsync::mesh
