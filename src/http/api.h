// Api: everything the XRPC and plain-blob handlers share: the config, the
// blob store, the metadata database, accounts, records, the JWT secret, the
// MIME policy and the metrics. register_routes() wires all endpoints.
//
// The metadata database is config.metadata (SQLite in the data dir by
// default, or PostgreSQL shared with other servers); the blob index,
// accounts and records all live in it. `store` is fenced (see
// store/blob_fence.h) so uploads here and GC in any process sharing the
// database never race.
//
// The JWT secret is config.jwt_secret, or else DATA/jwt.secret, generated
// (32 random bytes, hex, mode 0600) on first start and reused afterwards so
// sessions survive restarts.
//
// Thread safety: after open() the Api is shared read-only; its members
// are themselves thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/quota_ledger.h"
#include "http/account_store.h"
#include "http/config.h"
#include "http/jwt.h"
#include "http/rate_limiter.h"
#include "http/metrics.h"
#include "store/mime_policy.h"
#include "http/repo_store.h"
#include "http/room_announcer.h"
#include "http/router.h"
#include "http/xrpc_error.h"

namespace blobsync {
namespace image {
class ImageService;
}  // namespace image
class BlobStore;
class BlobFence;
class BlobLifecycle;
class SqlDb;
}  // namespace blobsync

namespace blobsync::http {

class Api {
 public:
  // Opens the metadata database, the store in config.data_dir, and loads
  // the secret.
  static Result<std::unique_ptr<Api>> open(const ServerConfig& config);
  ~Api();

  void register_routes(Router& router);

  // Bearer access token -> DID. Errors: 401 AuthenticationRequired (missing
  // or not Bearer), 401 InvalidToken (forged, malformed, wrong scope), 401
  // ExpiredToken.
  XResult<std::string> authenticate(Request& req) const;
  // GET /blobs/<hash> with blobs_public = false: a Bearer ATProto access
  // token, sync token (read-only included) or the admin token; tokens are
  // compared in constant time. Errors: 401 AuthenticationRequired, 401
  // InvalidToken.
  XResult<> authorize_blob_read(Request& req) const;
  // Bearer refresh token -> claims (same errors).
  XResult<JwtClaims> authenticate_refresh(const Request& req) const;
  // account_quota (docs/security.md, "Quotas"): reserves `bytes` more for
  // `did` against what it holds in the database plus its writes in flight
  // in this process. Errors: 413 QuotaExceeded (says what is used of what),
  // 500 on a database error. No quota configured: an inactive reservation.
  XResult<QuotaLedger::Reservation> reserve_quota(const std::string& did, std::uint64_t bytes);
  // The same refusal for `more` bytes past a reservation that tried to grow.
  static XrpcFailure quota_exceeded(const QuotaRefusal& r);

  // A fresh access/refresh pair for `did` (the refresh jti is recorded).
  XResult<std::pair<std::string, std::string>> issue_tokens(const std::string& did);

  ServerConfig config;
  std::unique_ptr<BlobStore> store;  // fenced: commits and removals take `fence`
  BlobStore* unfenced_store = nullptr;  // the same store, for callers holding `fence` themselves
  std::shared_ptr<BlobFence> fence;
  std::shared_ptr<SqlDb> db;
  std::unique_ptr<AccountStore> accounts;
  std::unique_ptr<BlobLifecycle> lifecycle;  // what keeps blobs; the GC sweeper
  std::unique_ptr<RepoStore> repo;           // a hold source of `lifecycle`
  std::vector<std::uint8_t> jwt_secret;
  std::string service_did;  // did:web:<hostname>
  MimePolicy mime{{}};
  Metrics metrics;
  QuotaLedger account_quotas;  // writes in flight per account (reserve_quota)
  // createSession attempts (login_rate, login_rate_address; api_server.cpp).
  std::unique_ptr<RateLimiter> login_by_account;
  std::unique_ptr<RateLimiter> login_by_address;
  // createAccount requests (create_account_rate_address; api_server.cpp).
  std::unique_ptr<RateLimiter> create_account_by_address;
  // PUT /blobs/<hash>?room=R announces through this; set by `blobsync serve`
  // before the server runs (null: ?room is refused with 501).
  std::shared_ptr<RoomAnnouncer> rooms;
  // Derived images (api_images.cpp, image/image_service.h).
  std::unique_ptr<image::ImageService> images;

 private:
  Api() = default;
};

// Route groups, one translation unit each.
void register_server_routes(Api& s, Router& r);  // accounts, sessions, describeServer, health, metrics
void register_repo_routes(Api& s, Router& r);    // records
void register_blob_routes(Api& s, Router& r);    // uploadBlob, getBlob, listBlobs, /blobs/
void register_image_routes(Api& s, Router& r);   // /blobs/<hash>/image, /img/ (before the /blobs/ prefix)
// The image service of `config` (DATA/image-cache, the image_* keys).
Result<std::unique_ptr<image::ImageService>> open_image_service(const ServerConfig& config);
void register_account_routes(Api& s, Router& r); // requestAccountDelete, deleteAccount

std::int64_t unix_now();

}  // namespace blobsync::http
