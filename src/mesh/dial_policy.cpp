#include "mesh/dial_policy.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

namespace blobsync::mesh {

namespace {

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool path_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("-._~!$&'()*+,;=:@").find(c) != std::string_view::npos;
}

Result<std::uint16_t> parse_port(std::string_view text, std::uint16_t default_port) {
  if (text.empty()) return default_port;  // "ws://h:/x" is the default port (RFC 3986)
  if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return fail(Errc::kInvalidArgument, "port '{}' is not a number", text);
  while (text.size() > 1 && text.front() == '0') text.remove_prefix(1);
  unsigned v = 0;
  if (text.size() > 5) return fail(Errc::kInvalidArgument, "port out of range");
  for (char c : text) v = v * 10 + static_cast<unsigned>(c - '0');
  if (v == 0 || v > 65535) return fail(Errc::kInvalidArgument, "port {} out of range", v);
  return static_cast<std::uint16_t>(v);
}

// What a refused holder looks like in the log: bounded, printable.
std::string loggable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 200)) out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
  if (s.size() > 200) out += "...";
  return out;
}

}  // namespace

std::string CanonicalUrl::str() const {
  std::string out = tls ? "wss://" : "ws://";
  out += host.find(':') != std::string::npos ? "[" + host + "]" : host;
  out += ":" + std::to_string(port);
  for (const auto& seg : path) out += "/" + seg;
  return out;
}

Result<CanonicalUrl> canonical_ws_url(std::string_view text) {
  if (text.size() > 2048) return fail(Errc::kInvalidArgument, "URL longer than 2048 characters");
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '\\' || c == '%')
      return fail(Errc::kInvalidArgument, "URL has a space, control, backslash, '%' or non-ASCII character");
  }
  auto sep = text.find("://");
  if (sep == std::string_view::npos) return fail(Errc::kInvalidArgument, "not a ws:// or wss:// URL");
  std::string scheme;
  for (char c : text.substr(0, sep)) scheme += lower(c);
  if (scheme != "ws" && scheme != "wss") return fail(Errc::kInvalidArgument, "not a ws:// or wss:// URL");
  auto rest = text.substr(sep + 3);
  if (rest.find_first_of("?#") != std::string_view::npos)
    return fail(Errc::kInvalidArgument, "URL has a query or fragment");
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  auto path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) return fail(Errc::kInvalidArgument, "URL has userinfo");

  CanonicalUrl out;
  out.tls = scheme == "wss";
  std::string_view host, port;
  if (authority.starts_with('[')) {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return fail(Errc::kInvalidArgument, "unterminated IPv6 host");
    host = authority.substr(1, close - 1);
    auto after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') return fail(Errc::kInvalidArgument, "junk after the IPv6 host");
    if (!after.empty()) port = after.substr(1);
    bool ok = host.find(':') != std::string_view::npos &&
              std::all_of(host.begin(), host.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.'; });
    if (!ok) return fail(Errc::kInvalidArgument, "bad IPv6 host");
  } else {
    auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    bool ok = std::all_of(host.begin(), host.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.'; });
    if (!ok) return fail(Errc::kInvalidArgument, "bad host");
  }
  if (host.empty()) return fail(Errc::kInvalidArgument, "URL has no host");
  for (char c : host) out.host += lower(c);
  auto p = parse_port(port, out.tls ? 443 : 80);
  if (!p) return std::unexpected(p.error());
  out.port = *p;

  if (!path.empty()) {
    path.remove_prefix(1);  // the leading '/'
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);  // trailing slashes say nothing
    while (!path.empty()) {
      auto next = path.find('/');
      auto seg = path.substr(0, next);
      if (seg.empty()) return fail(Errc::kInvalidArgument, "empty path segment");
      if (seg == "." || seg == "..") return fail(Errc::kInvalidArgument, "dot segment in the path");
      if (!std::all_of(seg.begin(), seg.end(), path_char)) return fail(Errc::kInvalidArgument, "bad path character");
      out.path.emplace_back(seg);
      path = next == std::string_view::npos ? std::string_view() : path.substr(next + 1);
    }
  }
  return out;
}

bool within(const CanonicalUrl& prefix, const CanonicalUrl& url) {
  return prefix.tls == url.tls && prefix.host == url.host && prefix.port == url.port && prefix.path.size() <= url.path.size() &&
         std::equal(prefix.path.begin(), prefix.path.end(), url.path.begin());
}

Result<std::shared_ptr<DialPolicy>> DialPolicy::create(const std::string& self, const std::vector<std::string>& peers,
                                                       const std::vector<std::string>& allow, std::string peer_token) {
  std::shared_ptr<DialPolicy> p(new DialPolicy());
  p->self_ = self;
  if (auto c = canonical_ws_url(self)) p->self_canonical_ = *c;  // else only the exact string is self
  for (const auto& peer : peers) {
    auto c = canonical_ws_url(peer);
    if (!c) return fail(Errc::kInvalidArgument, "peer {}: {}", peer, c.error().message);
    // Every server of a mesh may share one list: its own URL is skipped.
    if (peer == self || (p->self_canonical_ && *c == *p->self_canonical_)) continue;
    if (std::find(p->peer_canonical_.begin(), p->peer_canonical_.end(), *c) != p->peer_canonical_.end()) continue;
    p->peers_.push_back(peer);
    p->peer_canonical_.push_back(std::move(*c));
  }
  for (const auto& prefix : allow) {
    auto c = canonical_ws_url(prefix);
    if (!c) return fail(Errc::kInvalidArgument, "mesh_allow {}: {}", prefix, c.error().message);
    p->allow_.push_back(std::move(*c));
  }
  p->peer_token_ = std::move(peer_token);
  return p;
}

DialPolicy::Target DialPolicy::classify(std::string_view holder) const {
  Target t;
  if (holder == self_) {
    t.kind = Kind::kSelf;
    return t;
  }
  auto c = canonical_ws_url(holder);
  if (!c) return t;
  if (self_canonical_ && *c == *self_canonical_) {
    t.kind = Kind::kSelf;
    return t;
  }
  for (std::size_t i = 0; i < peers_.size(); ++i) {
    if (peer_canonical_[i] == *c) {
      t.kind = Kind::kPeer;
      t.url = peers_[i];  // as configured: one name per peer in links, health and reports
      t.token = peer_token_;
      return t;
    }
  }
  for (const auto& prefix : allow_) {
    if (within(prefix, *c)) {
      t.kind = Kind::kAllowed;
      t.url = c->str();  // dial exactly what was checked
      return t;
    }
  }
  return t;
}

std::vector<std::string> DialPolicy::admit(const std::vector<std::string>& holders) const {
  std::vector<std::string> out;
  for (const auto& h : holders) {
    auto t = classify(h);
    if (t.kind == Kind::kRefused) note_refused(h);
    if (t.kind != Kind::kPeer && t.kind != Kind::kAllowed) continue;
    if (std::find(out.begin(), out.end(), t.url) == out.end()) out.push_back(std::move(t.url));
  }
  return out;
}

void DialPolicy::note_refused(const std::string& holder) const {
  std::lock_guard lock(mu_);
  if (refused_.size() >= kMaxLogged) return;
  // Keyed by a bounded prefix: registry values are client-written and may be huge.
  if (!refused_.insert(holder.substr(0, 256)).second) return;
  spdlog::info("mesh: not dialing holder {}: not a peer and not under mesh_allow", loggable(holder));
  if (refused_.size() == kMaxLogged)
    spdlog::warn("mesh: {} holders refused; further ones are ignored without a log line", kMaxLogged);
}

std::size_t DialPolicy::refused() const {
  std::lock_guard lock(mu_);
  return refused_.size();
}

}  // namespace blobsync::mesh
