#include "http/blob_refs.h"

#include <boost/json.hpp>

#include "core/blob_id.h"

namespace blobsync::http {

XResult<> find_blob_refs(const boost::json::value& v, const std::string& path, std::vector<RecordBlobRef>& out) {
  if (v.is_array()) {
    std::size_t i = 0;
    for (const auto& item : v.as_array()) {
      if (auto r = find_blob_refs(item, fmt::format("{}/{}", path, i++), out); !r) return r;
    }
    return {};
  }
  if (!v.is_object()) return {};
  const auto& o = v.as_object();
  const auto* type = o.if_contains("$type");
  if (type && type->is_string() && type->as_string() == "blob") {
    auto bad = [&](std::string_view why) {
      return xfail(400, "InvalidRequest", fmt::format("Invalid blob reference at {}: {}", path, why));
    };
    const auto* ref = o.if_contains("ref");
    if (!ref || !ref->is_object()) return bad("missing ref");
    const auto* link = ref->as_object().if_contains("$link");
    if (!link || !link->is_string()) return bad("ref must be {\"$link\": CID}");
    std::string cid(link->as_string());
    if (!cid.starts_with('b')) return bad("ref must be a base32 CID");
    auto digest = parse_blob_id(cid);
    if (!digest) return bad(digest.error().message);
    const auto* mime = o.if_contains("mimeType");
    if (!mime || !mime->is_string() || mime->as_string().empty()) return bad("mimeType must be a string");
    const auto* size = o.if_contains("size");
    std::uint64_t n = 0;
    if (size && size->is_int64() && size->as_int64() >= 0) n = static_cast<std::uint64_t>(size->as_int64());
    else if (size && size->is_uint64()) n = size->as_uint64();
    else return bad("size must be a non-negative integer");
    out.push_back({*digest, cid, std::string(mime->as_string()), n});
    return {};
  }
  for (const auto& [k, child] : o) {
    if (auto r = find_blob_refs(child, fmt::format("{}/{}", path, std::string_view(k)), out); !r) return r;
  }
  return {};
}

}  // namespace blobsync::http
