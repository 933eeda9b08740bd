#include "http/conn_limits.h"

#include <gtest/gtest.h>

#include <vector>

namespace blobsync::http {
namespace {

namespace ip = boost::asio::ip;

TEST(ConnectionLimitsTest, TotalAndPerAddress) {
  auto lim = std::make_shared<ConnectionLimits>(5, 3);
  auto a = ip::make_address("10.0.0.1"), b = ip::make_address("10.0.0.2");
  ConnectionLimits::Refusal why{};
  std::vector<std::shared_ptr<void>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(lim->try_open(a, why));
    ASSERT_TRUE(held.back()) << i;
  }
  EXPECT_FALSE(lim->try_open(a, why));
  EXPECT_EQ(why, ConnectionLimits::Refusal::kPerAddress);
  held.push_back(lim->try_open(b, why));
  held.push_back(lim->try_open(b, why));
  ASSERT_TRUE(held.back());
  EXPECT_FALSE(lim->try_open(ip::make_address("10.0.0.3"), why));
  EXPECT_EQ(why, ConnectionLimits::Refusal::kTotal);
  EXPECT_EQ(lim->open(), 5u);
  EXPECT_EQ(lim->open_from(a), 3u);

  // A copy of a slot (the upgrade hand-over) keeps it; the last one frees it.
  auto copy = held.front();
  held.erase(held.begin());
  EXPECT_EQ(lim->open_from(a), 3u);
  copy.reset();
  EXPECT_EQ(lim->open_from(a), 2u);
  EXPECT_TRUE(lim->try_open(a, why));  // a temporary: freed at once
  held.clear();
  EXPECT_EQ(lim->open(), 0u);
  EXPECT_EQ(lim->open_from(b), 0u);
}

TEST(ConnectionLimitsTest, AddressKeys) {
  EXPECT_EQ(ConnectionLimits::address_key(ip::make_address("192.0.2.7")), "192.0.2.7");
  // IPv4 mapped into IPv6 counts as the IPv4 address.
  EXPECT_EQ(ConnectionLimits::address_key(ip::make_address("::ffff:192.0.2.7")), "192.0.2.7");
  // One host can hold a whole /64: its addresses count together.
  EXPECT_EQ(ConnectionLimits::address_key(ip::make_address("2001:db8:1:2:aaaa::1")),
            ConnectionLimits::address_key(ip::make_address("2001:db8:1:2:bbbb::9")));
  EXPECT_NE(ConnectionLimits::address_key(ip::make_address("2001:db8:1:2::1")),
            ConnectionLimits::address_key(ip::make_address("2001:db8:1:3::1")));
}

}  // namespace
}  // namespace blobsync::http
