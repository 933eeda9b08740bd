// MeshReport (src/mesh/mesh_report.cpp): the peers JSON and the metrics text.
#include <gtest/gtest.h>

#include "mesh/mesh_report.h"

namespace blobsync::mesh {
namespace {

using namespace std::chrono_literals;

TEST(MeshReport, JsonRoundTripsAndMetricsNamePeers) {
  MeshReport r;
  r.self = "ws://a/sync";
  r.replication = "all";
  r.rooms = 3;
  r.blobs_replicated = 7;
  r.blobs_too_large = 2;
  r.holders_refused = 4;
  r.peers.push_back(PeerReport{.url = "ws://b/sync",
                               .state = "down",
                               .rooms = 3,
                               .rooms_up = 0,
                               .rooms_synced = 0,
                               .blobs_pending = 2,
                               .blobs_failed = 1,
                               .blobs_fetched = 0,
                               .link_failures = 0,
                               .down_for_seconds = 12.5,
                               .last_error = "connection refused"});
  auto back = parse_peers_json(render_peers_json(r));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->self, r.self);
  EXPECT_EQ(back->rooms, 3u);
  EXPECT_EQ(back->blobs_replicated, 7u);
  EXPECT_EQ(back->blobs_too_large, 2u);
  EXPECT_EQ(back->holders_refused, 4u);
  ASSERT_EQ(back->peers.size(), 1u);
  EXPECT_EQ(back->peers[0].state, "down");
  EXPECT_EQ(back->peers[0].blobs_pending, 2u);
  EXPECT_DOUBLE_EQ(back->peers[0].down_for_seconds.value(), 12.5);
  auto text = render_mesh_metrics(r);
  EXPECT_NE(text.find("blobsync_mesh_peer_up{peer=\"ws://b/sync\"} 0\n"), std::string::npos);
  EXPECT_NE(text.find("blobsync_mesh_peer_blobs_pending{peer=\"ws://b/sync\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("blobsync_mesh_blobs_replicated_total 7\n"), std::string::npos);
  EXPECT_NE(text.find("blobsync_mesh_blobs_too_large 2\n"), std::string::npos);
  EXPECT_NE(text.find("blobsync_mesh_holders_refused 4\n"), std::string::npos);
  EXPECT_FALSE(parse_peers_json("not json"));
}

}  // namespace
}  // namespace blobsync::mesh
