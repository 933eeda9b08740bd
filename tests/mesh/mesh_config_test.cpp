// MeshConfig (src/mesh/mesh_config.cpp): the replication mode names.
#include <gtest/gtest.h>

#include "mesh/mesh_config.h"

namespace blobsync::mesh {
namespace {

using namespace std::chrono_literals;

TEST(Replication, ParsesBothModes) {
  EXPECT_EQ(parse_replication("all").value(), Replication::kAll);
  EXPECT_EQ(parse_replication("on-demand").value(), Replication::kOnDemand);
  EXPECT_FALSE(parse_replication("some"));
  EXPECT_EQ(replication_name(Replication::kOnDemand), "on-demand");
}

}  // namespace
}  // namespace blobsync::mesh
