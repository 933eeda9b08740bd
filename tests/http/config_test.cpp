#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include "http/config.h"

namespace blobsync::http {
namespace {

TEST(ConfigTest, DefaultsNeedNothing) {
  auto c = build_config({});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->listen_port, 3913);
  EXPECT_EQ(c->listen_host, "127.0.0.1");
  EXPECT_EQ(c->max_upload_bytes, 100ull * 1024 * 1024);
  EXPECT_EQ(c->gc_grace, std::chrono::hours(6));
  EXPECT_EQ(c->threads, 2u);
  EXPECT_FALSE(c->allowed_mime.empty());
}

TEST(ConfigTest, ResourceLimitKeys) {
  auto c = build_config({});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->max_connections_per_ip, 256u);
  EXPECT_EQ(c->max_queued_bytes_per_connection, 16u << 20);
  EXPECT_EQ(c->min_transfer_rate, 1024u);
  EXPECT_EQ(c->upload_idle_timeout, std::chrono::seconds(60));
  c = build_config({{{"max_connections_per_ip", "5"}, {"max_frame_bytes", "256KiB"},
                     {"max_queued_bytes_per_connection", "1MiB"}, {"min_transfer_rate", "0"},
                     {"min_transfer_window", "10s"}, {"max_uploads", "3"}, {"max_uploads_per_connection", "2"},
                     {"upload_idle_timeout", "5s"}, {"max_staging_bytes", "1GiB"}}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->max_connections_per_ip, 5u);
  EXPECT_EQ(c->max_frame_bytes, 256u << 10);
  EXPECT_EQ(c->max_queued_bytes_per_connection, 1u << 20);
  EXPECT_EQ(c->min_transfer_rate, 0u);
  EXPECT_EQ(c->min_transfer_window, std::chrono::seconds(10));
  EXPECT_EQ(c->max_uploads, 3u);
  EXPECT_EQ(c->max_uploads_per_connection, 2u);
  EXPECT_EQ(c->upload_idle_timeout, std::chrono::seconds(5));
  EXPECT_EQ(c->max_staging_bytes, 1ull << 30);
  for (auto [key, value] : {std::pair{"max_connections_per_ip", "0"}, {"max_frame_bytes", "10"},
                            {"upload_idle_timeout", "0"}, {"min_transfer_window", "0s"}}) {
    auto bad = build_config({{{key, value}}});
    ASSERT_FALSE(bad) << key;
    EXPECT_NE(bad.error().message.find(key), std::string::npos) << bad.error().message;
  }
}

TEST(ConfigTest, QuotaKeys) {
  auto c = build_config({});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->account_quota, 10ull << 30);
  EXPECT_EQ(c->room_token_quota, 1ull << 30);
  c = build_config({{{"account_quota", "1MiB"}, {"room_token_quota", "0"}}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->account_quota, 1u << 20);
  EXPECT_EQ(c->room_token_quota, 0u);  // no quota
  for (const char* key : {"account_quota", "room_token_quota"}) {
    auto bad = build_config({{{key, "plenty"}}});
    ASSERT_FALSE(bad) << key;
    EXPECT_NE(bad.error().message.find(key), std::string::npos) << bad.error().message;
  }
}

TEST(ConfigTest, LaterLayersWin) {
  auto c = build_config({{{"max_upload_bytes", "10"}, {"listen", "0.0.0.0:80"}},
                         {{"max_upload_bytes", "2MiB"}}});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->max_upload_bytes, 2u * 1024 * 1024);
  EXPECT_EQ(c->listen_host, "0.0.0.0");
  EXPECT_EQ(c->listen_port, 80);
}

TEST(ConfigTest, BadValuesNameTheKey) {
  auto c = build_config({{{"gc_grace", "soon"}}});
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("gc_grace"), std::string::npos);
  EXPECT_FALSE(build_config({{{"listen", "nohostport"}}}));
  EXPECT_FALSE(build_config({{{"listen", "1.2.3.4:99999"}}}));
  EXPECT_FALSE(build_config({{{"threads", "0"}}}));
  EXPECT_FALSE(build_config({{{"open_signup", "maybe"}}}));
  EXPECT_FALSE(build_config({{{"jwt_secret", "short"}}}));
  EXPECT_FALSE(build_config({{{"allowed_mime", "png"}}}));
  EXPECT_FALSE(build_config({{{"nonsense", "1"}}}));
}

// The keys this session added: malformed values are refused at load and
// name the key; good values parse.
TEST(ConfigTest, LifecycleScrubAndMeshKeys) {
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"scrub_rate", "fast"}, {"scrub_rate", "-1"}, {"scrub_interval", "daily"},
           {"mesh_allow", "http://127.0.0.1:4001/sync"}, {"mesh_allow", "ws://a/sync,evil"}}) {
    auto c = build_config({{{key, value}}});
    ASSERT_FALSE(c) << key << "=" << value;
    EXPECT_NE(c.error().message.find(key), std::string::npos) << c.error().message;
  }
  auto c = build_config({{{"scrub_rate", "16MiB"}, {"scrub_interval", "500ms"},
                          {"mesh_allow", "ws://127.0.0.1:4001/sync,ws://10.0.0.1:4002"}}});
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->scrub_rate, 16u << 20);
  EXPECT_EQ(c->scrub_interval.count(), 500);
  EXPECT_EQ(c->mesh_allow.size(), 2u);
}

// Outbound TLS (issue 21): sync URLs are ws:// or wss://, never the HTTP
// side's https://; tls_ca_file and tls_insecure are plain values checked
// against each other (the CA file itself is read when the mesh starts).
TEST(ConfigTest, TlsClientKeys) {
  auto c = build_config({{{"peers", "wss://a.example/sync, WSS://127.0.0.1:4002/sync,ws://b:4003/sync"},
                          {"mesh_allow", "wss://holders.example"},
                          {"url", "wss://me.example/sync"},
                          {"tls_ca_file", "/etc/blobsync/ca.pem"}}});
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->peers.size(), 3u);
  EXPECT_EQ(c->tls_ca_file, "/etc/blobsync/ca.pem");
  EXPECT_FALSE(c->tls_insecure);
  c = build_config({{{"tls_insecure", "true"}}});
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_TRUE(c->tls_insecure);
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"peers", "https://a.example/sync"}, {"peers", "wss://a/sync,http://b/sync"}, {"peers", "a.example:443"},
           {"mesh_allow", "https://holders.example"}, {"url", "https://me.example/sync"},
           {"tls_insecure", "sometimes"}}) {
    auto bad = build_config({{{key, value}}});
    ASSERT_FALSE(bad) << key << "=" << value;
    EXPECT_NE(bad.error().message.find(key), std::string::npos) << bad.error().message;
  }
  auto https = build_config({{{"peers", "https://a.example/sync"}}});
  ASSERT_FALSE(https);
  EXPECT_NE(https.error().message.find("ws:// or wss://"), std::string::npos) << https.error().message;
  auto both = build_config({{{"tls_insecure", "true"}, {"tls_ca_file", "ca.pem"}}});
  ASSERT_FALSE(both);
  EXPECT_NE(both.error().message.find("tls_insecure"), std::string::npos) << both.error().message;
  // Right after `peers` in the key list (config example, docs/http.md).
  const auto& keys = config_keys();
  auto at = [&](std::string_view k) {
    return std::find_if(keys.begin(), keys.end(), [&](const ConfigKeyInfo& i) { return i.key == k; }) - keys.begin();
  };
  EXPECT_EQ(at("tls_ca_file"), at("peers") + 1);
  EXPECT_EQ(at("tls_insecure"), at("peers") + 2);
}

// Document limits (issue 18): sizes take units, 0 turns a limit off.
TEST(ConfigTest, DocumentLimitKeys) {
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"sync_max_pending_structs", "many"}, {"sync_max_pending_bytes", "-1"},
           {"sync_max_doc_bytes", "big"}, {"sync_max_awareness_bytes", "1x"}}) {
    auto c = build_config({{{key, value}}});
    ASSERT_FALSE(c) << key << "=" << value;
    EXPECT_NE(c.error().message.find(key), std::string::npos) << c.error().message;
  }
  auto d = build_config({});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->sync_max_pending_structs, 10'000u);
  EXPECT_EQ(d->sync_max_doc_bytes, 64u << 20);
  auto c = build_config({{{"sync_max_pending_structs", "0"}, {"sync_max_pending_bytes", "1MiB"},
                          {"sync_max_doc_bytes", "8MiB"}, {"sync_max_awareness_bytes", "4KiB"}}});
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->sync_max_pending_structs, 0u);
  EXPECT_EQ(c->sync_max_pending_bytes, 1u << 20);
  EXPECT_EQ(c->sync_max_doc_bytes, 8u << 20);
  EXPECT_EQ(c->sync_max_awareness_bytes, 4u << 10);
}

TEST(ConfigTest, Durations) {
  EXPECT_EQ(*parse_duration("30"), std::chrono::seconds(30));
  EXPECT_EQ(*parse_duration("10m"), std::chrono::minutes(10));
  EXPECT_EQ(*parse_duration("2d"), std::chrono::hours(48));
  EXPECT_FALSE(parse_duration("-1s"));
  EXPECT_FALSE(parse_duration(""));
}

TEST(ConfigTest, ListenIpv6) {
  auto l = parse_listen("[::1]:3913");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->first, "::1");
  EXPECT_EQ(l->second, 3913);
}

TEST(ConfigTest, TomlFileAndEnv) {
  auto path = std::filesystem::temp_directory_path() / "blobsync_config_test.toml";
  {
    std::ofstream f(path);
    f << "listen = \"127.0.0.1:4000\"\nmax_upload_bytes = 5000\nopen_signup = false\n"
         "allowed_mime = [\"image/png\", \"image/*\"]\n";
  }
  auto toml = read_toml_config(path);
  ASSERT_TRUE(toml) << toml.error().message;
  ::setenv("BLOBSYNC_MAX_UPLOAD_BYTES", "6000", 1);
  auto env = read_env_config();
  ::unsetenv("BLOBSYNC_MAX_UPLOAD_BYTES");
  auto c = build_config({*toml, env});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->listen_port, 4000);
  EXPECT_EQ(c->max_upload_bytes, 6000u);  // env beats TOML
  EXPECT_FALSE(c->open_signup);
  EXPECT_EQ(c->allowed_mime.size(), 2u);
  {
    std::ofstream f(path);
    f << "listen = \n";
  }
  auto bad = read_toml_config(path);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find(":1:"), std::string::npos);
  {
    std::ofstream f(path);
    f << "lisen = \"x\"\n";
  }
  EXPECT_FALSE(read_toml_config(path));
  std::filesystem::remove(path);
  EXPECT_FALSE(read_toml_config(path));
}

// Writes every key's rendered value as TOML, reads it back and renders again.
void ExpectRoundTrip(const ServerConfig& c) {
  auto path = std::filesystem::temp_directory_path() / "blobsync_config_render.toml";
  {
    std::ofstream f(path);
    for (const auto& info : config_keys())
      if (auto v = render_config_value(c, info.key)) f << info.key << " = " << *v << "\n";
  }
  auto toml = read_toml_config(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(toml) << toml.error().message;
  auto back = build_config({*toml});
  ASSERT_TRUE(back) << back.error().message;
  for (const auto& info : config_keys()) {
    auto v = render_config_value(c, info.key);
    EXPECT_EQ(v, render_config_value(*back, info.key)) << info.key;
    // Only sync_require_token may lack a literal, and only while unset.
    if (info.key != "sync_require_token") {
      EXPECT_TRUE(v) << info.key << " has no rendering";
    }
  }
}

// `blobsync config example` (the packaged conffile) shows each default through
// render_config_value: every key has one, and each reads back unchanged.
TEST(ConfigTest, EveryKeyRendersAndReadsBack) {
  auto defaults = build_config({});
  ASSERT_TRUE(defaults);
  ExpectRoundTrip(*defaults);
  EXPECT_EQ(render_config_value(*defaults, "max_upload_bytes"), "\"100MiB\"");
  EXPECT_EQ(render_config_value(*defaults, "gc_grace"), "\"6h\"");
  EXPECT_EQ(render_config_value(*defaults, "create_account_rate_address"), "\"5/h\"");
  EXPECT_EQ(render_config_value(*defaults, "no_such_key"), std::nullopt);
  auto odd = build_config({{{"listen", "[::1]:0"}, {"scrub_interval", "250ms"}, {"login_rate", "7/90s"},
                            {"peers", "ws://a:1/sync, ws://b:2/sync"}, {"hostname", "quote\"back\\slash"},
                            {"max_frame_bytes", "5000"}, {"sync_require_token", "true"},
                            {"tokens_not_before", "2026-12-06T21:00:00Z"}, {"login_rate_address", "off"}}});
  ASSERT_TRUE(odd) << odd.error().message;
  ExpectRoundTrip(*odd);
}

// Access keys (issue 17): room tokens, peer tokens, admin.
TEST(ConfigTest, AccessKeys) {
  const std::string key(40, 'k');
  auto c = build_config({{{"room_token_secret", key},
                          {"tokens_not_before", "2026-12-06T21:00:00Z"},
                          {"peer_token", "p1"},
                          {"peer_tokens", "p1, p2"},
                          {"admin_loopback", "false"}}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->room_token_secret, key);
  EXPECT_EQ(c->tokens_not_before, 1'796'590'800);
  EXPECT_EQ(c->peer_tokens, (std::vector<std::string>{"p1", "p2"}));
  EXPECT_FALSE(c->admin_loopback);
  EXPECT_FALSE(c->sync_require_token.has_value());
  EXPECT_EQ(build_config({{{"tokens_not_before", "1765000000"}}})->tokens_not_before, 1'765'000'000);
  EXPECT_EQ(build_config({{{"sync_require_token", "true"}}})->sync_require_token, true);
  for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
           {"room_token_secret", "short"},
           {"tokens_not_before", "yesterday"},
           {"tokens_not_before", "2026-13-01T00:00:00Z"},
           {"tokens_not_before", "2026-12-06T21:00:00+01:00"},
           {"tokens_not_before", "2026-12-06"},
           {"sync_require_token", "sometimes"},
           {"admin_loopback", "2"}}) {
    auto bad = build_config({{{k, v}}});
    ASSERT_FALSE(bad) << k << "=" << v;
    EXPECT_NE(bad.error().message.find(k), std::string::npos) << bad.error().message;
  }
}

TEST(ConfigTest, ParseTime) {
  EXPECT_EQ(*parse_time("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*parse_time("2000-02-29T12:34:56.789Z"), 951'827'696);
  EXPECT_EQ(*parse_time("42"), 42);
  EXPECT_FALSE(parse_time("2001-02-29T00:00:00Z"));  // no such day
  EXPECT_FALSE(parse_time("2000-01-01T24:00:00Z"));
  EXPECT_FALSE(parse_time("2000-01-01T00:00:00"));  // UTC must be said
  EXPECT_FALSE(parse_time(""));
  EXPECT_FALSE(parse_time("-5"));
}

// A token accepted from peers may not also be a client token: a client
// holding it could pose as a server (`_mesh`, no chunk re-checks).
TEST(ConfigTest, PeerTokensAreNeverClientTokens) {
  auto overlap = build_config({{{"sync_tokens", "a,b"}, {"peer_tokens", "c,b"}}});
  ASSERT_FALSE(overlap);
  EXPECT_NE(overlap.error().message.find("peer_tokens"), std::string::npos);
  EXPECT_NE(overlap.error().message.find("sync_tokens"), std::string::npos);
  auto legacy = build_config({{{"sync_read_only_tokens", "ro"}, {"peer_token", "ro"}}});
  ASSERT_FALSE(legacy);  // peer_token is what peers must show when peer_tokens is unset
  EXPECT_NE(legacy.error().message.find("sync_read_only_tokens"), std::string::npos);
  // peer_token is only presented once peer_tokens is set: it may be anything.
  EXPECT_TRUE(build_config({{{"sync_tokens", "x"}, {"peer_token", "y"}, {"peer_tokens", "z"}}}));
  EXPECT_TRUE(build_config({{{"sync_tokens", "x"}, {"peer_token", "y"}}}));
}

TEST(ConfigTest, ContradictoryAccessKeysAreRefused) {
  EXPECT_FALSE(build_config({{{"sync_tokens", "x"}, {"sync_require_token", "false"}}}));
  EXPECT_FALSE(build_config({{{"room_token_secret", std::string(32, 's')}, {"sync_require_token", "off"}}}));
  auto same = build_config({{{"room_token_secret", std::string(32, 's')}, {"jwt_secret", std::string(32, 's')}}});
  ASSERT_FALSE(same);
  EXPECT_NE(same.error().message.find("jwt_secret"), std::string::npos);
  EXPECT_TRUE(build_config({{{"sync_require_token", "false"}}}));
}

TEST(ConfigTest, ImageKeys) {
  auto c = build_config({});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->image_cache_bytes, 1ull << 30);
  EXPECT_EQ(c->image_max_pixels, 100'000'000u);
  EXPECT_EQ(c->image_timeout, std::chrono::seconds(10));
  EXPECT_EQ(c->image_workers, 2u);
  c = build_config({{{"image_cache_bytes", "64MiB"}, {"image_max_pixels", "25000000"}, {"image_timeout", "500ms"},
                     {"image_workers", "4"}}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->image_cache_bytes, 64ull << 20);
  EXPECT_EQ(c->image_max_pixels, 25'000'000u);
  EXPECT_EQ(c->image_timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(c->image_workers, 4u);
  for (auto [k, v] : {std::pair{"image_cache_bytes", "0"}, {"image_max_pixels", "lots"}, {"image_timeout", "0"},
                      {"image_workers", "0"}, {"image_workers", "65"}, {"image_workers", "2x"}, {"image_size", "1"}}) {
    auto bad = build_config({{{k, v}}});
    ASSERT_FALSE(bad) << k << "=" << v;
    EXPECT_NE(bad.error().message.find(k), std::string::npos) << bad.error().message;
  }
}

}  // namespace
}  // namespace blobsync::http
