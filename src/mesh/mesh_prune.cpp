// The mesh's holder pruning: probe the mesh_allow holders a room's registry
// lists (peers have links that report their health), then withdraw holders
// that stayed unreachable longer than prune_after (plan_prunes,
// holder_health.h).
#include <spdlog/spdlog.h>

#include "client/room_client.h"
#include "client/ws_url.h"
#include "core/blob_id.h"
#include "crdt/doc.h"
#include "mesh/mesh_impl.h"

namespace blobsync::mesh {

void Mesh::Impl::prune(const std::string& name) {
  auto it = rooms.find(name);
  if (it == rooms.end()) return;
  auto replica = it->second.replica;
  replica->read([s = shared_from_this(), name, replica](crdt::Doc& doc) {
    auto entries = protocol::registry_entries(doc);
    // mesh_allow holders have no link telling us whether they are up:
    // probe them. Peers have links; any other holder is never dialed.
    std::set<std::string> others;
    for (const auto& [h, e] : entries)
      for (const auto& holder : e.holders)
        if (auto t = s->policy->classify(holder); t.kind == DialPolicy::Kind::kAllowed) others.insert(t.url);
    for (const auto& url : others) s->probe(url, name);
    s->run_blocking([s, replica, entries = std::move(entries)] {
      // Health is known only for admitted holders, under their dial URL.
      auto health_key = [&](const std::string& holder) -> std::optional<std::string> {
        auto t = s->policy->classify(holder);
        if (t.kind != DialPolicy::Kind::kPeer && t.kind != DialPolicy::Kind::kAllowed) return std::nullopt;
        return t.url;
      };
      auto actions = plan_prunes(
          entries, s->self, [&](const Digest& h) { return s->holds(h); }, s->health, Clock::now(),
          s->config.prune_after, health_key);
      if (actions.empty()) return;
      replica->edit([s, actions](crdt::Doc& d) {
        for (const auto& a : actions) {
          // Removes another server's membership: the one write a server
          // makes on others' behalf (docs/protocol.md, pruning rule).
          if (protocol::registry_withdraw(d, a.hash, a.holder)) {
            s->pruned.fetch_add(1);
            spdlog::info("mesh: pruned stale holder {} of {}", a.holder, to_hash_ref(a.hash));
          }
        }
      });
    });
  });
}

void Mesh::Impl::probe(const std::string& url, const std::string& room) {
  auto parsed = client::parse_ws_url(url);
  if (!parsed) return;
  client::RoomClientOptions o;
  o.server = *parsed;
  o.tls = tls;
  warn_if_insecure(*tls, o.server);
  o.room = room;
  o.token = policy->classify(url).token;  // none for mesh_allow holders
  o.sync_doc = false;
  o.user_agent = kMeshUserAgent;
  o.connect_timeout = config.connect_timeout;
  auto c = client::RoomClient::create(ioc.get_executor(), std::move(o), nullptr);
  asio::post(c->strand(), [s = shared_from_this(), c, url] {
    c->open([s, c, url](Result<> r) {
      if (r) s->health.reachable(url);
      else s->health.unreachable(url);
      c->close();
    });
  });
}

}  // namespace blobsync::mesh
