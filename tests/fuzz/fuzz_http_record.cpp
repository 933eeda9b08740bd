// Fuzz target: JSON request bodies of the record endpoints (createRecord,
// putRecord, deleteRecord): parse with the server's limits, read the
// addressing members, validate NSID and rkey, and extract blob references
// from the record at any depth. Every extracted reference must name a CID
// that parses back to its hash; nothing may crash or recurse without bound.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/blob_id.h"
#include "http/blob_refs.h"
#include "http/json_util.h"
#include "http/record_syntax.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace blobsync::http;
  Request req;
  req.headers.emplace_back("content-type", "application/json; charset=utf-8");
  req.body.assign(reinterpret_cast<const char*>(data), size);
  auto body = parse_json_body(req);
  if (!body) {
    if (body.error().status != 400) std::abort();
    return 0;
  }
  (void)get_string(*body, "repo");  // any outcome but a crash will do
  if (auto c = get_string(*body, "collection"); c) (void)valid_nsid(*c);
  if (auto k = get_opt_string(*body, "rkey"); k && *k) {
    if (valid_rkey(**k) && ((*k)->empty() || (*k)->size() > 512)) std::abort();
  }
  std::vector<RecordBlobRef> refs;
  auto r = find_blob_refs(boost::json::value(*body), "body", refs);
  if (!r && r.error().status != 400) std::abort();
  for (const auto& ref : refs) {
    auto d = blobsync::parse_blob_id(ref.cid);
    if (!d || *d != ref.hash || ref.mime_type.empty()) std::abort();
  }
  return 0;
}
