#include "http/api.h"

#include <sodium.h>

#include <spdlog/spdlog.h>

#include <chrono>

#include "http/secret_file.h"
#include "http/web_page.h"
#include "core/secret_compare.h"
#include "store/s3/backend_url.h"
#include "store/blob_store.h"
#include "store/shared_store.h"
#include "image/image_service.h"

namespace blobsync::http {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

namespace {

Result<std::vector<std::uint8_t>> load_secret(const ServerConfig& config) {
  if (!config.jwt_secret.empty()) return std::vector<std::uint8_t>(config.jwt_secret.begin(), config.jwt_secret.end());
  return load_secret_file(config.data_dir / "jwt.secret", true);
}

std::optional<std::string_view> bearer(const Request& req) {
  auto h = req.header("authorization");
  if (!h) return std::nullopt;
  std::string_view v = *h;
  if (v.size() < 7 || !(v.substr(0, 7) == "Bearer " || v.substr(0, 7) == "bearer ")) return std::string_view();
  v.remove_prefix(7);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  return v;
}

}  // namespace

Api::~Api() = default;

Result<std::unique_ptr<Api>> Api::open(const ServerConfig& config) {
  if (sodium_init() < 0) return fail(Errc::kInternal, "libsodium failed to initialise");
  std::unique_ptr<Api> s(new Api());
  s->config = config;
  s->mime = MimePolicy(config.allowed_mime);
  s->service_did = "did:web:" + config.hostname;
  s->login_by_account = std::make_unique<RateLimiter>(config.login_rate.count, config.login_rate.per);
  s->login_by_address = std::make_unique<RateLimiter>(config.login_rate_address.count, config.login_rate_address.per);
  s->create_account_by_address = std::make_unique<RateLimiter>(config.create_account_rate_address.count,
                                                               config.create_account_rate_address.per);
  auto backend = open_store_url(config.store);
  if (!backend) return std::unexpected(backend.error());
  auto shared = open_shared_store(
      SharedStoreOptions{.data_dir = config.data_dir, .metadata = config.metadata, .backend = std::move(*backend)});
  if (!shared) return std::unexpected(shared.error());
  s->db = std::move(shared->db);
  s->fence = std::move(shared->fence);
  s->unfenced_store = &shared->store->unfenced();
  s->store = std::move(shared->store);
  auto accounts = AccountStore::open(s->db);
  if (!accounts) return std::unexpected(accounts.error());
  s->accounts = std::move(*accounts);
  auto lifecycle = BlobLifecycle::open(s->db, *s->unfenced_store, s->fence);
  if (!lifecycle) return std::unexpected(lifecycle.error());
  s->lifecycle = std::move(*lifecycle);
  auto repo = RepoStore::open(s->db, *s->lifecycle);
  if (!repo) return std::unexpected(repo.error());
  s->repo = std::move(*repo);
  auto secret = load_secret(config);
  if (!secret) return std::unexpected(secret.error());
  s->jwt_secret = std::move(*secret);
  auto images = open_image_service(config);
  if (!images) return std::unexpected(images.error());
  s->images = std::move(*images);
  return s;
}

void Api::register_routes(Router& router) {
  register_server_routes(*this, router);
  register_repo_routes(*this, router);
  register_image_routes(*this, router);
  register_blob_routes(*this, router);
  register_account_routes(*this, router);
  register_web_routes(router);
}

namespace {
XrpcFailure jwt_failure(JwtError e) {
  switch (e) {
    case JwtError::kExpired: return {401, "ExpiredToken", "Token has expired"};
    case JwtError::kBadSignature:
    case JwtError::kMalformed: break;
  }
  return {401, "InvalidToken", "Token could not be verified"};
}
}  // namespace

XResult<std::string> Api::authenticate(Request& req) const {
  auto token = bearer(req);
  if (!token) return xfail(401, "AuthenticationRequired", "Authorization header is required");
  if (token->empty()) return xfail(401, "AuthenticationRequired", "Unexpected authorization type (expected Bearer)");
  auto claims = jwt_verify(*token, jwt_secret, unix_now());
  if (!claims) return std::unexpected(jwt_failure(claims.error()));
  // typ too: a room token (typ blobsync-room+jwt) is never a session, even
  // if an operator gave both the same secret.
  if (claims->typ != "at+jwt" || claims->scope != "com.atproto.access" || claims->aud != service_did)
    return xfail(401, "InvalidToken", "Bad token scope");
  auto account = accounts->get(claims->sub);
  if (!account) return xfail(401, "InvalidToken", "Token's account no longer exists");
  req.did = claims->sub;
  return claims->sub;
}

XResult<> Api::authorize_blob_read(Request& req) const {
  auto token = bearer(req);
  if (!token || token->empty())
    return xfail(401, "AuthenticationRequired", "this server's blobs need a token (blobs_public = false)");
  // Every static token is compared, so the time taken does not say which list matched.
  bool known = !config.admin_token.empty() && secrets_equal(*token, config.admin_token);
  for (const auto& t : config.sync_tokens) known |= secrets_equal(*token, t);
  for (const auto& t : config.sync_read_only_tokens) known |= secrets_equal(*token, t);
  if (known) return {};
  if (auto did = authenticate(req); !did) return std::unexpected(did.error());
  return {};
}

XResult<JwtClaims> Api::authenticate_refresh(const Request& req) const {
  auto token = bearer(req);
  if (!token) return xfail(401, "AuthenticationRequired", "Authorization header is required");
  if (token->empty()) return xfail(401, "AuthenticationRequired", "Unexpected authorization type (expected Bearer)");
  auto claims = jwt_verify(*token, jwt_secret, unix_now());
  if (!claims) return std::unexpected(jwt_failure(claims.error()));
  if (claims->typ != "refresh+jwt" || claims->scope != "com.atproto.refresh" || claims->aud != service_did ||
      claims->jti.empty())
    return xfail(400, "InvalidToken", "Invalid token type");
  return *claims;
}

XrpcFailure Api::quota_exceeded(const QuotaRefusal& r) {
  return {413, "QuotaExceeded",
          fmt::format("Storage quota exceeded: the account uses {} of {} bytes (account_quota){}; this write needs {} "
                      "more. Delete records or blobs it no longer needs",
                      r.used, r.limit, r.in_flight ? fmt::format(", {} more in uploads in progress", r.in_flight) : "",
                      r.wanted)};
}

constexpr std::chrono::steady_clock::duration kUsageReuse = std::chrono::seconds(1);

XResult<QuotaLedger::Reservation> Api::reserve_quota(const std::string& did, std::uint64_t bytes) {
  if (config.account_quota == 0) return QuotaLedger::Reservation{};
  std::optional<XrpcFailure> failed;
  // The usage read (a SUM over the account's blobs and records) is reused
  // for a second, with this process's commits since added (QuotaLedger): it
  // grew with the account and took a quarter of the CPU of a 16 KiB upload
  // once an account held a few thousand blobs. A refusal always reads afresh.
  auto r = account_quotas.reserve(
      did, bytes, config.account_quota,
      [&]() -> std::optional<std::uint64_t> {
        auto u = repo->usage(did);
        if (u) return *u;
        failed = u.error();
        return std::nullopt;
      },
      kUsageReuse);
  if (failed) return std::unexpected(*failed);  // a granted reservation is released here
  if (!r) return std::unexpected(quota_exceeded(r.error()));
  return std::move(*r);
}

XResult<std::pair<std::string, std::string>> Api::issue_tokens(const std::string& did) {
  auto now = unix_now();
  JwtClaims access{"at+jwt", "com.atproto.access", did, service_did, "", now, now + config.access_ttl.count()};
  std::uint8_t raw[16];
  randombytes_buf(raw, sizeof raw);
  JwtClaims refresh{"refresh+jwt", "com.atproto.refresh", did, service_did, base64url_encode(raw), now,
                    now + config.refresh_ttl.count()};
  if (auto r = accounts->add_session(refresh.jti, did, refresh.exp); !r) return std::unexpected(to_xrpc(r.error()));
  return std::pair{jwt_sign(access, jwt_secret), jwt_sign(refresh, jwt_secret)};
}

}  // namespace blobsync::http
