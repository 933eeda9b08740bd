#include "http/web_page.h"

#include <string>

#include "http/web_assets.h"

namespace blobsync::http {

namespace {

Response serve_asset(const Request& req, const WebAsset& a) {
  Response resp;
  resp.set("Content-Type", a.content_type);
  resp.set("X-Content-Type-Options", "nosniff");
  resp.set("Content-Security-Policy", std::string(kPageCsp));
  resp.set("Referrer-Policy", "no-referrer");  // room tokens may sit in the page's URL fragment
  resp.set("ETag", a.etag);
  resp.set("Cache-Control", "no-cache");
  if (auto inm = req.header("if-none-match"); inm && *inm == a.etag) {
    resp.status = 304;
    return resp;
  }
  resp.body.assign(reinterpret_cast<const char*>(a.data), a.size);
  return resp;
}

const WebAsset* find(std::string_view path) {
  for (std::size_t i = 0; i < kWebAssetCount; ++i)
    if (path == kWebAssets[i].path) return &kWebAssets[i];
  return nullptr;
}

}  // namespace

void register_web_routes(Router& router) {
  auto handler = [](Request& req) {
    const WebAsset* a = find(req.path == "/index.html" ? std::string_view("/") : std::string_view(req.path));
    if (!a) return xrpc_error(404, "NotFound", "No such file");
    return serve_asset(req, *a);
  };
  router.add("GET", "/", {.name = "page", .handler = handler});
  router.add("GET", "/index.html", {.name = "page", .handler = handler});
  router.add_prefix("GET", "/app/", {.name = "page.asset", .handler = handler});
}

}  // namespace blobsync::http
