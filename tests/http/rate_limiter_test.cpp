#include <gtest/gtest.h>

#include <sodium.h>

#include "http/account_store.h"
#include "http/config.h"
#include "http/rate_limiter.h"

namespace blobsync::http {
namespace {

using namespace std::chrono_literals;
using Clock = RateLimiter::Clock;

TEST(RateLimiterTest, BurstThenRefill) {
  RateLimiter lim(3, 60s);
  auto t = Clock::time_point{} + 1000h;
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(lim.take("a", t)) << i;
  auto wait = lim.take("a", t);
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, 20s);  // 3/min: one token every 20 s
  EXPECT_TRUE(lim.take("a", t + 19s));
  EXPECT_FALSE(lim.take("a", t + 20s));  // a token came back
  EXPECT_TRUE(lim.take("a", t + 20s));
  // Other keys are independent.
  EXPECT_FALSE(lim.take("b", t));
  // A long pause refills to the burst size, no more.
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(lim.take("a", t + 1h)) << i;
  EXPECT_TRUE(lim.take("a", t + 1h));
}

TEST(RateLimiterTest, RetryAfterIsAtLeastOneSecond) {
  RateLimiter lim(100, 1s);
  auto t = Clock::time_point{} + 1h;
  for (int i = 0; i < 100; ++i) ASSERT_FALSE(lim.take("k", t));
  EXPECT_EQ(lim.take("k", t), 1s);
}

TEST(RateLimiterTest, ZeroMeansUnlimitedAndUntracked) {
  RateLimiter lim(0, 60s);
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(lim.take("k"));
  EXPECT_EQ(lim.tracked(), 0u);
}

TEST(RateLimiterTest, MemoryIsBoundedOldestEvicted) {
  RateLimiter lim(1, 60s, 3);
  auto t = Clock::time_point{} + 1h;
  EXPECT_FALSE(lim.take("a", t));
  EXPECT_FALSE(lim.take("b", t));
  EXPECT_FALSE(lim.take("c", t));
  EXPECT_TRUE(lim.take("a", t));  // a is now the most recent
  EXPECT_FALSE(lim.take("d", t));  // evicts b, the least recently used
  EXPECT_EQ(lim.tracked(), 3u);
  EXPECT_TRUE(lim.take("a", t));   // still tracked, still limited
  EXPECT_FALSE(lim.take("b", t));  // forgotten: a fresh bucket
  for (int i = 0; i < 10000; ++i) (void)lim.take("k" + std::to_string(i), t);
  EXPECT_EQ(lim.tracked(), 3u);
}

TEST(RateLimiterTest, AddressKeys) {
  EXPECT_EQ(client_address_key("192.0.2.7:5555"), "192.0.2.7");
  EXPECT_EQ(client_address_key("[2001:db8:1:2:3:4:5:6]:443"), "2001:0db8:0001:0002::/64");
  EXPECT_EQ(client_address_key("[2001:db8:1:2:ffff::1]:1"), client_address_key("[2001:db8:1:2::9]:2"));
  EXPECT_NE(client_address_key("[2001:db8:1:2::1]:1"), client_address_key("[2001:db8:1:3::1]:1"));
  EXPECT_EQ(client_address_key("[::ffff:192.0.2.7]:80"), "192.0.2.7");
}

TEST(RateLimiterTest, RateSyntax) {
  EXPECT_EQ(*parse_rate("10/min"), (ServerConfig::Rate{10, 60s}));
  EXPECT_EQ(*parse_rate("5/s"), (ServerConfig::Rate{5, 1s}));
  EXPECT_EQ(*parse_rate("100/h"), (ServerConfig::Rate{100, 3600s}));
  EXPECT_EQ(*parse_rate("1000/day"), (ServerConfig::Rate{1000, 86400s}));
  EXPECT_EQ(*parse_rate("20/30s"), (ServerConfig::Rate{20, 30s}));
  EXPECT_EQ(*parse_rate(" 3 / 10m "), (ServerConfig::Rate{3, 600s}));
  EXPECT_EQ(parse_rate("off")->count, 0u);
  EXPECT_EQ(parse_rate("0")->count, 0u);
  for (const char* bad : {"10", "/min", "0/min", "-1/min", "10/", "10/fortnight", "10/0s", "x/min", "10/min/h"})
    EXPECT_FALSE(parse_rate(bad)) << bad;
  auto c = build_config({{{"login_rate", "5/min"}, {"login_rate_address", "off"}}});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->login_rate, (ServerConfig::Rate{5, 60s}));
  EXPECT_EQ(c->login_rate_address.count, 0u);
  auto d = build_config({});
  EXPECT_EQ(d->login_rate, (ServerConfig::Rate{10, 60s}));
  EXPECT_EQ(d->login_rate_address, (ServerConfig::Rate{30, 60s}));
  auto bad = build_config({{{"login_rate", "lots"}}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("login_rate"), std::string::npos);
}

TEST(RateLimiterTest, CreateAccountRateConfig) {
  EXPECT_EQ(build_config({})->create_account_rate_address, (ServerConfig::Rate{5, 3600s}));
  auto c = build_config({{{"create_account_rate_address", "2/30s"}}});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->create_account_rate_address, (ServerConfig::Rate{2, 30s}));
  EXPECT_EQ(c->login_rate_address, (ServerConfig::Rate{30, 60s}));  // a key of its own
  EXPECT_EQ(build_config({{{"create_account_rate_address", "off"}}})->create_account_rate_address.count, 0u);
  for (const char* v : {"5", "0/h", "5/fortnight"}) {
    auto bad = build_config({{{"create_account_rate_address", v}}});
    ASSERT_FALSE(bad) << v;
    EXPECT_NE(bad.error().message.find("create_account_rate_address"), std::string::npos) << bad.error().message;
  }
}

TEST(RateLimiterTest, AllowedOriginsConfig) {
  auto c = build_config({{{"allowed_origins", "https://a.example, *"}}});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->allowed_origins.size(), 2u);
  EXPECT_TRUE(build_config({})->allowed_origins.empty());
  for (const char* bad : {"null", "https://a.example/", "a.example"}) {
    auto r = build_config({{{"allowed_origins", bad}}});
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("allowed_origins"), std::string::npos);
  }
}

// The dummy hash a login for a missing account verifies against has the
// limits real accounts are hashed with, so both cost the same.
TEST(RateLimiterTest, LoginDummyHashMatchesAccountHashes) {
  ASSERT_GE(sodium_init(), 0);
  EXPECT_TRUE(AccountStore::dummy_hash_current());
}

}  // namespace
}  // namespace blobsync::http
