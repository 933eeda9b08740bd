#include "mesh/mesh_report.h"

#include <boost/json.hpp>
#include <fmt/format.h>

namespace blobsync::mesh {

namespace json = boost::json;

std::string render_peers_json(const MeshReport& r) {
  json::array peers;
  for (const auto& p : r.peers) {
    json::object o;
    o["url"] = p.url;
    o["state"] = p.state;
    o["rooms"] = p.rooms;
    o["rooms_up"] = p.rooms_up;
    o["rooms_synced"] = p.rooms_synced;
    o["blobs_pending"] = p.blobs_pending;
    o["blobs_failed"] = p.blobs_failed;
    o["blobs_fetched"] = p.blobs_fetched;
    o["link_failures"] = p.link_failures;
    if (p.down_for_seconds) o["down_for_seconds"] = *p.down_for_seconds;
    else o["down_for_seconds"] = nullptr;
    o["last_error"] = p.last_error;
    peers.push_back(std::move(o));
  }
  json::object root;
  root["self"] = r.self;
  root["replication"] = r.replication;
  root["rooms"] = r.rooms;
  root["peers"] = std::move(peers);
  root["fetches_active"] = r.fetches_active;
  root["fetches_queued"] = r.fetches_queued;
  root["blobs_backing_off"] = r.blobs_backing_off;
  root["blobs_replicated"] = r.blobs_replicated;
  root["bytes_replicated"] = r.bytes_replicated;
  root["fetch_failures"] = r.fetch_failures;
  root["holders_pruned"] = r.holders_pruned;
  root["blobs_too_large"] = r.blobs_too_large;
  root["holders_refused"] = r.holders_refused;
  return json::serialize(root) + "\n";
}

namespace {

// Prometheus label values escape backslash, quote and newline.
std::string label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

std::string render_mesh_metrics(const MeshReport& r) {
  std::string out;
  auto per_peer = [&](std::string_view name, std::string_view type, std::string_view help, auto value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    for (const auto& p : r.peers) out += fmt::format("{}{{peer=\"{}\"}} {}\n", name, label(p.url), value(p));
  };
  auto single = [&](std::string_view name, std::string_view type, std::string_view help, std::uint64_t value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
  };
  per_peer("blobsync_mesh_peer_up", "gauge", "1 when every room's link to the peer is connected and synced",
           [](const PeerReport& p) { return p.state == "up" ? 1 : 0; });
  per_peer("blobsync_mesh_peer_rooms", "gauge", "Rooms linked to the peer",
           [](const PeerReport& p) { return p.rooms; });
  per_peer("blobsync_mesh_peer_rooms_synced", "gauge", "Rooms whose link to the peer completed its sync",
           [](const PeerReport& p) { return p.rooms_synced; });
  per_peer("blobsync_mesh_peer_blobs_pending", "gauge", "Blob fetches queued or running that list the peer",
           [](const PeerReport& p) { return p.blobs_pending; });
  per_peer("blobsync_mesh_peer_blobs_failed_total", "counter", "Blob fetch attempts from the peer that failed",
           [](const PeerReport& p) { return p.blobs_failed; });
  per_peer("blobsync_mesh_peer_blobs_fetched_total", "counter", "Blobs replicated from the peer",
           [](const PeerReport& p) { return p.blobs_fetched; });
  per_peer("blobsync_mesh_peer_link_failures_total", "counter", "Failed or dropped link connections to the peer",
           [](const PeerReport& p) { return p.link_failures; });
  single("blobsync_mesh_rooms", "gauge", "Rooms hosted by the mesh", r.rooms);
  single("blobsync_mesh_fetches_active", "gauge", "Blob fetches running", r.fetches_active);
  single("blobsync_mesh_fetches_queued", "gauge", "Blob fetches waiting for a slot", r.fetches_queued);
  single("blobsync_mesh_blobs_backing_off", "gauge", "Blobs waiting to retry after failing at every holder",
         r.blobs_backing_off);
  single("blobsync_mesh_blobs_replicated_total", "counter", "Blobs fetched, verified and stored", r.blobs_replicated);
  single("blobsync_mesh_bytes_replicated_total", "counter", "Bytes of blobs replicated", r.bytes_replicated);
  single("blobsync_mesh_fetch_failures_total", "counter", "Blob fetches that failed at every holder",
         r.fetch_failures);
  single("blobsync_mesh_holders_pruned_total", "counter", "Stale holders removed from registries",
         r.holders_pruned);
  single("blobsync_mesh_blobs_too_large", "gauge", "Distinct blobs seen in hosted registries that are too large to replicate here",
         r.blobs_too_large);
  single("blobsync_mesh_holders_refused", "gauge",
         "Distinct registry holders not dialed: neither a peer nor under mesh_allow", r.holders_refused);
  return out;
}

Result<MeshReport> parse_peers_json(std::string_view text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return fail(Errc::kInvalidArgument, "not a /peers JSON document");
  const auto& o = v.as_object();
  auto str = [](const json::object& obj, std::string_view k) -> std::string {
    auto* x = obj.if_contains(k);
    return x && x->is_string() ? std::string(x->as_string()) : std::string();
  };
  auto num = [](const json::object& obj, std::string_view k) -> std::uint64_t {
    auto* x = obj.if_contains(k);
    if (!x) return 0;
    if (x->is_uint64()) return x->as_uint64();
    if (x->is_int64()) return static_cast<std::uint64_t>(std::max<std::int64_t>(0, x->as_int64()));
    if (x->is_double()) return static_cast<std::uint64_t>(std::max(0.0, x->as_double()));
    return 0;
  };
  MeshReport r;
  r.self = str(o, "self");
  r.replication = str(o, "replication");
  r.rooms = num(o, "rooms");
  r.fetches_active = num(o, "fetches_active");
  r.fetches_queued = num(o, "fetches_queued");
  r.blobs_backing_off = num(o, "blobs_backing_off");
  r.blobs_replicated = num(o, "blobs_replicated");
  r.bytes_replicated = num(o, "bytes_replicated");
  r.fetch_failures = num(o, "fetch_failures");
  r.holders_pruned = num(o, "holders_pruned");
  r.blobs_too_large = num(o, "blobs_too_large");
  r.holders_refused = num(o, "holders_refused");
  if (auto* peers = o.if_contains("peers"); peers && peers->is_array()) {
    for (const auto& pv : peers->as_array()) {
      if (!pv.is_object()) continue;
      const auto& po = pv.as_object();
      PeerReport p;
      p.url = str(po, "url");
      p.state = str(po, "state");
      p.rooms = num(po, "rooms");
      p.rooms_up = num(po, "rooms_up");
      p.rooms_synced = num(po, "rooms_synced");
      p.blobs_pending = num(po, "blobs_pending");
      p.blobs_failed = num(po, "blobs_failed");
      p.blobs_fetched = num(po, "blobs_fetched");
      p.link_failures = num(po, "link_failures");
      if (auto* d = po.if_contains("down_for_seconds"); d && d->is_number()) p.down_for_seconds = d->to_number<double>();
      p.last_error = str(po, "last_error");
      r.peers.push_back(std::move(p));
    }
  }
  return r;
}

}  // namespace blobsync::mesh
