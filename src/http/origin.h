// OriginPolicy: which browser origins may use this server, and the CORS
// headers that tell a browser so (config `allowed_origins`, docs/security.md
// "Browsers").
//
// A request without an `Origin` header (the CLI, Node, curl, another server)
// is not a browser's cross-site request and is never refused here. A request
// with one is accepted when the origin is
//   - this server's own: the origin of its public `url` (ws -> http,
//     wss -> https), or the origin the request's `Host` names (http or https,
//     same host and port) when that host is an IP literal, `localhost`, the
//     configured `hostname` or the public URL's host. Only those names: a
//     DNS-rebinding page (evil.example resolving to this server) sends
//     `Host: evil.example` and `Origin: http://evil.example`, which agree,
//     and must not pass as same-origin;
//   - a configured peer's (`peers`, ws -> http);
//   - in `allowed_origins` (`*` allows every origin, `null` included).
// Origins are compared in canonical form: lower-case scheme and host, the
// default port (http/ws 80, https/wss 443) made explicit; anything that is
// not exactly scheme://host[:port] (a path, userinfo, `%`, an empty port) is
// refused. `null` (sandboxed frames, file: pages) is refused unless `*`.
//
// Thread safety: immutable after make(); share freely.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "http/http_types.h"

namespace blobsync::http {

// scheme://host:port, canonical. port 0: a scheme with no default port and
// none given (e.g. capacitor://localhost).
struct Origin {
  std::string scheme;
  std::string host;  // lower-case; IPv6 without brackets
  std::uint16_t port = 0;
  bool operator==(const Origin&) const = default;
  std::string str() const;
};

// Parses an Origin header value or an `allowed_origins` entry. Errors:
// kInvalidArgument saying what is wrong ("null" is not an origin here).
Result<Origin> parse_origin(std::string_view text);

class OriginPolicy {
 public:
  struct Options {
    std::vector<std::string> allowed;  // allowed_origins: origins or "*"
    std::string public_url;            // ws:// or wss:// URL of this server
    std::vector<std::string> peers;    // peers' sync URLs
    std::string hostname;              // config `hostname`
  };
  // Errors: kInvalidArgument naming the bad entry.
  static Result<OriginPolicy> make(const Options& options);

  // Whether a request carrying `origin` (the header's value) may proceed;
  // `host` is its Host header, if any.
  bool allows(std::string_view origin, std::optional<std::string_view> host) const;

  // Paths that answer browsers cross-origin (CORS): the XRPC API and /blobs/.
  static bool cors_path(std::string_view path);
  // The answer to a preflight (OPTIONS) from an allowed origin: 204 with the
  // Access-Control-Allow-* headers.
  static Response preflight(std::string_view origin, const Request& req);
  // Adds to a response on a CORS path: Vary: Origin always (a shared cache
  // must not serve one origin's answer to another), and for an allowed
  // origin Access-Control-Allow-Origin and -Expose-Headers.
  static void decorate(Response& resp, std::optional<std::string_view> allowed_origin);

 private:
  OriginPolicy() = default;
  bool allow_all_ = false;
  std::vector<Origin> fixed_;              // own (public url), peers, allowed list
  std::vector<std::string> own_names_;     // host names a Host header may use to mean "us"
};

}  // namespace blobsync::http
