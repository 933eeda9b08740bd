// ServerConfig: every setting of `blobsync serve`, and how it is loaded.
//
// Sources, highest precedence first: command-line flags, BLOBSYNC_* environment
// variables, the TOML file given with --config, built-in defaults. Each key
// has one spelling per source: TOML `max_upload_bytes`, environment
// BLOBSYNC_MAX_UPLOAD_BYTES, flag --max-upload-bytes. The defaults need no
// config at all. docs/http.md lists the keys.
//
// Thread safety: a loaded ServerConfig is an immutable value.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include "core/error.h"

namespace blobsync::http {

struct ServerConfig {
  std::filesystem::path data_dir = "data";
  // Metadata database: "" (SQLite DATA/meta.db), "sqlite:PATH" or
  // "postgresql://user@host:port/db" shared by several servers.
  std::string metadata;
  // Blob bytes: "" or "disk" (DATA/blobs), or an s3:// URL (docs/s3.md).
  std::string store;
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 3913;
  // TLS on the one port (HTTPS and WSS): PEM certificate (chain: leaf
  // first) and PEM private key; both empty: plain HTTP. Reloaded on SIGHUP.
  std::filesystem::path tls_cert, tls_key;
  unsigned threads = 2;
  // The server's own name; the service DID is did:web:<hostname>.
  std::string hostname = "localhost";
  // Handle suffixes advertised by describeServer (not enforced).
  std::vector<std::string> user_domains = {".test"};

  // Limits.
  std::size_t max_connections = 1024;
  std::size_t max_header_bytes = 16 * 1024;
  std::uint64_t max_upload_bytes = 100ull * 1024 * 1024;
  std::uint64_t max_json_bytes = 1024 * 1024;
  std::chrono::seconds header_timeout{10};  // whole request head must arrive within
  std::chrono::seconds idle_timeout{60};    // keep-alive connection with no request
  std::chrono::seconds body_timeout{30};    // max silence while a body or response is moving
  std::chrono::seconds shutdown_timeout{30};  // in-flight requests get this long on SIGTERM

  // Accounts.
  bool open_signup = true;
  std::string jwt_secret;  // empty: generated once and kept in DATA/jwt.secret
  std::chrono::seconds access_ttl{2 * 3600};
  std::chrono::seconds refresh_ttl{90 * 24 * 3600};

  // Blobs.
  std::vector<std::string> allowed_mime;  // filled with the defaults by load
  std::chrono::seconds gc_grace{6 * 3600};
  std::chrono::seconds gc_interval{15 * 60};  // 0 disables the background sweeper
  // Background scrub (store/scrubber.h): bytes/s re-hashed (0: off), and how
  // often a pass over the store may start.
  std::uint64_t scrub_rate = 16ull * 1024 * 1024;
  std::chrono::milliseconds scrub_interval{24 * 3600 * 1000LL};

  // WebSocket rooms (/sync/<room>, src/sync). url: this server's identity in
  // every room's _blobRegistry; empty: ws://<listen address>/sync.
  std::string url;
  std::vector<std::string> sync_tokens;            // empty (with the next): no auth
  std::vector<std::string> sync_read_only_tokens;
  // Every /sync connection needs a token; unset: when sync_tokens,
  // sync_read_only_tokens or room_token_secret is set.
  std::optional<bool> sync_require_token;
  // Room tokens (sync/room_token.h): HS256 key, the same on every server of
  // a mesh; empty: generated once into DATA/room_token.secret.
  std::string room_token_secret;
  std::int64_t tokens_not_before = 0;  // Unix seconds; room tokens issued earlier are refused
  std::chrono::milliseconds room_idle_timeout{60'000};  // accepts 300ms (tests) as well as 60s
  std::chrono::milliseconds ws_idle_timeout{60'000};    // WebSocket keep-alive: ping after half, close after all
  bool sync_fsync = true;
  // Server mesh (src/mesh): other servers' sync URLs, and what to copy.
  std::vector<std::string> peers;
  // Outbound TLS (wss:// peers and holders, client/tls_context.h): a CA
  // bundle instead of the system store; tls_insecure verifies nothing
  // (tests only: warned at start and on every connection).
  std::string tls_ca_file;
  bool tls_insecure = false;
  std::string replication = "all";  // "all" or "on-demand"
  std::string peer_token;           // presented to peers; accepted from them unless peer_tokens is set
  std::vector<std::string> peer_tokens;  // accepted from peers (never a client token)
  std::vector<std::string> mesh_allow;  // holder URL prefixes that may be dialed (no token)
  bool replicate_on_fetch = true;
  unsigned mesh_max_fetches = 8;
  std::chrono::milliseconds mesh_link_backoff_max{30'000};
  std::chrono::milliseconds mesh_prune_after{24 * 3600 * 1000LL};  // 0: never prune
  std::chrono::milliseconds mesh_probe_interval{10 * 60 * 1000};
  std::chrono::milliseconds mesh_rescan_interval{10'000};
  std::chrono::milliseconds mesh_shutdown_flush{5'000};
  std::uint64_t sync_compact_updates = 1000;
  // Document limits (issue 18, docs/security.md "Limits"); 0: no limit.
  std::uint64_t sync_max_pending_structs = 10'000;
  std::uint64_t sync_max_pending_bytes = 16ull << 20;
  std::uint64_t sync_max_doc_bytes = 64ull << 20;
  std::uint64_t sync_max_awareness_bytes = 64ull << 10;
  // Room limits (issue 18; sync/room_manager.h); 0: no limit.
  std::uint64_t sync_max_rooms = 10'000;
  std::uint64_t sync_max_new_rooms_per_address = 60;  // per minute
  // Bearer token for admin calls (DELETE /blobs/<hash>) and, from other
  // than loopback, /metrics and /peers; empty: those are loopback-only
  // (DELETE: disabled).
  std::string admin_token;
  // GET/HEAD /blobs/<hash> of a held (public) blob needs no credential;
  // false: an ATProto access token, a sync token or the admin token.
  bool blobs_public = true;

  // Browsers and login (docs/security.md, "Browsers" and "Login"). Origins
  // allowed besides this server's own and its peers' ("*": every origin);
  // login attempts allowed per account and per client address: `count` per
  // `per`, as a token bucket (a burst of `count`, then one per per/count).
  std::vector<std::string> allowed_origins;
  struct Rate {
    std::uint32_t count = 0;  // 0: unlimited
    std::chrono::seconds per{60};
    bool operator==(const Rate&) const = default;
  };
  Rate login_rate{10, std::chrono::seconds(60)};
  Rate login_rate_address{30, std::chrono::seconds(60)};
  // createAccount per client address: each costs an argon2id hash and a row.
  Rate create_account_rate_address{5, std::chrono::seconds(3600)};

  // /metrics and /peers answer loopback clients without the admin token
  // (false: behind a reverse proxy on the same host, where every client
  // looks like loopback).
  bool admin_loopback = true;

  // Resource limits on connections, frames, queues, transfer rates and
  // blob-channel uploads (docs/security.md, "Limits"). max_connections
  // above counts HTTP and WebSocket connections together.
  std::size_t max_connections_per_ip = 256;                  // per client address (IPv6: per /64)
  std::uint64_t max_frame_bytes = (8u << 20) + (64u << 10);  // largest WebSocket message
  std::uint64_t max_queued_bytes_per_connection = 16u << 20; // WebSocket bytes queued each way
  std::uint64_t min_transfer_rate = 1024;                    // bytes/s a body must keep; 0: off
  std::chrono::seconds min_transfer_window{30};              // ... averaged over this
  std::size_t max_uploads = 64;                              // blob-channel uploads, whole server
  std::size_t max_uploads_per_connection = 8;
  std::chrono::seconds upload_idle_timeout{60};              // an upload with no chunk this long ends
  std::uint64_t max_staging_bytes = 4ull << 30;              // declared bytes of staged uploads
  // Storage quotas (docs/security.md, "Quotas"); 0: none.
  std::uint64_t account_quota = 10ull << 30;     // blobs linked to an ATProto account + its records
  std::uint64_t room_token_quota = 1ull << 30;   // bytes a room token adds (without its own `quota` claim)

  // Derived images (docs/http.md, "Derived images"; image_config.cpp).
  std::uint64_t image_cache_bytes = 1ull << 30;        // DATA/image-cache, least recently used out first
  std::uint64_t image_max_pixels = 100'000'000;        // width x height x frames, from the header
  std::chrono::milliseconds image_timeout{10'000};     // one render; past it: 400 ImageTooComplex
  unsigned image_workers = 2;                          // threads (and cores) image work may take

  // Logging: "stderr", "stdout", "off" or a file path.
  std::string access_log = "stderr";
  std::string log_level = "info";
};

// The allow-list used when none is configured.

// One key as the user can set it: TOML name, env name and flag name are
// derived from `key`.
struct ConfigKeyInfo {
  std::string key;   // "max_upload_bytes"
  std::string help;  // one line for --help and docs
};
const std::vector<ConfigKeyInfo>& config_keys();

// `key`'s value in `c` as a TOML literal that build_config reads back to the
// same value (config_render.cpp); nullopt for a key with no literal form
// (sync_require_token when unset) or an unknown key.
std::optional<std::string> render_config_value(const ServerConfig& c, std::string_view key);

// Raw string values by key, collected from the sources in precedence order.
using ConfigValues = std::map<std::string, std::string>;

// Reads a TOML file into raw values (arrays become comma-separated lists).
// Errors: kNotFound, kInvalidArgument (syntax errors with line numbers,
// unknown keys).
Result<ConfigValues> read_toml_config(const std::filesystem::path& file);
// BLOBSYNC_<KEY> environment variables for every known key.
ConfigValues read_env_config();

// Whether /sync connections need a token: sync_require_token, else whether
// any token or room-token key is configured.
bool sync_token_required(const ServerConfig& c);

// This server's sync URL: `url`, else ws://<bound>/sync, or wss:// with TLS.
inline std::string sync_url(const ServerConfig& c, const std::string& bound) {
  if (!c.url.empty()) return c.url;
  return (c.tls_cert.empty() ? "ws://" : "wss://") + bound + "/sync";
}

// Builds a config from layered values: later maps override earlier ones.
// Errors: kInvalidArgument naming the key and the bad value.
Result<ServerConfig> build_config(const std::vector<ConfigValues>& layers);

// "host:port" -> parts. IPv6 as "[::1]:3913". Port 0 lets the OS choose.
Result<std::pair<std::string, std::uint16_t>> parse_listen(std::string_view text);
// "30", "30s", "10m", "6h", "2d" -> seconds.
Result<std::chrono::seconds> parse_duration(std::string_view text);
// Like parse_duration, plus an "ms" suffix ("250ms").
Result<std::chrono::milliseconds> parse_duration_ms(std::string_view text);
// "2026-12-06T21:00:00Z" (RFC 3339, UTC, optional fraction) or Unix seconds
// -> Unix seconds.
Result<std::int64_t> parse_time(std::string_view text);
// Sets one image_* key (image_config.cpp). Errors: kInvalidArgument.
Result<> apply_image_key(ServerConfig& c, std::string_view key, std::string_view value);
// "104857600", "100MiB", "1M", "64k" -> bytes.
Result<std::uint64_t> parse_size(std::string_view text);
// "10/min", "5/s", "100/h", "1000/d", "20/30s" (COUNT/DURATION), "off" or
// "0" (unlimited) -> a rate.
Result<ServerConfig::Rate> parse_rate(std::string_view text);

}  // namespace blobsync::http
