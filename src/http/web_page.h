// The page at / and its assets under /app/ (web/, embedded: web_assets.h):
// GET and HEAD, with the page's Content-Security-Policy, nosniff, ETag and
// If-None-Match (304), Cache-Control: no-cache (revalidated, so a new
// binary's files are used at once). Unknown /app/ names are 404.
//
// Thread safety: the routes read constant data.
#pragma once

#include <string_view>

#include "http/router.h"

namespace blobsync::http {

// What the page may do: its own scripts and styles only (no inline code),
// WebSockets to any host (a room's holders may be other servers), images
// from this server and from blob: URLs (previews of fetched blobs).
inline constexpr std::string_view kPageCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

void register_web_routes(Router& router);

}  // namespace blobsync::http
