#include "core/blob_ref.h"

#include <boost/json.hpp>

#include "core/blob_id.h"
#include "core/chunking.h"

namespace blobsync {

namespace json = boost::json;

std::string to_json(const BlobRef& ref) {
  json::object o;
  o["hash"] = to_hash_ref(ref.hash);
  o["size"] = ref.size;
  o["mimeType"] = ref.mime_type;
  o["filename"] = ref.filename;
  o["chunkCount"] = ref.chunk_count;
  return json::serialize(o);
}

namespace {
Result<std::uint64_t> get_uint(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v) return fail(Errc::kInvalidArgument, "BlobRef: missing '{}'", key);
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0) return static_cast<std::uint64_t>(v->as_int64());
  if (v->is_double()) {
    double d = v->as_double();
    if (d >= 0 && d <= 9007199254740992.0 && d == static_cast<double>(static_cast<std::uint64_t>(d)))
      return static_cast<std::uint64_t>(d);
  }
  return fail(Errc::kInvalidArgument, "BlobRef: '{}' must be a non-negative integer", key);
}
Result<std::string> get_string(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v) return fail(Errc::kInvalidArgument, "BlobRef: missing '{}'", key);
  if (!v->is_string()) return fail(Errc::kInvalidArgument, "BlobRef: '{}' must be a string", key);
  return std::string(v->as_string());
}
}  // namespace

Result<BlobRef> blob_ref_from_json(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return fail(Errc::kInvalidArgument, "BlobRef: invalid JSON: {}", ec.message());
  if (!v.is_object()) return fail(Errc::kInvalidArgument, "BlobRef: expected a JSON object");
  const auto& o = v.as_object();
  BlobRef ref;
  auto hash = get_string(o, "hash");
  if (!hash) return std::unexpected(hash.error());
  if (!hash->starts_with("sha256:")) return fail(Errc::kInvalidArgument, "BlobRef: hash must be sha256:<hex>");
  auto digest = parse_blob_id(*hash);
  if (!digest) return std::unexpected(digest.error());
  ref.hash = *digest;
  auto size = get_uint(o, "size");
  if (!size) return std::unexpected(size.error());
  ref.size = *size;
  auto mime = get_string(o, "mimeType");
  if (!mime) return std::unexpected(mime.error());
  ref.mime_type = std::move(*mime);
  auto filename = get_string(o, "filename");
  if (!filename) return std::unexpected(filename.error());
  ref.filename = std::move(*filename);
  auto chunks = get_uint(o, "chunkCount");
  if (!chunks) return std::unexpected(chunks.error());
  ref.chunk_count = *chunks;
  if (ref.chunk_count != chunk_count(ref.size))
    return fail(Errc::kInvalidArgument, "BlobRef: chunkCount {} does not match size {} (expected {})", ref.chunk_count,
                ref.size, chunk_count(ref.size));
  return ref;
}

}  // namespace blobsync
