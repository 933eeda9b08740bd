#include <gtest/gtest.h>

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

}  // namespace
}  // namespace blobsync::http
