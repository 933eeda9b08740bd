#include "mesh/mesh_config.h"

namespace blobsync::mesh {

Result<Replication> parse_replication(std::string_view text) {
  if (text == "all") return Replication::kAll;
  if (text == "on-demand") return Replication::kOnDemand;
  return fail(Errc::kInvalidArgument, "replication must be \"all\" or \"on-demand\", not \"{}\"", text);
}

std::string_view replication_name(Replication r) { return r == Replication::kAll ? "all" : "on-demand"; }

}  // namespace blobsync::mesh
