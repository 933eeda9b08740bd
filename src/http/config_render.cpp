// render_config_value (config.h): a ServerConfig's value of one key as a TOML
// literal that build_config reads back to the same value. `blobsync config
// example` prints every key's default with it, so the packaged conffile shows
// the defaults the code really has (a test round-trips every key).
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http/config.h"

namespace blobsync::http {

namespace {

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789ABCDEF";
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + quote(items[i]);
  return out + "]";
}

std::string boolean(bool b) { return b ? "true" : "false"; }

// The largest unit that divides the value: "6h", "90s", "250ms".
std::string duration_ms(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms % 1000 != 0) return quote(std::to_string(ms) + "ms");
  auto s = ms / 1000;
  if (s != 0 && s % 86400 == 0) return quote(std::to_string(s / 86400) + "d");
  if (s != 0 && s % 3600 == 0) return quote(std::to_string(s / 3600) + "h");
  if (s != 0 && s % 60 == 0) return quote(std::to_string(s / 60) + "m");
  return quote(std::to_string(s) + "s");
}
std::string duration(std::chrono::seconds d) { return duration_ms(d); }

std::string size(std::uint64_t bytes) {
  if (bytes != 0 && bytes % (1ull << 30) == 0) return quote(std::to_string(bytes >> 30) + "GiB");
  if (bytes != 0 && bytes % (1ull << 20) == 0) return quote(std::to_string(bytes >> 20) + "MiB");
  if (bytes != 0 && bytes % (1ull << 10) == 0) return quote(std::to_string(bytes >> 10) + "KiB");
  return std::to_string(bytes);
}

std::string rate(const ServerConfig::Rate& r) {
  if (r.count == 0) return quote("off");
  auto per = r.per.count();
  std::string unit = per == 1 ? "s" : per == 60 ? "min" : per == 3600 ? "h" : per == 86400 ? "d" : std::to_string(per) + "s";
  return quote(std::to_string(r.count) + "/" + unit);
}

std::string listen(const ServerConfig& c) {
  bool v6 = c.listen_host.find(':') != std::string::npos;
  return quote((v6 ? "[" + c.listen_host + "]" : c.listen_host) + ":" + std::to_string(c.listen_port));
}

}  // namespace

std::optional<std::string> render_config_value(const ServerConfig& c, std::string_view key) {
  using S = std::string;
  if (key == "data") return quote(c.data_dir.string());
  if (key == "metadata") return quote(c.metadata.empty() ? "sqlite" : c.metadata);
  if (key == "store") return quote(c.store.empty() ? "disk" : c.store);
  if (key == "listen") return listen(c);
  if (key == "tls_cert") return quote(c.tls_cert.string());
  if (key == "tls_key") return quote(c.tls_key.string());
  if (key == "threads") return std::to_string(c.threads);
  if (key == "hostname") return quote(c.hostname);
  if (key == "user_domains") return list(c.user_domains);
  if (key == "max_connections") return std::to_string(c.max_connections);
  if (key == "max_header_bytes") return size(c.max_header_bytes);
  if (key == "max_upload_bytes") return size(c.max_upload_bytes);
  if (key == "max_json_bytes") return size(c.max_json_bytes);
  if (key == "header_timeout") return duration(c.header_timeout);
  if (key == "idle_timeout") return duration(c.idle_timeout);
  if (key == "body_timeout") return duration(c.body_timeout);
  if (key == "shutdown_timeout") return duration(c.shutdown_timeout);
  if (key == "open_signup") return boolean(c.open_signup);
  if (key == "jwt_secret") return quote(c.jwt_secret);
  if (key == "access_ttl") return duration(c.access_ttl);
  if (key == "refresh_ttl") return duration(c.refresh_ttl);
  if (key == "allowed_mime") return list(c.allowed_mime);
  if (key == "gc_grace") return duration(c.gc_grace);
  if (key == "gc_interval") return duration(c.gc_interval);
  if (key == "scrub_rate") return size(c.scrub_rate);
  if (key == "scrub_interval") return duration_ms(c.scrub_interval);
  if (key == "url") return quote(c.url);
  if (key == "sync_tokens") return list(c.sync_tokens);
  if (key == "sync_read_only_tokens") return list(c.sync_read_only_tokens);
  // Unset means "derived from the token keys": no literal says that.
  if (key == "sync_require_token") return c.sync_require_token ? std::optional<S>(boolean(*c.sync_require_token)) : std::nullopt;
  if (key == "room_token_secret") return quote(c.room_token_secret);
  if (key == "tokens_not_before")
    return c.tokens_not_before == 0 ? quote("") : std::to_string(c.tokens_not_before);
  if (key == "room_idle_timeout") return duration_ms(c.room_idle_timeout);
  if (key == "ws_idle_timeout") return duration_ms(c.ws_idle_timeout);
  if (key == "sync_fsync") return boolean(c.sync_fsync);
  if (key == "peers") return list(c.peers);
  if (key == "tls_ca_file") return quote(c.tls_ca_file);
  if (key == "tls_insecure") return boolean(c.tls_insecure);
  if (key == "replication") return quote(c.replication);
  if (key == "peer_token") return quote(c.peer_token);
  if (key == "peer_tokens") return list(c.peer_tokens);
  if (key == "mesh_allow") return list(c.mesh_allow);
  if (key == "replicate_on_fetch") return boolean(c.replicate_on_fetch);
  if (key == "mesh_max_fetches") return std::to_string(c.mesh_max_fetches);
  if (key == "mesh_link_backoff_max") return duration_ms(c.mesh_link_backoff_max);
  if (key == "mesh_prune_after") return duration_ms(c.mesh_prune_after);
  if (key == "mesh_probe_interval") return duration_ms(c.mesh_probe_interval);
  if (key == "mesh_rescan_interval") return duration_ms(c.mesh_rescan_interval);
  if (key == "mesh_shutdown_flush") return duration_ms(c.mesh_shutdown_flush);
  if (key == "sync_compact_updates") return std::to_string(c.sync_compact_updates);
  if (key == "sync_max_pending_structs") return std::to_string(c.sync_max_pending_structs);
  if (key == "sync_max_pending_bytes") return size(c.sync_max_pending_bytes);
  if (key == "sync_max_doc_bytes") return size(c.sync_max_doc_bytes);
  if (key == "sync_max_awareness_bytes") return size(c.sync_max_awareness_bytes);
  if (key == "sync_max_rooms") return std::to_string(c.sync_max_rooms);
  if (key == "sync_max_new_rooms_per_address") return std::to_string(c.sync_max_new_rooms_per_address);
  if (key == "admin_token") return quote(c.admin_token);
  if (key == "admin_loopback") return boolean(c.admin_loopback);
  if (key == "blobs_public") return boolean(c.blobs_public);
  if (key == "allowed_origins") return list(c.allowed_origins);
  if (key == "login_rate") return rate(c.login_rate);
  if (key == "login_rate_address") return rate(c.login_rate_address);
  if (key == "create_account_rate_address") return rate(c.create_account_rate_address);
  if (key == "max_connections_per_ip") return std::to_string(c.max_connections_per_ip);
  if (key == "max_frame_bytes") return size(c.max_frame_bytes);
  if (key == "max_queued_bytes_per_connection") return size(c.max_queued_bytes_per_connection);
  if (key == "min_transfer_rate") return size(c.min_transfer_rate);
  if (key == "min_transfer_window") return duration(c.min_transfer_window);
  if (key == "max_uploads") return std::to_string(c.max_uploads);
  if (key == "max_uploads_per_connection") return std::to_string(c.max_uploads_per_connection);
  if (key == "upload_idle_timeout") return duration(c.upload_idle_timeout);
  if (key == "max_staging_bytes") return size(c.max_staging_bytes);
  if (key == "account_quota") return size(c.account_quota);
  if (key == "room_token_quota") return size(c.room_token_quota);
  if (key == "image_cache_bytes") return size(c.image_cache_bytes);
  if (key == "image_max_pixels") return std::to_string(c.image_max_pixels);
  if (key == "image_timeout") return duration_ms(c.image_timeout);
  if (key == "image_workers") return std::to_string(c.image_workers);
  if (key == "access_log") return quote(c.access_log);
  if (key == "log_level") return quote(c.log_level);
  return std::nullopt;
}

}  // namespace blobsync::http
