// Derived images: GET /blobs/<hash>/image?w=&h=&fit=&format=&q= and the
// URL shape ATProto apps use for their image CDN,
// GET /img/<preset>/plain/<did>/<cid>@<format> (docs/http.md, "Derived
// images"). Both routes run on the server's image pool (Route::images), so a
// slow render never holds an I/O thread; the work itself is image/'s.
#include <string>

#include "core/blob_id.h"
#include "http/api.h"
#include "image/image_service.h"
#include "store/blob_store.h"

namespace blobsync::http {

namespace {

using image::ImageParams;

// Each refusal of a hostile or broken image is the client's (4xx), never a 5xx.
Response image_failure(const Error& e) {
  switch (e.code) {
    case Errc::kUnsupported: return xrpc_error(415, "UnsupportedMediaType", e.message);
    case Errc::kTooLarge: return xrpc_error(400, "ImageTooLarge", e.message);
    case Errc::kTimeout: return xrpc_error(400, "ImageTooComplex", e.message);
    case Errc::kInvalidArgument: return xrpc_error(400, "InvalidImage", e.message);
    case Errc::kNotFound: return xrpc_error(404, "BlobNotFound", "Blob not found");
    default: return to_response(to_xrpc(e));
  }
}

Result<std::string> read_blob(Api& s, const BlobRecord& rec) {
  auto reader = s.store->backend().open_sized(rec.hash, rec.size, 0, rec.size);
  if (!reader) return std::unexpected(reader.error());
  std::string out(rec.size, '\0');
  std::size_t got = 0;
  while (got < out.size()) {
    auto n = (*reader)->read(std::as_writable_bytes(std::span(out.data() + got, out.size() - got)));
    if (!n) return std::unexpected(n.error());
    if (*n == 0) return fail(Errc::kIOError, "blob {} ended early", to_hash_ref(rec.hash));
    got += *n;
  }
  return out;
}

// The source must be stored, servable and an image; nullopt when it is.
// `referenced`: a record references it (/img), so any state but kDeleting
// is served, as getBlob does; else only kPermanent, as GET /blobs/ does.
std::optional<Response> refuse_source(const Result<BlobRecord>& rec, bool referenced) {
  if (!rec) {
    if (rec.error().code == Errc::kNotFound) return xrpc_error(404, "BlobNotFound", "Blob not found");
    return to_response(to_xrpc(rec.error()));
  }
  if (referenced ? rec->state == BlobState::kDeleting : rec->state != BlobState::kPermanent) return xrpc_error(404, "BlobNotFound", "Blob not found");
  if (!rec->quarantine.empty()) {
    Response r = xrpc_error(503, "BlobQuarantined", "Blob failed verification on this server and is quarantined");
    r.set("Retry-After", "30");
    return r;
  }
  // Decided from the stored type, so a video is never read into memory to
  // find out it is not an image (libvips still decides what the bytes are).
  if (!rec->mime_type.starts_with("image/"))
    return xrpc_error(415, "UnsupportedMediaType", "Blob is " + rec->mime_type + ", not an image");
  return std::nullopt;
}

Response derive(Api& s, const Request& req, const BlobRecord& rec, const ImageParams& p) {
  if (!image::can_save(p.format))
    return xrpc_error(415, "UnsupportedMediaType",
                      fmt::format("this server cannot write {}", image::format_name(p.format)));
  std::string etag = "\"" + image::cache_key(rec.hash, p) + "\"";
  Response resp;
  resp.set("ETag", etag);
  resp.set("Cache-Control", "public, max-age=31536000, immutable");
  if (auto inm = req.header("if-none-match"); inm && (*inm == etag || *inm == "*")) {
    resp.status = 304;
    return resp;
  }
  auto d = s.images->get(rec.hash, p, [&] { return read_blob(s, rec); });
  if (!d) return image_failure(d.error());
  resp.set("Content-Type", std::string(image::format_mime(p.format)));
  resp.set("x-content-type-options", "nosniff");
  resp.set("content-security-policy", "default-src 'none'; sandbox");
  using O = image::ImageService::Origin;
  resp.set("X-Image-Cache", d->origin == O::kHit ? "hit" : d->origin == O::kShared ? "shared" : "miss");
  resp.body = *d->bytes;
  return resp;
}

}  // namespace

Result<std::unique_ptr<image::ImageService>> open_image_service(const ServerConfig& config) {
  return image::ImageService::open(image::ImageServiceOptions{
      .cache_dir = config.data_dir / "image-cache",
      .cache_bytes = config.image_cache_bytes,
      .limits = {.max_pixels = config.image_max_pixels, .timeout = config.image_timeout},
      .workers = config.image_workers});
}

void register_image_routes(Api& s, Router& r) {
  // Registered before the /blobs/ prefix, which would otherwise take it.
  r.add_pattern("GET", "/blobs/", "/image",
                {.name = "blobs.image", .handler = [&s](Request& req) {
                   std::string_view id = std::string_view(req.path).substr(7);
                   id.remove_suffix(6);
                   auto hash = parse_blob_id_or_hex(id);
                   if (!hash) return xrpc_error(400, "InvalidRequest", hash.error().message);
                   auto params = image::parse_query(req.query);
                   if (!params) return xrpc_error(400, "InvalidRequest", params.error().message);
                   if (!s.config.blobs_public)
                     if (auto ok = s.authorize_blob_read(req); !ok) return to_response(ok.error());
                   auto rec = s.store->stat(*hash);
                   if (auto refused = refuse_source(rec, false)) return std::move(*refused);
                   return derive(s, req, *rec, *params);
                 },
                 .images = true});

  // Served as getBlob serves: only blobs a record of that DID references.
  r.add_prefix("GET", "/img/", {.name = "img.cdn", .handler = [&s](Request& req) {
                                  auto path = image::parse_cdn_path(std::string_view(req.path).substr(5));
                                  if (!path) return xrpc_error(400, "InvalidRequest", path.error().message);
                                  auto params = image::preset(path->preset, path->format);
                                  if (!params) return xrpc_error(400, "InvalidRequest", params.error().message);
                                  if (!path->cid.starts_with('b'))
                                    return xrpc_error(400, "InvalidRequest", "cid must be a base32 CID");
                                  auto hash = parse_blob_id(path->cid);
                                  if (!hash) return xrpc_error(400, "InvalidRequest", hash.error().message);
                                  auto account = s.accounts->get(path->did);
                                  if (!account) return xrpc_error(404, "BlobNotFound", "Blob not found");
                                  auto ref = s.repo->is_referenced(account->did, *hash);
                                  if (!ref) return to_response(ref.error());
                                  if (!*ref) return xrpc_error(404, "BlobNotFound", "Blob not found");
                                  auto rec = s.store->stat(*hash);
                                  if (rec && rec->state == BlobState::kDeleting)
                                    return xrpc_error(404, "BlobNotFound", "Blob not found");
                                  if (rec && rec->state == BlobState::kTemporary) rec->state = BlobState::kPermanent;
                                  if (auto refused = refuse_source(rec, false)) return std::move(*refused);
                                  return derive(s, req, *rec, *params);
                                },
                                .images = true});
}

}  // namespace blobsync::http
