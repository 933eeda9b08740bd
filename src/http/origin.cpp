#include "http/origin.h"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>

namespace blobsync::http {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::uint16_t default_port(std::string_view scheme) {
  if (scheme == "http" || scheme == "ws") return 80;
  if (scheme == "https" || scheme == "wss") return 443;
  return 0;
}

bool name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

// Host and port of a parsed authority, canonical. Refuses what no browser
// sends: userinfo, percent-escapes, odd characters in names, an empty port.
template <class View>
Result<std::pair<std::string, std::optional<std::uint16_t>>> host_port(const View& v) {
  if (v.has_userinfo()) return fail(Errc::kInvalidArgument, "has userinfo");
  std::string host;
  switch (v.host_type()) {
    case boost::urls::host_type::ipv4: host = std::string(v.encoded_host()); break;
    case boost::urls::host_type::ipv6: host = lower(v.host_ipv6_address().to_string()); break;
    case boost::urls::host_type::name: {
      auto h = std::string_view(v.encoded_host());
      if (h.empty() || !std::all_of(h.begin(), h.end(), name_char))
        return fail(Errc::kInvalidArgument, "host '{}' is not a DNS name or IP address", h);
      host = lower(h);
      break;
    }
    default: return fail(Errc::kInvalidArgument, "host is not a DNS name or IP address");
  }
  if (!v.has_port()) return std::pair{host, std::optional<std::uint16_t>()};
  auto p = std::string_view(v.port());
  if (p.empty() || p.size() > 5 || !std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return fail(Errc::kInvalidArgument, "port '{}' is not a number", p);
  unsigned n = 0;
  for (char c : p) n = n * 10 + static_cast<unsigned>(c - '0');
  if (n == 0 || n > 65535) return fail(Errc::kInvalidArgument, "port {} is out of range", n);
  return std::pair{host, std::optional<std::uint16_t>(static_cast<std::uint16_t>(n))};
}

// The origin of a ws:// or wss:// URL (a public url, a peer): its page-side
// scheme (http, https), host and port.
Result<Origin> origin_of_ws_url(std::string_view url) {
  auto u = boost::urls::parse_absolute_uri(url);
  if (!u) return fail(Errc::kInvalidArgument, "'{}' is not a URL", url);
  std::string scheme = lower(u->scheme());
  if (scheme == "ws") scheme = "http";
  else if (scheme == "wss") scheme = "https";
  else return fail(Errc::kInvalidArgument, "'{}' is not a ws:// or wss:// URL", url);
  if (!u->has_authority()) return fail(Errc::kInvalidArgument, "'{}' has no host", url);
  auto hp = host_port(*u);
  if (!hp) return fail(Errc::kInvalidArgument, "'{}': {}", url, hp.error().message);
  return Origin{scheme, hp->first, hp->second.value_or(default_port(scheme))};
}

bool is_ip_literal(std::string_view host) {
  if (host.find(':') != std::string_view::npos) return true;  // IPv6 (brackets already removed)
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

bool header_token(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

}  // namespace

std::string Origin::str() const {
  std::string out = scheme + "://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host);
  if (port != 0) out += ":" + std::to_string(port);
  return out;
}

Result<Origin> parse_origin(std::string_view text) {
  if (text == "null") return fail(Errc::kInvalidArgument, "'null' is an opaque origin (sandboxed frame, file: page)");
  if (text.size() > 1024) return fail(Errc::kInvalidArgument, "origin longer than 1024 characters");
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '%' || c == '\\')
      return fail(Errc::kInvalidArgument, "origin '{}' has a space, control, '%', '\\' or non-ASCII character", text);
  }
  auto u = boost::urls::parse_absolute_uri(text);
  if (!u || !u->has_authority())
    return fail(Errc::kInvalidArgument, "'{}' is not an origin (scheme://host[:port])", text);
  if (!u->encoded_path().empty() || u->has_query() || u->has_fragment())
    return fail(Errc::kInvalidArgument, "'{}' is not an origin: scheme://host[:port] only, no path, query or fragment",
                text);
  std::string scheme = lower(u->scheme());
  auto hp = host_port(*u);
  if (!hp) return fail(Errc::kInvalidArgument, "origin '{}': {}", text, hp.error().message);
  return Origin{scheme, hp->first, hp->second.value_or(default_port(scheme))};
}

Result<OriginPolicy> OriginPolicy::make(const Options& o) {
  OriginPolicy p;
  for (const auto& entry : o.allowed) {
    if (entry == "*") {
      p.allow_all_ = true;
      continue;
    }
    auto origin = parse_origin(entry);
    if (!origin) return fail(Errc::kInvalidArgument, "allowed_origins: {}", origin.error().message);
    p.fixed_.push_back(std::move(*origin));
  }
  if (!o.public_url.empty()) {
    auto own = origin_of_ws_url(o.public_url);
    if (!own) return fail(Errc::kInvalidArgument, "url: {}", own.error().message);
    p.own_names_.push_back(own->host);
    p.fixed_.push_back(std::move(*own));
  }
  for (const auto& peer : o.peers) {
    auto origin = origin_of_ws_url(peer);
    if (!origin) return fail(Errc::kInvalidArgument, "peers: {}", origin.error().message);
    p.fixed_.push_back(std::move(*origin));
  }
  p.own_names_.push_back("localhost");
  if (!o.hostname.empty()) p.own_names_.push_back(lower(o.hostname));
  return p;
}

bool OriginPolicy::allows(std::string_view origin_text, std::optional<std::string_view> host) const {
  if (allow_all_) return true;
  auto origin = parse_origin(origin_text);
  if (!origin) return false;
  if (std::find(fixed_.begin(), fixed_.end(), *origin) != fixed_.end()) return true;
  // Same origin as the Host the request was sent to, for names that cannot
  // be an attacker's (see the header: DNS rebinding).
  if (!host || (origin->scheme != "http" && origin->scheme != "https")) return false;
  auto auth = boost::urls::parse_authority(*host);
  if (!auth) return false;
  auto hp = host_port(*auth);
  if (!hp || hp->first != origin->host) return false;
  if (!is_ip_literal(hp->first) && std::find(own_names_.begin(), own_names_.end(), hp->first) == own_names_.end())
    return false;
  return hp->second.value_or(default_port(origin->scheme)) == origin->port;
}

bool OriginPolicy::cors_path(std::string_view path) {
  return path.starts_with("/xrpc/") || path.starts_with("/blobs/");
}

Response OriginPolicy::preflight(std::string_view origin, const Request& req) {
  Response r;
  r.status = 204;
  r.set("Access-Control-Allow-Origin", std::string(origin));
  r.set("Vary", "Origin");
  r.set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, DELETE, OPTIONS");
  // What the API reads, plus any other well-formed names the page asks for:
  // the origin is trusted already, and the server ignores headers it does not
  // know (ATProto clients send atproto-proxy, atproto-accept-labelers...).
  std::string headers = "Authorization, Content-Type, Range, If-None-Match, Cache-Control";
  if (auto asked = req.header("access-control-request-headers")) {
    std::string_view rest = *asked;
    int n = 0;
    while (!rest.empty() && n < 32) {
      auto comma = rest.find(',');
      auto item = rest.substr(0, comma);
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
      if (header_token(item)) {
        std::string l = lower(item);
        static constexpr std::string_view kListed[] = {"authorization", "content-type", "range", "if-none-match",
                                                       "cache-control"};
        if (std::find(std::begin(kListed), std::end(kListed), l) == std::end(kListed)) headers += ", " + l;
        ++n;
      }
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  r.set("Access-Control-Allow-Headers", headers);
  // Preflights are cached this long (Chromium caps it at 2 h); every actual
  // request is still checked, so a removed origin is refused at once.
  r.set("Access-Control-Max-Age", "7200");
  return r;
}

void OriginPolicy::decorate(Response& resp, std::optional<std::string_view> allowed_origin) {
  if (!resp.header("vary")) resp.set("Vary", "Origin");
  if (!allowed_origin) return;
  resp.set("Access-Control-Allow-Origin", std::string(*allowed_origin));
  resp.set("Access-Control-Expose-Headers",
           "Content-Length, Content-Range, Accept-Ranges, ETag, Retry-After, Content-Disposition, Location");
}

}  // namespace blobsync::http
