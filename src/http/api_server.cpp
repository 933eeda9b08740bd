// com.atproto.server.* (accounts and sessions), describeServer, /healthz, /metrics.
#include <boost/json.hpp>
#include <fmt/format.h>

#include <cctype>

#include "http/admin_auth.h"
#include "http/json_util.h"
#include "http/api.h"
#include "store/blob_store.h"

namespace blobsync::http {

namespace {

Response fail_response(const XrpcFailure& f) { return to_response(f); }

Response rate_limited(std::chrono::seconds wait, std::string_view what) {
  auto r = xrpc_error(429, "RateLimitExceeded", fmt::format("Too many {}; retry in {} s", what, wait.count()));
  r.set("Retry-After", std::to_string(wait.count()));
  return r;
}

// The key an identifier's attempts count under: as typed, lower-cased. Not
// the account it names: sharing one bucket between an account's handle,
// email and DID would let anyone test which email belongs to which handle
// (fill one, probe the other), and a missing account must behave like one
// that exists.
std::string login_key(std::string_view identifier) {
  std::string key(identifier.substr(0, 512));
  for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return key;
}

boost::json::object session_json(const Account& a, const std::string& access, const std::string& refresh) {
  return {{"accessJwt", access}, {"refreshJwt", refresh}, {"handle", a.handle}, {"did", a.did},
          {"email", a.email},    {"emailConfirmed", false}, {"active", true}};
}

}  // namespace

void register_server_routes(Api& s, Router& r) {
  r.add("GET", "/healthz", {.name = "healthz", .handler = [](Request&) {
                              return json_response(R"({"status":"ok"})");
                            }});
  r.add("GET", "/xrpc/_health", {.name = "_health", .handler = [](Request&) {
                                   return json_response(R"({"version":"blobsync"})");
                                 }});
  r.add("GET", "/metrics", {.name = "metrics", .handler = [&s](Request& req) {
                              if (auto no = refuse_admin(req, s.config.admin_token, s.config.admin_loopback))
                                return std::move(*no);
                              std::int64_t count = -1, bytes = -1;
                              if (auto st = s.store->stats(); st) {
                                count = static_cast<std::int64_t>(st->blob_count);
                                bytes = static_cast<std::int64_t>(st->total_bytes);
                              }
                              Response resp;
                              resp.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
                              resp.body = s.metrics.render(count, bytes);
                              return resp;
                            }});

  r.add("GET", "/xrpc/com.atproto.server.describeServer",
        {.name = "com.atproto.server.describeServer", .handler = [&s](Request&) {
           boost::json::array domains;
           for (const auto& d : s.config.user_domains) domains.emplace_back(d);
           boost::json::object o{{"did", s.service_did},
                                 {"availableUserDomains", domains},
                                 {"inviteCodeRequired", false},
                                 {"phoneVerificationRequired", false},
                                 {"links", boost::json::object()},
                                 {"contact", boost::json::object()},
                                 {"blobUploadLimit", s.config.max_upload_bytes}};
           return json_ok(o);
         }});

  r.add("POST", "/xrpc/com.atproto.server.createAccount",
        {.name = "com.atproto.server.createAccount",
         .handler =
             [&s](Request& req) {
               if (!s.config.open_signup) return xrpc_error(403, "Forbidden", "Sign-up is closed on this server");
               auto body = parse_json_body(req);
               if (!body) return fail_response(body.error());
               auto handle = get_string(*body, "handle");
               if (!handle) return fail_response(handle.error());
               auto email = get_string(*body, "email");
               if (!email) return fail_response(email.error());
               auto password = get_string(*body, "password");
               if (!password) return fail_response(password.error());
               // Before hashing: a refused request costs no argon2id and stores
               // nothing. As for logins, a malformed body (400) does not count; any
               // other attempt does, even one refused later (a taken handle).
               if (auto wait = s.create_account_by_address->take(client_address_key(req.remote)))
                 return rate_limited(*wait, "accounts created from this address");
               auto account = s.accounts->create(*handle, *email, *password);
               if (!account) return fail_response(account.error());
               req.did = account->did;
               auto tokens = s.issue_tokens(account->did);
               if (!tokens) return fail_response(tokens.error());
               return json_ok(boost::json::object{{"accessJwt", tokens->first},
                                                  {"refreshJwt", tokens->second},
                                                  {"handle", account->handle},
                                                  {"did", account->did}});
             },
         .blocking = true});

  r.add("POST", "/xrpc/com.atproto.server.createSession",
        {.name = "com.atproto.server.createSession",
         .handler =
             [&s](Request& req) {
               auto body = parse_json_body(req);
               if (!body) return fail_response(body.error());
               auto id = get_string(*body, "identifier");
               if (!id) return fail_response(id.error());
               auto password = get_string(*body, "password");
               if (!password) return fail_response(password.error());
               // Limits first, so that refused attempts cost no hashing.
               if (auto wait = s.login_by_address->take(client_address_key(req.remote)))
                 return rate_limited(*wait, "login attempts from this address");
               if (auto wait = s.login_by_account->take(login_key(*id)))
                 return rate_limited(*wait, "login attempts for this account");
               auto account = s.accounts->authenticate(*id, *password);
               if (!account) return fail_response(account.error());
               req.did = account->did;
               auto tokens = s.issue_tokens(account->did);
               if (!tokens) return fail_response(tokens.error());
               return json_ok(session_json(*account, tokens->first, tokens->second));
             },
         .blocking = true});

  r.add("POST", "/xrpc/com.atproto.server.refreshSession",
        {.name = "com.atproto.server.refreshSession", .handler = [&s](Request& req) {
           auto claims = s.authenticate_refresh(req);
           if (!claims) return fail_response(claims.error());
           req.did = claims->sub;
           auto taken = s.accounts->take_session(claims->jti, claims->sub);
           if (!taken) return fail_response(to_xrpc(taken.error()));
           if (!*taken) return xrpc_error(400, "ExpiredToken", "Token has been revoked");
           auto account = s.accounts->get(claims->sub);
           if (!account) return fail_response(account.error());
           auto tokens = s.issue_tokens(account->did);
           if (!tokens) return fail_response(tokens.error());
           return json_ok(session_json(*account, tokens->first, tokens->second));
         }});

  r.add("GET", "/xrpc/com.atproto.server.getSession",
        {.name = "com.atproto.server.getSession", .handler = [&s](Request& req) {
           auto did = s.authenticate(req);
           if (!did) return fail_response(did.error());
           auto account = s.accounts->get(*did);
           if (!account) return fail_response(account.error());
           return json_ok(boost::json::object{{"handle", account->handle},
                                              {"did", account->did},
                                              {"email", account->email},
                                              {"emailConfirmed", false},
                                              {"active", true}});
         }});

  r.add("POST", "/xrpc/com.atproto.server.deleteSession",
        {.name = "com.atproto.server.deleteSession", .handler = [&s](Request& req) {
           auto claims = s.authenticate_refresh(req);
           if (!claims) return fail_response(claims.error());
           req.did = claims->sub;
           auto taken = s.accounts->take_session(claims->jti, claims->sub);
           if (!taken) return fail_response(to_xrpc(taken.error()));
           Response resp;
           resp.status = 200;
           return resp;
         }});
}

}  // namespace blobsync::http
