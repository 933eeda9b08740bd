#include "mesh/mesh_report.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <variant>

namespace blobsync::mesh {

namespace json = boost::json;

namespace {

// One row a counter of either report: its /peers JSON key and, where /metrics
// exports it, its Prometheus type and help; the metric is named after the key
// (blobsync_mesh_[peer_]KEY, counters ending in _total). The renderers and the
// parser walk the same rows, so a counter cannot be rendered under one key and
// parsed under another.
enum class Kind { kJsonOnly, kGauge, kCounter };

struct Counter {
  std::variant<std::uint64_t PeerReport::*, std::uint64_t MeshReport::*> field;
  std::string_view key;
  Kind kind;
  std::string_view help;

  std::string metric() const {
    return fmt::format("blobsync_mesh_{}{}{}", field.index() == 0 ? "peer_" : "", key,
                       kind == Kind::kCounter ? "_total" : "");
  }
  std::string header() const {
    auto name = metric();
    return fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, kind == Kind::kCounter ? "counter" : "gauge");
  }
};

// In /peers and /metrics order.
constexpr Counter kCounters[] = {
    {&PeerReport::rooms, "rooms", Kind::kGauge, "Rooms linked to the peer"},
    {&PeerReport::rooms_up, "rooms_up", Kind::kJsonOnly, ""},
    {&PeerReport::rooms_synced, "rooms_synced", Kind::kGauge, "Rooms whose link to the peer completed its sync"},
    {&PeerReport::blobs_pending, "blobs_pending", Kind::kGauge, "Blob fetches queued or running that list the peer"},
    {&PeerReport::blobs_failed, "blobs_failed", Kind::kCounter, "Blob fetch attempts from the peer that failed"},
    {&PeerReport::blobs_fetched, "blobs_fetched", Kind::kCounter, "Blobs replicated from the peer"},
    {&PeerReport::link_failures, "link_failures", Kind::kCounter, "Failed or dropped link connections to the peer"},
    {&MeshReport::rooms, "rooms", Kind::kGauge, "Rooms hosted by the mesh"},
    {&MeshReport::fetches_active, "fetches_active", Kind::kGauge, "Blob fetches running"},
    {&MeshReport::fetches_queued, "fetches_queued", Kind::kGauge, "Blob fetches waiting for a slot"},
    {&MeshReport::blobs_backing_off, "blobs_backing_off", Kind::kGauge,
     "Blobs waiting to retry after failing at every holder"},
    {&MeshReport::blobs_replicated, "blobs_replicated", Kind::kCounter, "Blobs fetched, verified and stored"},
    {&MeshReport::bytes_replicated, "bytes_replicated", Kind::kCounter, "Bytes of blobs replicated"},
    {&MeshReport::fetch_failures, "fetch_failures", Kind::kCounter, "Blob fetches that failed at every holder"},
    {&MeshReport::holders_pruned, "holders_pruned", Kind::kCounter, "Stale holders removed from registries"},
    {&MeshReport::blobs_too_large, "blobs_too_large", Kind::kGauge,
     "Distinct blobs seen in hosted registries that are too large to replicate here"},
    {&MeshReport::holders_refused, "holders_refused", Kind::kGauge,
     "Distinct registry holders not dialed: neither a peer nor under mesh_allow"},
};

// Calls f(row, member pointer) for each of Report's counters, in table order.
template <class Report, class F>
void for_each_counter(F&& f) {
  for (const auto& c : kCounters)
    if (auto* field = std::get_if<std::uint64_t Report::*>(&c.field)) f(c, *field);
}

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

std::string render_peers_json(const MeshReport& r) {
  json::array peers;
  for (const auto& p : r.peers) {
    json::object o;
    o["url"] = p.url;
    o["state"] = p.state;
    for_each_counter<PeerReport>([&](const Counter& c, auto field) { o[c.key] = p.*field; });
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
  for_each_counter<MeshReport>([&](const Counter& c, auto field) {
    if (c.key != "rooms") root[c.key] = r.*field;  // written above, before the peers
  });
  return json::serialize(root) + "\n";
}

std::string render_mesh_metrics(const MeshReport& r) {
  std::string out =
      "# HELP blobsync_mesh_peer_up 1 when every room's link to the peer is connected and synced\n"
      "# TYPE blobsync_mesh_peer_up gauge\n";
  for (const auto& p : r.peers)
    out += fmt::format("blobsync_mesh_peer_up{{peer=\"{}\"}} {}\n", label(p.url), p.state == "up" ? 1 : 0);
  for_each_counter<PeerReport>([&](const Counter& c, auto field) {
    if (c.kind == Kind::kJsonOnly) return;
    out += c.header();
    for (const auto& p : r.peers) out += fmt::format("{}{{peer=\"{}\"}} {}\n", c.metric(), label(p.url), p.*field);
  });
  for_each_counter<MeshReport>([&](const Counter& c, auto field) {
    out += c.header() + fmt::format("{} {}\n", c.metric(), r.*field);
  });
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
  for_each_counter<MeshReport>([&](const Counter& c, auto field) { r.*field = num(o, c.key); });
  if (auto* peers = o.if_contains("peers"); peers && peers->is_array()) {
    for (const auto& pv : peers->as_array()) {
      if (!pv.is_object()) continue;
      const auto& po = pv.as_object();
      PeerReport p;
      p.url = str(po, "url");
      p.state = str(po, "state");
      for_each_counter<PeerReport>([&](const Counter& c, auto field) { p.*field = num(po, c.key); });
      if (auto* d = po.if_contains("down_for_seconds"); d && d->is_number()) p.down_for_seconds = d->to_number<double>();
      p.last_error = str(po, "last_error");
      r.peers.push_back(std::move(p));
    }
  }
  return r;
}

}  // namespace blobsync::mesh
