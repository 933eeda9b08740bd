// Blob endpoints: com.atproto.repo.uploadBlob, com.atproto.sync.getBlob,
// com.atproto.sync.listBlobs, com.atproto.repo.listMissingBlobs, and the plain
// API GET/HEAD/PUT /blobs/<sha256-hex or CID>.
#include <boost/json.hpp>

#include <chrono>
#include <optional>

#include "core/blob_id.h"
#include "http/content_disposition.h"
#include "http/json_util.h"
#include "http/range.h"
#include "http/api.h"
#include "store/blob_store.h"
#include "store/mime_sniffer.h"
#include "store/blob_fence.h"

namespace blobsync::http {

namespace {

// The MIME policy's refusals as XRPC errors (store/mime_policy.h).
XrpcFailure mime_failure(const Error& e) {
  if (e.code == Errc::kInvalidArgument) return {400, "InvalidMimeType", e.message};
  return to_xrpc(e);  // kUnsupported: 415 UnsupportedMediaType
}


Response fail_response(const XrpcFailure& f) { return to_response(f); }

// An account's claim of an upload (RepoStore::claim_upload), written in the
// transaction of the blob's row (PutOptions::with_row) rather than in one of
// its own: one commit, one WAL fsync per upload fewer (measured: 16 KiB
// uploads, 32 clients). The sink sets `mime` (the upload policy's answer)
// before the ingest's finish().
struct UploadClaim {
  std::string did;
  std::string mime;
  bool pinned = false;
};

std::shared_ptr<UploadClaim> claim_with_row(PutOptions& options, std::string did, bool pinned) {
  auto claim = std::make_shared<UploadClaim>(UploadClaim{std::move(did), "", pinned});
  options.with_row = [claim](SqlConn& c, const BlobRecord& r) {
    return RepoStore::claim_upload(c, claim->did, r.hash, claim->mime, r.size, claim->pinned);
  };
  return claim;
}

// Streams an upload into the store: size limit, MIME policy on the first
// kSniffBytes (as the ingest sniffed them), and nothing left behind unless
// finish() succeeds. The ingest
// comes from the unfenced store: finish() takes the fence itself and holds
// it until the claim is recorded, so no GC (here or in another process)
// sees the fresh blob unclaimed.
class UploadSink final : public BodySink {
 public:
  enum class Mode { kXrpc, kPlain };
  // `claim`: the account's claim, made with the blob's row (null: none,
  // or made by note_upload after finish()).
  UploadSink(Api& s, Mode mode, std::string did, std::string declared, std::unique_ptr<Ingest> ingest,
             QuotaLedger::Reservation quota, std::shared_ptr<UploadClaim> claim = nullptr)
      : s_(s), mode_(mode), did_(std::move(did)), declared_(std::move(declared)), ingest_(std::move(ingest)),
        quota_(std::move(quota)), claim_(std::move(claim)) {}

  // The server reads the body straight into the ingest's ring.
  std::span<std::byte> next_buffer(std::span<std::byte> scratch) override {
    auto space = ingest_->acquire();
    lent_ = space ? *space : std::span<std::byte>();
    return space ? *space : scratch;  // a dead ingest reports its error at write()
  }

  std::optional<Response> write(std::span<const std::byte> data) override {
    total_ += data.size();
    if (total_ > s_.config.max_upload_bytes) return xrpc_error(413, "PayloadTooLarge", "request entity too large");
    // A body with no declared length reserves its quota as it comes; past
    // the quota the upload ends here and the ingest (all it wrote) goes.
    if (quota_.active() && total_ > quota_.bytes()) {
      if (auto g = quota_.grow(total_ - quota_.bytes()); !g)
        return room_ ? xrpc_error(413, "QuotaExceeded", room_->refusal(g.error()))
                     : fail_response(Api::quota_exceeded(g.error()));
    }
    // Bytes of a rejected upload only reach the ingest's temporary object,
    // which goes when the sink does.
    bool in_ring = !lent_.empty() && data.data() == lent_.data();
    lent_ = {};
    auto put = in_ring ? ingest_->filled(data.size()) : ingest_->write(data);
    if (!put) return fail_response(to_xrpc(put.error()));
    if (!mime_ && total_ >= kSniffBytes) {
      if (auto r = decide(); r) return r;
    }
    return std::nullopt;
  }

  // PUT /blobs/<hash>?room=R: announce the stored blob in R (room_announcer.h).
  void into_room(std::string name, std::unique_ptr<RoomWriter> writer) {
    room_name_ = std::move(name);
    room_ = std::move(writer);
  }

  Response finish() override {
    if (!mime_) {
      if (auto r = decide(); r) return std::move(*r);
    }
    auto fence = s_.fence->shared();
    if (!fence) return fail_response(to_xrpc(fence.error()));
    if (claim_) claim_->mime = *mime_;
    auto rec = ingest_->finish();
    if (!rec) {
      if (mode_ == Mode::kPlain && rec.error().code == Errc::kCorruption)
        return xrpc_error(400, "HashMismatch", "The body's SHA-256 does not match the hash in the URL; nothing stored");
      return fail_response(to_xrpc(rec.error()));
    }
    std::string cid = to_cid(rec->hash);
    // The claim makes the bytes count in the account's usage; the
    // reservation goes after it (counted twice for a moment, never zero times).
    // (A PUT with a room credential has no account: the room holds the blob.)
    if (!did_.empty() && !claim_)
      if (auto r = s_.repo->note_upload(did_, rec->hash, *mime_, rec->size, mode_ == Mode::kPlain); !r)
        return fail_response(r.error());
    if (room_) room_->charge(quota_);  // the room token's quota
    else quota_.commit();
    if (mode_ == Mode::kPlain) {
      std::string announced;
      if (room_) {
        fence->release();  // the room hold keeps the blob; GC need not wait for the room
        if (auto a = room_->announce(rec->hash, rec->size); !a)
          return xrpc_error(503, "AnnounceFailed",
                            fmt::format("stored {} but could not list it in room {}: {}; retry the PUT",
                                        to_hash_ref(rec->hash), room_name_, a.error().message));
        announced = fmt::format(R"(,"announced":{{"room":{},"key":{},"holder":{}}})", json_quote(room_name_),
                                json_quote(to_hash_ref(rec->hash)), json_quote(room_->holder_url()));
      }
      Response resp = json_response(fmt::format(R"({{"hash":{},"cid":{},"size":{},"mimeType":{}{}}})",
                                                json_quote(to_hash_ref(rec->hash)), json_quote(cid), rec->size,
                                                json_quote(*mime_), announced),
                                    201);
      resp.set("Location", "/blobs/" + rec->hash.hex());
      return resp;
    }
    return json_response(fmt::format(R"({{"blob":{{"$type":"blob","ref":{{"$link":{}}},"mimeType":{},"size":{}}}}})",
                                     json_quote(cid), json_quote(*mime_), rec->size));
  }

 private:
  // The ingest sniffs its own head once; finish() reuses that answer.
  std::optional<Response> decide() {
    auto m = s_.mime.decide(declared_, ingest_->sniffed_mime());
    if (!m) return fail_response(mime_failure(m.error()));
    mime_ = *m;
    return std::nullopt;
  }

  Api& s_;
  Mode mode_;
  std::string did_;
  std::string declared_;
  std::unique_ptr<Ingest> ingest_;
  QuotaLedger::Reservation quota_;  // account_quota: the declared size, or what came so far
  std::span<std::byte> lent_;  // the ring space handed out by next_buffer()
  std::optional<std::string> mime_;
  std::uint64_t total_ = 0;
  std::string room_name_;
  std::unique_ptr<RoomWriter> room_;
  std::shared_ptr<UploadClaim> claim_;
};

// Checks shared by both upload endpoints; returns an error Response or the
// normalised declared type.
std::variant<Response, std::string> check_upload_head(Api& s, const Request& req, bool require_type) {
  if (!req.content_length && !req.has_body)
    return xrpc_error(400, "InvalidRequest", "A request body is expected but none was provided");
  if (auto enc = req.header("content-encoding"); enc && *enc != "identity")
    return xrpc_error(415, "UnsupportedMediaType", fmt::format("Unsupported content-encoding: {}", *enc));
  auto ct = req.header("content-type");
  if (!ct && require_type)
    return xrpc_error(400, "InvalidRequest", "Request encoding (Content-Type) required but not provided");
  std::string declared;
  if (ct) {
    declared = normalize_mime(*ct);
    if (declared.empty()) return xrpc_error(400, "InvalidRequest", fmt::format("Invalid Content-Type: {}", *ct));
  }
  if (req.content_length && *req.content_length > s.config.max_upload_bytes)
    return xrpc_error(413, "PayloadTooLarge", "request entity too large");
  return declared;
}

// Bytes that failed a re-hash are never served. 503, not 404: the blob
// exists and a verified copy (heal, re-upload) is expected to replace them,
// so clients retry later or fetch it elsewhere; nothing here is cacheable.
std::optional<Response> refuse_quarantined(const BlobRecord& rec) {
  if (rec.quarantine.empty()) return std::nullopt;
  Response r = xrpc_error(503, "BlobQuarantined",
                          fmt::format("Blob {} failed verification on this server and is quarantined until a "
                                      "verified copy replaces it",
                                      to_hash_ref(rec.hash)));
  r.set("Retry-After", "30");
  return r;
}

// Common download response: headers, ETag, conditional and Range handling.
Response serve_blob(Api& s, const Request& req, const Digest& hash, std::uint64_t size, const std::string& mime,
                    const std::string& etag_value, std::optional<std::string> disposition,
                    const ServedBlob* served = nullptr) {
  std::string etag = "\"" + etag_value + "\"";
  Response resp;
  resp.headers.reserve(8);  // the fields below and a range's: no regrowth
  resp.set("Content-Type", mime.empty() ? "application/octet-stream" : mime);
  resp.set("x-content-type-options", "nosniff");
  resp.set("content-security-policy", "default-src 'none'; sandbox");
  if (disposition) resp.set("content-disposition", *disposition);
  resp.set("ETag", etag);
  resp.set("Cache-Control", "public, max-age=31536000, immutable");
  resp.set("Accept-Ranges", "bytes");
  if (auto inm = req.header("if-none-match"); inm && (*inm == etag || *inm == "*")) {
    resp.status = 304;
    return resp;
  }
  ByteRange range{0, size};
  auto rr = parse_range(req.header("range"), size, range);
  if (rr == RangeResult::kUnsatisfiable) {
    Response err = xrpc_error(416, "InvalidRequest", fmt::format("Range not satisfiable (blob size {})", size));
    err.set("Content-Range", fmt::format("bytes */{}", size));
    err.set("Accept-Ranges", "bytes");
    return err;
  }
  if (rr == RangeResult::kSatisfiable) {
    resp.status = 206;
    resp.set("Content-Range", fmt::format("bytes {}-{}/{}", range.offset, range.offset + range.length - 1, size));
  } else {
    range = {0, size};
  }
  // The caller just read the row, so open the bytes directly (BlobStore::open
  // would read it again), from the hot-blob cache's open file if it has one.
  // Bytes gone since (a GC here or in another server) are "not found";
  // `blobsync verify` tells that apart from a lost file.
  auto reader = served ? s.store->open_to_serve(*served, range.offset, range.length)
                       : s.store->backend().open_sized(hash, size, range.offset, range.length);
  if (!reader) {
    if (reader.error().code == Errc::kNotFound) return xrpc_error(400, "BlobNotFound", "Blob not found");
    return fail_response(to_xrpc(reader.error()));
  }
  resp.blob = std::move(*reader);
  resp.blob_length = range.length;
  return resp;
}

}  // namespace

// PUT /blobs/<hash> is an explicit store request: the blob is pinned until
// an operator unpins it (`blobsync unpin --label put`) or deletes it.
constexpr std::string_view kPutPin = "pin:put";

void register_blob_routes(Api& s, Router& r) {
  r.add("POST", "/xrpc/com.atproto.repo.uploadBlob",
        {.name = "com.atproto.repo.uploadBlob",
         .stream = [&s](Request& req) -> StreamStart {
           auto did = s.authenticate(req);
           if (!did) return fail_response(did.error());
           auto head = check_upload_head(s, req, true);
           if (auto* err = std::get_if<Response>(&head)) return std::move(*err);
           std::string declared = std::get<std::string>(head);
           // The declared length is checked before any byte is read.
           auto quota = s.reserve_quota(*did, req.content_length.value_or(0));
           if (!quota) return fail_response(quota.error());
           PutOptions options{.expected = std::nullopt,
                              .max_size = s.config.max_upload_bytes,
                              .declared_mime = declared,
                              .state = BlobState::kTemporary,
                              .size = req.content_length};
           auto claim = claim_with_row(options, *did, false);
           auto ingest = s.unfenced_store->begin_put(options);
           if (!ingest) return fail_response(to_xrpc(ingest.error()));
           return std::make_unique<UploadSink>(s, UploadSink::Mode::kXrpc, *did, declared, std::move(*ingest),
                                               std::move(*quota), std::move(claim));
         },
         .upload = true});

  r.add("GET", "/xrpc/com.atproto.sync.getBlob",
        {.name = "com.atproto.sync.getBlob", .handler = [&s](Request& req) {
           auto did = get_param(req, "did");
           if (!did) return fail_response(did.error());
           auto cid = get_param(req, "cid");
           if (!cid) return fail_response(cid.error());
           if (!cid->starts_with('b')) return xrpc_error(400, "InvalidRequest", "cid must be a base32 CID");
           auto hash = parse_blob_id(*cid);
           if (!hash) return xrpc_error(400, "InvalidRequest", hash.error().message);
           auto account = s.accounts->get(*did);
           if (!account) return xrpc_error(400, "RepoNotFound", "Could not find repo for DID: " + *did);
           // Only blobs a record references are served (never temporary uploads).
           auto ref = s.repo->is_referenced(account->did, *hash);
           if (!ref) return fail_response(ref.error());
           if (!*ref) return xrpc_error(400, "BlobNotFound", "Blob not found");
           auto rec = s.store->stat(*hash);
           if (!rec) {
             if (rec.error().code == Errc::kNotFound) return xrpc_error(400, "BlobNotFound", "Blob not found");
             return fail_response(to_xrpc(rec.error()));
           }
           if (rec->state == BlobState::kDeleting) return xrpc_error(400, "BlobNotFound", "Blob not found");
           if (auto refused = refuse_quarantined(*rec)) return std::move(*refused);
           auto mime = s.repo->claimed_mime(account->did, *hash);
           std::string type = mime && *mime ? **mime : rec->mime_type;
           return serve_blob(s, req, *hash, rec->size, type, *cid, fmt::format("attachment; filename=\"{}\"", *cid));
         }});

  r.add("GET", "/xrpc/com.atproto.sync.listBlobs",
        {.name = "com.atproto.sync.listBlobs", .handler = [&s](Request& req) {
           auto did = get_param(req, "did");
           if (!did) return fail_response(did.error());
           auto limit = get_limit(req, 500, 1000);
           if (!limit) return fail_response(limit.error());
           auto account = s.accounts->get(*did);
           if (!account) return xrpc_error(400, "RepoNotFound", "Could not find repo for DID: " + *did);
           std::optional<std::string> since, cursor;
           if (auto v = req.param("since"); v && !v->empty()) since = std::string(*v);
           if (auto v = req.param("cursor"); v && !v->empty()) cursor = std::string(*v);
           auto cids = s.repo->list_blobs(account->did, since, cursor, *limit);
           if (!cids) return fail_response(cids.error());
           boost::json::object o;
           boost::json::array arr;
           for (auto& c : *cids) arr.emplace_back(c);
           if (!cids->empty()) o["cursor"] = cids->back();
           o["cids"] = std::move(arr);
           return json_ok(o);
         }});

  r.add("GET", "/xrpc/com.atproto.repo.listMissingBlobs",
        {.name = "com.atproto.repo.listMissingBlobs", .handler = [&s](Request& req) {
           auto did = s.authenticate(req);
           if (!did) return fail_response(did.error());
           auto limit = get_limit(req, 500, 1000);
           if (!limit) return fail_response(limit.error());
           std::optional<std::string> cursor;
           if (auto v = req.param("cursor"); v && !v->empty()) cursor = std::string(*v);
           auto rows = s.repo->list_missing_blobs(*did, cursor, *limit);
           if (!rows) return fail_response(rows.error());
           boost::json::object o;
           boost::json::array arr;
           for (auto& [cid, uri] : *rows) arr.emplace_back(boost::json::object{{"cid", cid}, {"recordUri", uri}});
           if (rows->size() == *limit) o["cursor"] = rows->back().first;
           o["blobs"] = std::move(arr);
           return json_ok(o);
         }});

  // Plain API.
  r.add_prefix("GET", "/blobs/", {.name = "blobs.get", .handler = [&s](Request& req) {
                                    std::string_view id = std::string_view(req.path).substr(7);
                                    auto hash = parse_blob_id_or_hex(id);
                                    if (!hash) return xrpc_error(400, "InvalidRequest", hash.error().message);
                                    if (!s.config.blobs_public)
                                      if (auto ok = s.authorize_blob_read(req); !ok) return fail_response(ok.error());
                                    // (Hot blobs: no metadata read, no open: store/hot_blobs.h.)
                                    auto served = s.store->stat_to_serve(*hash);
                                    if (!served && served.error().code != Errc::kNotFound)
                                      return fail_response(to_xrpc(served.error()));
                                    // Temporary (unreferenced) uploads are not served.
                                    if (!served || (*served)->record.state != BlobState::kPermanent)
                                      return xrpc_error(404, "BlobNotFound", "Blob not found");
                                    const BlobRecord& rec = (*served)->record;
                                    if (auto refused = refuse_quarantined(rec)) return std::move(*refused);
                                    // ?download=1: save as the uploader's filename (RFC 6266/5987).
                                    std::optional<std::string> disposition;
                                    if (auto d = req.param("download"); d && (*d == "1" || *d == "true"))
                                      disposition = attachment_disposition(rec.filename, rec.hash.hex());
                                    return serve_blob(s, req, *hash, rec.size, rec.mime_type, rec.hash.hex(),
                                                      std::move(disposition), served->get());
                                  }});
  r.add_prefix("PUT", "/blobs/",
               {.name = "blobs.put",
                .stream = [&s](Request& req) -> StreamStart {
                  // ?room=R: a room credential instead of a session (room_announcer.h).
                  auto room = req.param("room");
                  std::unique_ptr<RoomWriter> writer;
                  if (room) {
                    if (!s.rooms) return xrpc_error(501, "MethodNotImplemented", "this server has no rooms");
                    auto w = s.rooms->open(*room, req);
                    if (!w) return fail_response(w.error());
                    writer = std::move(*w);
                  }
                  auto did = room ? XResult<std::string>("") : s.authenticate(req);
                  if (!did) return fail_response(did.error());
                  std::string_view id = std::string_view(req.path).substr(7);
                  auto hash = parse_blob_id_or_hex(id);
                  if (!hash) return xrpc_error(400, "InvalidRequest", hash.error().message);
                  auto head = check_upload_head(s, req, false);
                  if (auto* err = std::get_if<Response>(&head)) return std::move(*err);
                  std::string declared = std::get<std::string>(head);
                  // A blob the account already claims costs nothing again. (A room
                  // credential has no account: see "Quotas" in docs/security.md.)
                  auto claimed =
                      s.config.account_quota && !room ? s.repo->has_claim(*did, *hash) : XResult<bool>(true);
                  if (!claimed) return fail_response(claimed.error());
                  auto quota = *claimed ? XResult<QuotaLedger::Reservation>()
                                        : s.reserve_quota(*did, req.content_length.value_or(0));
                  if (!quota) return fail_response(quota.error());
                  if (writer) {
                    // The room token's quota: a blob this server holds costs nothing.
                    auto held = s.store->contains(*hash);
                    if (!held) return fail_response(to_xrpc(held.error()));
                    if (!*held) {
                      auto reserved = writer->reserve(req.content_length.value_or(0));
                      if (!reserved) return xrpc_error(413, "QuotaExceeded", reserved.error());
                      *quota = std::move(*reserved);
                    }
                  }
                  PutOptions options{.expected = *hash,
                                     .max_size = s.config.max_upload_bytes,
                                     .declared_mime = declared,
                                     .state = BlobState::kPermanent,
                                     .hold = writer ? writer->hold() : std::string(kPutPin),
                                     .size = req.content_length,
                                     // ?name=: kept if the blob has none yet
                                     .filename = std::string(req.param("name").value_or(""))};
                  // (A PUT with a room credential has no account, so no claim.)
                  auto claim = did->empty() ? nullptr : claim_with_row(options, *did, true);
                  auto ingest = s.unfenced_store->begin_put(options);
                  if (!ingest) return fail_response(to_xrpc(ingest.error()));
                  auto sink = std::make_unique<UploadSink>(s, UploadSink::Mode::kPlain, *did, declared,
                                                           std::move(*ingest), std::move(*quota), std::move(claim));
                  if (writer) sink->into_room(std::string(*room), std::move(writer));
                  return sink;
                },
                .upload = true});
}

}  // namespace blobsync::http
