// S3Config (src/store/s3/s3_config.cpp): s3:// URLs, credentials, endpoints.
#include <gtest/gtest.h>

#include <map>

#include "store/s3/s3_config.h"

namespace blobsync::s3 {
namespace {

GetEnv env(std::map<std::string, std::string> vars) {
  return [vars](const char* name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(S3Config, FullUrl) {
  auto c = parse_s3_url("s3://AK:S%2FK@my-bucket/some/prefix?endpoint=http://127.0.0.1:9000&region=eu-west-3"
                        "&path_style=1&part_size=16MiB&stall_timeout_s=7&max_attempts=2&tmp_grace_s=60",
                        env({}));
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->bucket, "my-bucket");
  EXPECT_EQ(c->prefix, "some/prefix/");
  EXPECT_EQ(c->endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(c->region, "eu-west-3");
  EXPECT_TRUE(c->path_style);
  EXPECT_EQ(c->access_key, "AK");
  EXPECT_EQ(c->secret_key, "S/K");
  EXPECT_EQ(c->part_size, 16u << 20);
  EXPECT_EQ(c->stall_timeout_s, 7);
  EXPECT_EQ(c->max_attempts, 2);
  EXPECT_EQ(c->tmp_grace_s, 60);
}

TEST(S3Config, CredentialsAndRegionFromTheEnvironment) {
  auto c = parse_s3_url("s3://bucket", env({{"AWS_ACCESS_KEY_ID", "A"},
                                            {"AWS_SECRET_ACCESS_KEY", "B"},
                                            {"AWS_SESSION_TOKEN", "T"},
                                            {"AWS_REGION", "ap-south-1"}}));
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->access_key, "A");
  EXPECT_EQ(c->secret_key, "B");
  EXPECT_EQ(c->session_token, "T");
  EXPECT_EQ(c->region, "ap-south-1");
  EXPECT_EQ(c->endpoint, "https://s3.ap-south-1.amazonaws.com");
  EXPECT_FALSE(c->path_style);  // AWS: virtual-hosted
  EXPECT_EQ(c->prefix, "");
}

TEST(S3Config, CustomEndpointDefaultsToPathStyle) {
  auto c = parse_s3_url("s3://A:B@bucket?endpoint=http://localhost:4568", env({}));
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->path_style);
  auto v = parse_s3_url("s3://A:B@bucket?endpoint=https://r2.example&path_style=0", env({}));
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->path_style);
}

TEST(S3Config, Rejects) {
  auto e = env({});
  EXPECT_FALSE(parse_s3_url("http://bucket", e));
  EXPECT_FALSE(parse_s3_url("s3://bucket", e));  // no credentials anywhere
  EXPECT_FALSE(parse_s3_url("s3://A:B@", e));     // no bucket
  EXPECT_FALSE(parse_s3_url("s3://A:B@bucket?endpoint=ftp://x", e));
  EXPECT_FALSE(parse_s3_url("s3://A:B@bucket?endpoint=http://x/path", e));
  EXPECT_FALSE(parse_s3_url("s3://A:B@bucket?part_size=12XB", e));
  EXPECT_FALSE(parse_s3_url("s3://A:B@bucket?part_size=1", e));
  EXPECT_FALSE(parse_s3_url("s3://A:B@bucket?max_attempts=0", e));
  EXPECT_FALSE(parse_s3_url("s3://A:B@bucket?path_style=maybe", e));
  EXPECT_FALSE(parse_s3_url("s3://A:B@bucket/bad%20prefix", e));
  EXPECT_FALSE(parse_s3_url("s3://A:B@bucket?S%ZZ=1", e));
  auto typo = parse_s3_url("s3://A:B@bucket?enpoint=http://x", e);
  ASSERT_FALSE(typo);
  EXPECT_EQ(typo.error().code, Errc::kInvalidArgument);
  EXPECT_NE(typo.error().message.find("enpoint"), std::string::npos);
}

TEST(S3Config, DescribeHidesSecrets) {
  auto c = parse_s3_url("s3://AK:SECRET@bucket?endpoint=http://h:1", env({}));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->describe().find("SECRET"), std::string::npos);
}

}  // namespace
}  // namespace blobsync::s3
