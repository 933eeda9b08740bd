// Who may read the operator's endpoints (/metrics, /peers; docs/security.md,
// "Admin endpoints"): a client on loopback (unless admin_loopback is off), or
// anyone presenting `Authorization: Bearer <admin_token>` (compared in
// constant time). With no admin_token configured, only loopback.
//
// The address is the TCP peer's (Request::remote, from the accepted socket),
// never a header: X-Forwarded-For and friends are ignored, so behind a reverse
// proxy on the same host every client looks like loopback; turn
// admin_loopback off there.
//
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string_view>

#include "http/http_types.h"

namespace blobsync::http {

// "127.0.0.1:5000", "[::1]:5000", "[::ffff:127.0.0.2]:5000" -> true.
bool is_loopback(std::string_view remote);

// The admin token in the request's Authorization header equals `admin_token`
// (false when admin_token is empty).
bool has_admin_token(const Request& req, std::string_view admin_token);

// nullopt when the request may read an admin endpoint, else the refusal:
// 401 AuthenticationRequired (no or wrong token), 403 Forbidden (not
// loopback and no admin_token configured).
std::optional<Response> refuse_admin(const Request& req, std::string_view admin_token, bool loopback_open);

}  // namespace blobsync::http
