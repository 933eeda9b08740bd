#include "http/router.h"

#include <fmt/format.h>

namespace blobsync::http {

void Router::add(std::string_view method, std::string path, Route route) {
  entries_.push_back({std::string(method), std::move(path), false, {}, std::move(route)});
}

void Router::add_prefix(std::string_view method, std::string prefix, Route route) {
  entries_.push_back({std::string(method), std::move(prefix), true, {}, std::move(route)});
}

void Router::add_pattern(std::string_view method, std::string prefix, std::string suffix, Route route) {
  entries_.push_back({std::string(method), std::move(prefix), true, std::move(suffix), std::move(route)});
}

const Route* Router::match(std::string_view method, std::string_view path, Response& fallback) const {
  std::string_view m = method == "HEAD" ? std::string_view("GET") : method;
  bool path_known = false;
  for (const auto& e : entries_) {
    bool hit = e.prefix ? path.starts_with(e.path) : path == e.path;
    if (hit && !e.suffix.empty())
      hit = path.size() > e.path.size() + e.suffix.size() && path.ends_with(e.suffix);
    if (!hit) continue;
    if (e.method == m) return &e.route;
    path_known = true;
  }
  if (path.starts_with("/xrpc/")) {
    fallback = path_known ? xrpc_error(400, "InvalidRequest", fmt::format("Incorrect HTTP method ({})", method))
                          : xrpc_error(501, "MethodNotImplemented", "Method Not Implemented");
  } else if (path_known) {
    fallback = xrpc_error(405, "MethodNotAllowed", fmt::format("{} is not allowed here", method));
  } else {
    fallback = xrpc_error(404, "NotFound", "No such endpoint");
  }
  return nullptr;
}

}  // namespace blobsync::http
