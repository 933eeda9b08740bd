// Fuzz target: the request-target of an HTTP request (path and XRPC query
// parameters) and the helpers handlers use on it: limit, required params and
// the CID parameter of getBlob. Nothing may crash; a parsed limit is in range.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/blob_id.h"
#include "http/json_util.h"
#include "http/request_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace blobsync::http;
  std::string_view target(reinterpret_cast<const char*>(data), size);
  Request req;
  if (!parse_request_target(target, req)) {
    if (!req.path.empty() || !req.query.empty()) std::abort();  // a failed parse leaves the request alone
    return 0;
  }
  Request again;
  if (!parse_request_target(target, again) || again.path != req.path || again.query != req.query) std::abort();
  if (auto limit = get_limit(req, 50, 1000); limit && (*limit < 1 || *limit > 1000)) std::abort();
  for (const char* name : {"did", "cid", "cursor", "since", "repo", "collection", "rkey", "reverse"}) {
    auto v = get_param(req, name);
    if (v && v->empty()) std::abort();  // required params are never empty
    (void)req.params(name);
  }
  if (auto cid = req.param("cid")) {
    if (auto d = blobsync::parse_blob_id(*cid)) {
      auto round = blobsync::parse_blob_id(blobsync::to_cid(*d));
      if (!round || *round != *d) std::abort();
    }
  }
  return 0;
}
