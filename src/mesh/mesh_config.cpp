#include "mesh/mesh_config.h"

#include <spdlog/spdlog.h>

namespace blobsync::mesh {

Result<Replication> parse_replication(std::string_view text) {
  if (text == "all") return Replication::kAll;
  if (text == "on-demand") return Replication::kOnDemand;
  return fail(Errc::kInvalidArgument, "replication must be \"all\" or \"on-demand\", not \"{}\"", text);
}

std::string_view replication_name(Replication r) { return r == Replication::kAll ? "all" : "on-demand"; }

void warn_if_insecure(const client::TlsContext& tls, const client::WsUrl& url) {
  // On every connection, not once: a log read later must not miss it.
  if (url.tls && tls.options().insecure)
    spdlog::warn("mesh: connecting to {} WITHOUT verifying its certificate (tls_insecure: tests only)",
                 client::to_string(url));
}

}  // namespace blobsync::mesh
