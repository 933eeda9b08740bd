#include "http/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <sstream>

#include "http/origin.h"
#include "store/mime_policy.h"
#include "store/s3/backend_url.h"

namespace blobsync::http {


const std::vector<ConfigKeyInfo>& config_keys() {
  static const std::vector<ConfigKeyInfo> keys = {
      {"data", "data directory (blobs, meta.db, jwt.secret)"},
      {"metadata", "metadata database: sqlite (DATA/meta.db, default), sqlite:PATH or postgresql://user@host:port/db"},
      {"store", "blob bytes: disk (DATA/blobs, default) or s3://BUCKET[/PREFIX]?endpoint=URL&region=R&path_style=1"},
      {"listen", "HOST:PORT to listen on; port 0 picks a free port"},
      {"tls_cert", "PEM certificate (chain allowed) for HTTPS and WSS on the listen port; reloaded on SIGHUP"},
      {"tls_key", "PEM private key of tls_cert"},
      {"threads", "I/O threads"},
      {"hostname", "public host name; the service DID is did:web:<hostname>"},
      {"user_domains", "handle suffixes advertised by describeServer (comma list)"},
      {"max_connections", "concurrent connections, HTTP and WebSocket together; more are answered 503 and closed"},
      {"max_header_bytes", "largest request head (431 above)"},
      {"max_upload_bytes", "largest blob upload (413 above)"},
      {"max_json_bytes", "largest JSON request body (413 above)"},
      {"header_timeout", "the whole request head must arrive within this"},
      {"idle_timeout", "keep-alive connections idle longer are closed"},
      {"body_timeout", "longest silence while a request or response body moves"},
      {"shutdown_timeout", "how long in-flight requests may run after SIGTERM"},
      {"open_signup", "allow com.atproto.server.createAccount (true/false)"},
      {"jwt_secret", "HS256 secret; empty: generated once into DATA/jwt.secret"},
      {"access_ttl", "access token lifetime"},
      {"refresh_ttl", "refresh token lifetime"},
      {"allowed_mime", "MIME allow-list for uploads (comma list)"},
      {"gc_grace", "unreferenced uploads younger than this are kept"},
      {"gc_interval", "background GC period; 0 disables it"},
      {"scrub_rate", "bytes per second the background scrubber re-hashes (e.g. 16MiB); 0 disables scrubbing"},
      {"scrub_interval", "a scrub pass over every blob starts at most this often"},
      {"url", "this server's public sync URL (its name in _blobRegistry); default ws://<listen>/sync (wss:// with tls_cert)"},
      {"sync_tokens", "pre-shared tokens for /sync/<room> (comma list; empty: open)"},
      {"sync_read_only_tokens", "tokens whose edits and uploads are refused (comma list)"},
      {"sync_require_token", "every /sync connection needs a token (default: true when sync_tokens, sync_read_only_tokens or room_token_secret is set)"},
      {"room_token_secret", "HS256 key of room tokens, the same on every server of a mesh; empty: generated once into DATA/room_token.secret"},
      {"tokens_not_before", "refuse room tokens issued before this time (2026-12-06T21:00:00Z or Unix seconds)"},
      {"room_idle_timeout", "an idle durable room parks at once and leaves memory this long after; rooms that cannot park unload this long after their last connection"},
      {"ws_idle_timeout", "a WebSocket peer silent for half of this is pinged, and its connection closed if nothing comes back in the other half"},
      {"sync_fsync", "make every room update durable before broadcasting it (true/false)"},
      {"peers", "other servers' sync URLs to mesh with, ws:// or wss:// (comma list)"},
      {"tls_ca_file", "PEM CA bundle that wss:// peers and holders must chain to; empty: the system's store"},
      {"tls_insecure", "true: do not verify wss:// peers' certificates (tests only; warned loudly)"},
      {"replication", "all (copy every blob in hosted rooms) or on-demand"},
      {"peer_token", "token this server presents to its peers (and accepts from them unless peer_tokens is set)"},
      {"peer_tokens", "tokens this server accepts from peers: _mesh, no chunk re-check; never a client token (comma list)"},
      {"mesh_allow", "URL prefixes of registry holders that are not peers but may be fetched from, with no token (comma list)"},
      {"replicate_on_fetch", "fetch a blob a client asks for from another holder first (true/false)"},
      {"mesh_max_fetches", "blobs replicated at once"},
      {"mesh_link_backoff_max", "cap of the jittered reconnect backoff of peer links"},
      {"mesh_prune_after", "remove a holder unreachable this long from registry entries (0: never)"},
      {"mesh_probe_interval", "how often unreachable holders are probed and pruned"},
      {"mesh_rescan_interval", "how often registries are re-scanned for blobs to replicate"},
      {"mesh_shutdown_flush", "on clean shutdown, how long to wait for peers to confirm the withdrawal"},
      {"sync_compact_updates", "fold a room's update log into a snapshot past this many updates"},
      // Document limits (issue 18, docs/security.md "Limits"). 0: no limit.
      {"sync_max_pending_structs", "out-of-order structs and deletes a room's document keeps waiting; an update past it is refused"},
      {"sync_max_pending_bytes", "encoded size of the structs a room's document keeps waiting (e.g. 16MiB)"},
      {"sync_max_doc_bytes", "a room's document size (e.g. 64MiB); updates that add content past it are refused"},
      {"sync_max_awareness_bytes", "one awareness client's state (e.g. 64KiB); a larger one is refused"},
      {"sync_max_rooms", "rooms in memory; past it parked rooms are forgotten, else a join of another room is closed (1013)"},
      {"sync_max_new_rooms_per_address", "rooms one client address brings into memory per minute; more are closed (1013)"},
      {"admin_token", "Bearer token for DELETE /blobs/<hash>, and for /metrics and /peers from other than loopback"},
      {"admin_loopback", "/metrics and /peers answer loopback clients without admin_token (true/false)"},
      {"blobs_public", "GET /blobs/<hash> serves held blobs to anyone (true) or only with a token (false)"},
      {"allowed_origins", "browser origins allowed besides this server's own and its peers' (comma list; * allows all)"},
      {"login_rate", "createSession attempts per account, e.g. 10/min (COUNT/s|min|h|d or COUNT/DURATION; off: unlimited)"},
      {"login_rate_address", "createSession attempts per client address (IPv6: per /64), e.g. 30/min; off: unlimited"},
      {"create_account_rate_address", "createAccount requests per client address (IPv6: per /64), e.g. 5/h; off: unlimited"},
      {"max_connections_per_ip", "concurrent connections per client address (IPv6: per /64); more are answered 503"},
      {"max_frame_bytes", "largest WebSocket message; a larger one closes the connection (1009)"},
      {"max_queued_bytes_per_connection", "WebSocket bytes queued per connection: a slower reader is disconnected, a faster sender paused"},
      {"min_transfer_rate", "bytes per second a request or response body must average over min_transfer_window (0: off)"},
      {"min_transfer_window", "the window min_transfer_rate is measured over"},
      {"max_uploads", "blob-channel uploads in progress on the whole server (more: BUSY)"},
      {"max_uploads_per_connection", "blob-channel uploads in progress per WebSocket connection (more: BUSY)"},
      {"upload_idle_timeout", "a blob-channel upload with no chunk for this long is ended with ERROR"},
      {"max_staging_bytes", "declared bytes of all staged blob-channel uploads (an UPLOAD beyond: BUSY)"},
      {"account_quota", "bytes of blobs and records an ATProto account may hold (e.g. 10GiB; 0: no quota); beyond: 413 QuotaExceeded"},
      {"room_token_quota", "bytes a room token may add (uploads, updates) unless its `quota` claim says (e.g. 1GiB; 0: no quota)"},
      {"image_cache_bytes", "bytes of derived images kept in DATA/image-cache (least recently used out first)"},
      {"image_max_pixels", "largest image (width x height x frames, read from its header) rendered; more: 400"},
      {"image_timeout", "longest one image may take to render (e.g. 10s, 500ms); longer: 400"},
      {"image_workers", "threads rendering images at once (each uses one core)"},
      {"access_log", "stderr, stdout, off or a file path"},
      {"log_level", "trace, debug, info, warn, error"},
  };
  return keys;
}

namespace {

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    auto comma = s.find(',', start);
    if (comma == std::string_view::npos) comma = s.size();
    auto item = trim(s.substr(start, comma - start));
    if (!item.empty()) out.push_back(std::move(item));
    start = comma + 1;
  }
  return out;
}

Result<std::uint64_t> parse_u64(std::string_view text) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || text.empty())
    return fail(Errc::kInvalidArgument, "'{}' is not a non-negative integer", text);
  return v;
}

Result<bool> parse_bool(std::string_view text) {
  std::string t(text);
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  if (t == "true" || t == "1" || t == "yes" || t == "on") return true;
  if (t == "false" || t == "0" || t == "no" || t == "off") return false;
  return fail(Errc::kInvalidArgument, "'{}' is not a boolean (true/false)", text);
}

// `peers`, `mesh_allow` and `url` name WebSocket endpoints; an https:// URL
// is the same server's HTTP side, so the hint says which scheme to use.
Result<> check_sync_url(std::string_view key, const std::string& value, std::string_view what) {
  std::string lower(value.substr(0, 6));
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return std::tolower(ch); });
  if (lower.starts_with("ws://") || lower.starts_with("wss://")) return {};
  return fail(Errc::kInvalidArgument, "config '{}': '{}' must be a ws:// or wss:// {}{}", key, value, what,
              lower.starts_with("http") ? " (the sync URL, not the HTTP one)" : "");
}

// Keys that only make sense together (docs/security.md, "Peer and client tokens").
Result<> check_credentials(const ServerConfig& c) {
  // A peer token opens `_mesh` and turns off chunk re-checks: a client
  // holding one could pose as a server.
  const std::vector<std::string> presented{c.peer_token};
  const auto& accepted = !c.peer_tokens.empty() ? c.peer_tokens : c.peer_token.empty() ? c.peer_tokens : presented;
  for (const auto& p : accepted)
    for (const auto* list : {&c.sync_tokens, &c.sync_read_only_tokens})
      if (std::find(list->begin(), list->end(), p) != list->end())
        return fail(Errc::kInvalidArgument,
                    "config: a token accepted from peers ({}) is also a client token ({}): give peers their own",
                    c.peer_tokens.empty() ? "peer_token" : "peer_tokens",
                    list == &c.sync_tokens ? "sync_tokens" : "sync_read_only_tokens");
  bool any = !c.sync_tokens.empty() || !c.sync_read_only_tokens.empty() || !c.room_token_secret.empty();
  if (c.sync_require_token == false && any)
    return fail(Errc::kInvalidArgument,
                "config 'sync_require_token' is false, but sync_tokens, sync_read_only_tokens or room_token_secret "
                "is set: they would be ignored");
  // An app backend holding room_token_secret must not be able to mint XRPC sessions.
  if (!c.room_token_secret.empty() && c.room_token_secret == c.jwt_secret)
    return fail(Errc::kInvalidArgument, "config 'room_token_secret' must differ from 'jwt_secret'");
  if (c.tls_insecure && !c.tls_ca_file.empty())
    return fail(Errc::kInvalidArgument, "config 'tls_insecure' verifies nothing, so 'tls_ca_file' would be ignored: set one");
  return {};
}

}  // namespace

Result<std::chrono::seconds> parse_duration(std::string_view text) {
  std::string t = trim(text);
  if (t.empty()) return fail(Errc::kInvalidArgument, "empty duration");
  std::uint64_t mult = 1;
  switch (t.back()) {
    case 's': mult = 1; t.pop_back(); break;
    case 'm': mult = 60; t.pop_back(); break;
    case 'h': mult = 3600; t.pop_back(); break;
    case 'd': mult = 86400; t.pop_back(); break;
    default: break;
  }
  auto v = parse_u64(t);
  if (!v || *v > (1ull << 40)) return fail(Errc::kInvalidArgument, "'{}' is not a duration (e.g. 30s, 10m, 6h)", text);
  return std::chrono::seconds(static_cast<std::int64_t>(*v * mult));
}

Result<std::chrono::milliseconds> parse_duration_ms(std::string_view text) {
  std::string t = trim(text);
  if (t.size() > 2 && t.ends_with("ms")) {
    auto v = parse_u64(t.substr(0, t.size() - 2));
    if (!v || *v > (1ull << 50)) return fail(Errc::kInvalidArgument, "'{}' is not a duration (e.g. 250ms, 30s)", text);
    return std::chrono::milliseconds(static_cast<std::int64_t>(*v));
  }
  auto d = parse_duration(text);
  if (!d) return std::unexpected(d.error());
  return std::chrono::duration_cast<std::chrono::milliseconds>(*d);
}

Result<std::int64_t> parse_time(std::string_view text) {
  std::string t = trim(text);
  if (!t.empty() && std::all_of(t.begin(), t.end(), [](unsigned char ch) { return std::isdigit(ch); })) {
    auto v = parse_u64(t);
    if (!v || *v > (1ull << 40)) return fail(Errc::kInvalidArgument, "'{}' is not a time", text);
    return static_cast<std::int64_t>(*v);
  }
  // YYYY-MM-DDTHH:MM:SS[.fff]Z
  unsigned y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  auto num = [&](std::size_t at, std::size_t len, unsigned& out) {
    if (at + len > t.size()) return false;
    auto [p, ec] = std::from_chars(t.data() + at, t.data() + at + len, out);
    return ec == std::errc() && p == t.data() + at + len;
  };
  auto at = [&](std::size_t i, char c) { return i < t.size() && (t[i] == c || (c == 'T' && t[i] == 't')); };
  std::size_t end = 19;
  if (at(end, '.'))
    for (++end; end < t.size() && std::isdigit(static_cast<unsigned char>(t[end])); ++end) {}
  bool ok = num(0, 4, y) && at(4, '-') && num(5, 2, mo) && at(7, '-') && num(8, 2, d) && at(10, 'T') &&
            num(11, 2, h) && at(13, ':') && num(14, 2, mi) && at(16, ':') && num(17, 2, s) &&
            end + 1 == t.size() && (t[end] == 'Z' || t[end] == 'z');
  using namespace std::chrono;
  year_month_day ymd{year(static_cast<int>(y)), month(mo), day(d)};
  if (!ok || !ymd.ok() || h > 23 || mi > 59 || s > 60)
    return fail(Errc::kInvalidArgument, "'{}' is not a time (e.g. 2026-12-06T21:00:00Z, UTC, or Unix seconds)", text);
  return sys_days(ymd).time_since_epoch().count() * 86400LL + h * 3600LL + mi * 60LL + s;
}

Result<std::uint64_t> parse_size(std::string_view text) {
  std::string t = trim(text);
  std::uint64_t mult = 1;
  auto ends = [&](std::string_view suf) {
    if (t.size() > suf.size() && t.ends_with(suf)) {
      t.resize(t.size() - suf.size());
      return true;
    }
    return false;
  };
  if (ends("KiB") || ends("k") || ends("K")) mult = 1024;
  else if (ends("MiB") || ends("M")) mult = 1024 * 1024;
  else if (ends("GiB") || ends("G")) mult = 1024ull * 1024 * 1024;
  auto v = parse_u64(t);
  if (!v || *v > (1ull << 50)) return fail(Errc::kInvalidArgument, "'{}' is not a size (e.g. 104857600, 100MiB)", text);
  return *v * mult;
}

Result<ServerConfig::Rate> parse_rate(std::string_view text) {
  std::string t = trim(text);
  if (t == "off" || t == "0") return ServerConfig::Rate{0, std::chrono::seconds(60)};
  auto bad = [&] {
    return fail(Errc::kInvalidArgument, "'{}' is not a rate (COUNT/PERIOD, e.g. 10/min, 5/30s; off: unlimited)", text);
  };
  auto slash = t.find('/');
  if (slash == std::string::npos) return bad();
  auto count = parse_u64(trim(std::string_view(t).substr(0, slash)));
  if (!count || *count == 0 || *count > 1'000'000) return bad();
  std::string per = trim(std::string_view(t).substr(slash + 1));
  std::chrono::seconds period;
  if (per == "s" || per == "sec" || per == "second") period = std::chrono::seconds(1);
  else if (per == "m" || per == "min" || per == "minute") period = std::chrono::seconds(60);
  else if (per == "h" || per == "hour") period = std::chrono::seconds(3600);
  else if (per == "d" || per == "day") period = std::chrono::seconds(86400);
  else {
    auto d = parse_duration(per);
    if (!d || d->count() == 0) return bad();
    period = *d;
  }
  return ServerConfig::Rate{static_cast<std::uint32_t>(*count), period};
}

Result<std::pair<std::string, std::uint16_t>> parse_listen(std::string_view text) {
  std::string host;
  std::string_view port;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return fail(Errc::kInvalidArgument, "listen address '{}' is not [IPv6]:PORT", text);
    host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0)
      return fail(Errc::kInvalidArgument, "listen address '{}' is not HOST:PORT", text);
    host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
  }
  auto p = parse_u64(port);
  if (!p || *p > 65535) return fail(Errc::kInvalidArgument, "listen address '{}' has a bad port", text);
  return std::pair{host, static_cast<std::uint16_t>(*p)};
}

Result<ServerConfig> build_config(const std::vector<ConfigValues>& layers) {
  ConfigValues merged;
  for (const auto& layer : layers)
    for (const auto& [k, v] : layer) merged[k] = v;

  ServerConfig c;
  c.allowed_mime = default_allowed_mime();
  for (const auto& [key, value] : merged) {
    auto bad = [&](const Error& e) { return fail(Errc::kInvalidArgument, "config '{}': {}", key, e.message); };
    auto dur = [&](std::chrono::seconds& out) -> Result<> {
      auto d = parse_duration(value);
      if (!d) return bad(d.error());
      out = *d;
      return {};
    };
    auto size = [&](auto& out) -> Result<> {
      auto s = parse_size(value);
      if (!s) return bad(s.error());
      out = static_cast<std::remove_reference_t<decltype(out)>>(*s);
      return {};
    };
    Result<> r;
    if (key == "data") {
      if (value.empty()) return fail(Errc::kInvalidArgument, "config 'data' is empty");
      c.data_dir = value;
    } else if (key == "metadata") {
      if (!(value.empty() || value == "sqlite" || value.starts_with("sqlite:") || value.starts_with("postgresql://") ||
            value.starts_with("postgres://")))
        return fail(Errc::kInvalidArgument,
                    "config 'metadata': expected sqlite, sqlite:PATH or postgresql://user@host:port/db");
      c.metadata = value;
    } else if (key == "store") {
      if (!known_store_url(value))
        return fail(Errc::kInvalidArgument, "config 'store': expected disk or s3://BUCKET?endpoint=...");
      c.store = value;
    } else if (key == "listen") {
      auto l = parse_listen(value);
      if (!l) return bad(l.error());
      c.listen_host = l->first;
      c.listen_port = l->second;
    } else if (key == "tls_cert") {
      c.tls_cert = value;
    } else if (key == "tls_key") {
      c.tls_key = value;
    } else if (key == "threads") {
      auto n = parse_u64(value);
      if (!n || *n == 0 || *n > 256) return fail(Errc::kInvalidArgument, "config 'threads': '{}' is not 1..256", value);
      c.threads = static_cast<unsigned>(*n);
    } else if (key == "hostname") {
      if (value.empty()) return fail(Errc::kInvalidArgument, "config 'hostname' is empty");
      c.hostname = value;
    } else if (key == "user_domains") {
      c.user_domains = split_list(value);
    } else if (key == "max_connections") {
      r = size(c.max_connections);
      if (r && c.max_connections == 0) return fail(Errc::kInvalidArgument, "config 'max_connections' must be > 0");
    } else if (key == "max_header_bytes") {
      r = size(c.max_header_bytes);
      if (r && c.max_header_bytes < 1024) return fail(Errc::kInvalidArgument, "config 'max_header_bytes' must be >= 1024");
    } else if (key == "max_upload_bytes") {
      r = size(c.max_upload_bytes);
    } else if (key == "max_json_bytes") {
      r = size(c.max_json_bytes);
    } else if (key == "header_timeout") {
      r = dur(c.header_timeout);
    } else if (key == "idle_timeout") {
      r = dur(c.idle_timeout);
    } else if (key == "body_timeout") {
      r = dur(c.body_timeout);
    } else if (key == "shutdown_timeout") {
      r = dur(c.shutdown_timeout);
    } else if (key == "open_signup") {
      auto b = parse_bool(value);
      if (!b) return bad(b.error());
      c.open_signup = *b;
    } else if (key == "jwt_secret") {
      if (!value.empty() && value.size() < 16)
        return fail(Errc::kInvalidArgument, "config 'jwt_secret' must be at least 16 characters");
      c.jwt_secret = value;
    } else if (key == "access_ttl") {
      r = dur(c.access_ttl);
    } else if (key == "refresh_ttl") {
      r = dur(c.refresh_ttl);
    } else if (key == "allowed_mime") {
      c.allowed_mime = split_list(value);
      for (auto& m : c.allowed_mime) {
        std::transform(m.begin(), m.end(), m.begin(), [](unsigned char ch) { return std::tolower(ch); });
        if (m.find('/') == std::string::npos)
          return fail(Errc::kInvalidArgument, "config 'allowed_mime': '{}' is not a MIME type", m);
      }
    } else if (key == "gc_grace") {
      r = dur(c.gc_grace);
    } else if (key == "gc_interval") {
      r = dur(c.gc_interval);
    } else if (key == "scrub_rate") {
      r = size(c.scrub_rate);
    } else if (key == "scrub_interval") {
      auto d = parse_duration_ms(value);
      if (!d) return bad(d.error());
      c.scrub_interval = *d;
    } else if (key == "url") {
      if (!value.empty()) r = check_sync_url(key, value, "URL");
      c.url = value;
    } else if (key == "sync_tokens") {
      c.sync_tokens = split_list(value);
    } else if (key == "sync_read_only_tokens") {
      c.sync_read_only_tokens = split_list(value);
    } else if (key == "sync_require_token") {
      auto b = parse_bool(value);
      if (!b) return bad(b.error());
      c.sync_require_token = *b;
    } else if (key == "room_token_secret") {
      // An app's backend holds this key; 32 characters at least (HS256 wants 256 bits).
      if (!value.empty() && value.size() < 32)
        return fail(Errc::kInvalidArgument, "config 'room_token_secret' must be at least 32 characters");
      c.room_token_secret = value;
    } else if (key == "tokens_not_before") {
      if (value.empty()) {
        c.tokens_not_before = 0;
      } else {
        auto t = parse_time(value);
        if (!t) return bad(t.error());
        c.tokens_not_before = *t;
      }
    } else if (key == "room_idle_timeout") {
      auto d = parse_duration_ms(value);
      if (!d) return bad(d.error());
      c.room_idle_timeout = *d;
    } else if (key == "ws_idle_timeout") {
      auto d = parse_duration_ms(value);
      if (!d) return bad(d.error());
      // Beast pings after half of it; below 2 s a slow link would be cut for a late pong.
      if (d->count() < 2000) return fail(Errc::kInvalidArgument, "config 'ws_idle_timeout': '{}' is below 2s", value);
      c.ws_idle_timeout = *d;
    } else if (key == "sync_fsync") {
      auto b = parse_bool(value);
      if (!b) return bad(b.error());
      c.sync_fsync = *b;
    } else if (key == "peers") {
      c.peers = split_list(value);
      for (const auto& peer : c.peers)
        if (r = check_sync_url(key, peer, "sync URL"); !r) break;
    } else if (key == "tls_ca_file") {
      c.tls_ca_file = value;  // read (and checked) when the mesh starts
    } else if (key == "tls_insecure") {
      auto b = parse_bool(value);
      if (!b) return bad(b.error());
      c.tls_insecure = *b;
    } else if (key == "replication") {
      if (value != "all" && value != "on-demand")
        return fail(Errc::kInvalidArgument, "config 'replication': '{}' is not all or on-demand", value);
      c.replication = value;
    } else if (key == "peer_token") {
      c.peer_token = value;
    } else if (key == "peer_tokens") {
      c.peer_tokens = split_list(value);
    } else if (key == "mesh_allow") {
      // Checked fully (canonical form) when the mesh starts.
      c.mesh_allow = split_list(value);
      for (const auto& prefix : c.mesh_allow)
        if (r = check_sync_url(key, prefix, "URL prefix"); !r) break;
    } else if (key == "replicate_on_fetch") {
      auto b = parse_bool(value);
      if (!b) return bad(b.error());
      c.replicate_on_fetch = *b;
    } else if (key == "mesh_max_fetches") {
      auto n = parse_u64(value);
      if (!n || *n == 0 || *n > 256)
        return fail(Errc::kInvalidArgument, "config 'mesh_max_fetches': '{}' is not 1..256", value);
      c.mesh_max_fetches = static_cast<unsigned>(*n);
    } else if (key == "mesh_link_backoff_max" || key == "mesh_prune_after" || key == "mesh_probe_interval" ||
               key == "mesh_rescan_interval" || key == "mesh_shutdown_flush") {
      std::chrono::milliseconds ms;
      auto d = parse_duration_ms(value);
      if (!d) return bad(d.error());
      ms = *d;
      if (key == "mesh_link_backoff_max") c.mesh_link_backoff_max = ms;
      else if (key == "mesh_prune_after") c.mesh_prune_after = ms;
      else if (key == "mesh_probe_interval") c.mesh_probe_interval = ms;
      else if (key == "mesh_rescan_interval") c.mesh_rescan_interval = ms;
      else c.mesh_shutdown_flush = ms;
    } else if (key == "sync_compact_updates") {
      auto n = parse_u64(value);
      if (!n || *n == 0) return fail(Errc::kInvalidArgument, "config 'sync_compact_updates': '{}' is not > 0", value);
      c.sync_compact_updates = *n;
    } else if (key == "sync_max_pending_structs") {
      // Document limits (issue 18): this block, sync_config.h.
      auto n = parse_u64(value);
      if (!n) return bad(n.error());
      c.sync_max_pending_structs = *n;
    } else if (key == "sync_max_pending_bytes") {
      r = size(c.sync_max_pending_bytes);
    } else if (key == "sync_max_doc_bytes") {
      r = size(c.sync_max_doc_bytes);
    } else if (key == "sync_max_awareness_bytes") {
      r = size(c.sync_max_awareness_bytes);
    } else if (key == "sync_max_rooms" || key == "sync_max_new_rooms_per_address") {
      auto n = parse_u64(value);
      if (!n || *n > 0xffffffffu) return fail(Errc::kInvalidArgument, "config '{}': '{}' is not a count", key, value);
      (key == "sync_max_rooms" ? c.sync_max_rooms : c.sync_max_new_rooms_per_address) = *n;
    } else if (key == "admin_token") {
      if (!value.empty() && value.size() < 16)
        return fail(Errc::kInvalidArgument, "config 'admin_token' must be at least 16 characters");
      c.admin_token = value;
    } else if (key == "blobs_public") {
      auto b = parse_bool(value);
      if (!b) return bad(b.error());
      c.blobs_public = *b;
    } else if (key == "allowed_origins") {
      // Browsers and login (this block: origin.h, rate_limiter.h).
      c.allowed_origins = split_list(value);
      for (const auto& o : c.allowed_origins) {
        if (o == "*") continue;
        if (o == "null")
          return fail(Errc::kInvalidArgument,
                      "config 'allowed_origins': 'null' would admit every sandboxed frame and file: page; use * "
                      "to allow all origins");
        if (auto parsed = parse_origin(o); !parsed) return bad(parsed.error());
      }
    } else if (key == "login_rate" || key == "login_rate_address" || key == "create_account_rate_address") {
      auto rate = parse_rate(value);
      if (!rate) return bad(rate.error());
      (key == "login_rate" ? c.login_rate : key == "login_rate_address" ? c.login_rate_address
                                                                        : c.create_account_rate_address) = *rate;
    } else if (key == "admin_loopback") {
      auto b = parse_bool(value);
      if (!b) return bad(b.error());
      c.admin_loopback = *b;
    } else if (key == "max_connections_per_ip" || key == "max_uploads" || key == "max_uploads_per_connection") {
      // Resource limits (this block: docs/security.md, "Limits").
      auto n = parse_u64(value);
      if (!n || *n == 0) return fail(Errc::kInvalidArgument, "config '{}': '{}' is not a number > 0", key, value);
      (key == "max_uploads" ? c.max_uploads
                            : key == "max_uploads_per_connection" ? c.max_uploads_per_connection
                                                                  : c.max_connections_per_ip) = *n;
    } else if (key == "max_frame_bytes" || key == "max_queued_bytes_per_connection" || key == "max_staging_bytes") {
      auto& out = key == "max_frame_bytes" ? c.max_frame_bytes
                  : key == "max_staging_bytes" ? c.max_staging_bytes : c.max_queued_bytes_per_connection;
      r = size(out);
      if (r && out < 1024) return fail(Errc::kInvalidArgument, "config '{}' must be at least 1KiB", key);
    } else if (key == "min_transfer_rate") {
      r = size(c.min_transfer_rate);
    } else if (key == "account_quota" || key == "room_token_quota") {
      r = size(key == "account_quota" ? c.account_quota : c.room_token_quota);
    } else if (key == "min_transfer_window" || key == "upload_idle_timeout") {
      r = dur(key == "upload_idle_timeout" ? c.upload_idle_timeout : c.min_transfer_window);
      if (r && (c.upload_idle_timeout.count() == 0 || c.min_transfer_window.count() == 0))
        return fail(Errc::kInvalidArgument, "config '{}' must be > 0", key);
    } else if (key.starts_with("image_")) {
      r = apply_image_key(c, key, value);
    } else if (key == "access_log") {
      c.access_log = value.empty() ? "off" : value;
    } else if (key == "log_level") {
      static const char* levels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
      if (std::none_of(std::begin(levels), std::end(levels), [&](const char* l) { return value == l; }))
        return fail(Errc::kInvalidArgument, "config 'log_level': '{}' is not trace/debug/info/warn/error", value);
      c.log_level = value;
    } else {
      return fail(Errc::kInvalidArgument, "unknown config key '{}'", key);
    }
    if (!r) return std::unexpected(r.error());
  }
  if (auto r = check_credentials(c); !r) return std::unexpected(r.error());
  return c;
}

bool sync_token_required(const ServerConfig& c) {
  return c.sync_require_token.value_or(!c.sync_tokens.empty() || !c.sync_read_only_tokens.empty() ||
                                       !c.room_token_secret.empty());
}

}  // namespace blobsync::http
