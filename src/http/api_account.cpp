// com.atproto.server.requestAccountDelete and deleteAccount. The reference
// PDS e-mails the token; this server has no mail, so requestAccountDelete
// logs it (info, with the handle) for the operator to pass on. deleteAccount
// checks did, password and token (the token in constant time), then removes
// the account's records, references and claims (its blobs follow the blob
// lifecycle: collected after gc_grace unless something else holds them),
// and last the account, its sessions and tokens.
#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "http/json_util.h"
#include "http/api.h"

namespace blobsync::http {

namespace {

constexpr std::string_view kDeletePurpose = "delete_account";
constexpr std::int64_t kDeleteTokenSeconds = 15 * 60;  // the reference PDS's lifetime

Response fail_response(const XrpcFailure& f) { return to_response(f); }

Response too_many(std::chrono::seconds wait) {
  auto r = xrpc_error(429, "RateLimitExceeded", fmt::format("Too many attempts; retry in {} s", wait.count()));
  r.set("Retry-After", std::to_string(wait.count()));
  return r;
}

Response empty_ok() {
  Response resp;
  resp.status = 200;
  return resp;
}

}  // namespace

void register_account_routes(Api& s, Router& r) {
  r.add("POST", "/xrpc/com.atproto.server.requestAccountDelete",
        {.name = "com.atproto.server.requestAccountDelete", .handler = [&s](Request& req) {
           auto did = s.authenticate(req);
           if (!did) return fail_response(did.error());
           auto account = s.accounts->get(*did);
           if (!account) return fail_response(account.error());
           auto token = s.accounts->issue_token(*did, kDeletePurpose);
           if (!token) return fail_response(token.error());
           spdlog::info("requestAccountDelete: token for {} ({}): {} (valid 15 minutes; no e-mail is sent)",
                        account->handle, account->did, *token);
           return empty_ok();
         }});

  r.add("POST", "/xrpc/com.atproto.server.deleteAccount",
        {.name = "com.atproto.server.deleteAccount",
         .handler =
             [&s](Request& req) {
               auto body = parse_json_body(req);
               if (!body) return fail_response(body.error());
               auto did = get_string(*body, "did");
               if (!did) return fail_response(did.error());
               auto password = get_string(*body, "password");
               if (!password) return fail_response(password.error());
               auto token = get_string(*body, "token");
               if (!token) return fail_response(token.error());
               // A password check costs argon2id: the login limits apply, as for createSession.
               if (auto wait = s.login_by_address->take(client_address_key(req.remote)))
                 return too_many(*wait);
               if (auto wait = s.login_by_account->take(*did))
                 return too_many(*wait);
               auto account = s.accounts->authenticate(*did, *password);
               // The identifier must be the DID itself, not a handle or e-mail naming it.
               if (!account || account->did != *did)
                 return xrpc_error(401, "AuthenticationRequired", "Invalid did or password");
               req.did = account->did;
               if (auto t = s.accounts->use_token(account->did, kDeletePurpose, *token, kDeleteTokenSeconds); !t)
                 return fail_response(t.error());
               // Records before the account: a crash in between leaves an account
               // without records, and a new token finishes the job.
               auto records = s.repo->delete_account(account->did);
               if (!records) return fail_response(records.error());
               auto removed = s.accounts->remove(account->did);
               if (!removed) return fail_response(removed.error());
               spdlog::info("deleteAccount: deleted {} ({}) and its {} records; its blobs follow the lifecycle",
                            account->handle, account->did, *records);
               return empty_ok();
             },
         .blocking = true});
}

}  // namespace blobsync::http
