// Backoff (src/mesh/backoff.cpp): jittered, capped, doubling, reset.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <set>

#include "mesh/backoff.h"

namespace blobsync::mesh {
namespace {

using namespace std::chrono_literals;

TEST(Backoff, GrowsJitteredAndCapped) {
  Backoff b(100ms, 1000ms);
  auto d0 = b.next();
  EXPECT_GE(d0, 50ms);
  EXPECT_LE(d0, 100ms);
  auto d1 = b.next();
  EXPECT_GE(d1, 100ms);
  EXPECT_LE(d1, 200ms);
  for (int i = 0; i < 50; ++i) {
    auto d = b.next();
    EXPECT_LE(d, 1000ms);
    EXPECT_GE(d, 50ms);
  }
  // Late delays sit in the upper half of the cap.
  EXPECT_GE(b.next(), 500ms);
  b.reset();
  EXPECT_LE(b.next(), 100ms);
}

// The n-th delay (n counted from 0) lies in [d/2, d], d = min(max, initial * 2^n).
TEST(Backoff, EachDelayIsWithinItsBand) {
  for (int trial = 0; trial < 20; ++trial) {
    Backoff b(10ms, 5000ms);
    for (unsigned n = 0; n < 16; ++n) {
      EXPECT_EQ(b.failures(), n);
      std::int64_t d = std::min<std::int64_t>(5000, 10ll << n);
      auto got = b.next().count();
      EXPECT_GE(got, d / 2) << "failure " << n;
      EXPECT_LE(got, d) << "failure " << n;
    }
    EXPECT_EQ(b.failures(), 16u);
  }
}

// Jitter: servers that lost the same peer must not retry in lockstep.
TEST(Backoff, DelaysAtTheCapAreSpread) {
  Backoff b(1000ms, 1000ms);
  std::set<std::int64_t> seen;
  for (int i = 0; i < 100; ++i) seen.insert(b.next().count());
  EXPECT_GT(seen.size(), 10u);
}

// A zero initial delay would never grow: it is taken as 1 ms. A cap below the
// initial delay is raised to it.
TEST(Backoff, DegenerateSettingsAreClamped) {
  Backoff zero(0ms, 100ms);
  EXPECT_LE(zero.next(), 1ms);
  for (int i = 0; i < 20; ++i) zero.next();
  EXPECT_GE(zero.next(), 50ms);  // grew to the cap
  Backoff inverted(400ms, 10ms);
  for (int i = 0; i < 20; ++i) {
    auto d = inverted.next();
    EXPECT_GE(d, 200ms);
    EXPECT_LE(d, 400ms);
  }
}

// A peer down for days: thousands of failures neither overflow nor pass the cap.
TEST(Backoff, ManyFailuresStayAtTheCap) {
  Backoff b(std::chrono::hours(1), std::chrono::hours(24));
  for (int i = 0; i < 5000; ++i) (void)b.next();  // only the later delays matter here
  auto d = b.next();
  EXPECT_GE(d, std::chrono::hours(12));
  EXPECT_LE(d, std::chrono::hours(24));
  b.reset();
  EXPECT_EQ(b.failures(), 0u);
  EXPECT_LE(b.next(), std::chrono::hours(1));
}

}  // namespace
}  // namespace blobsync::mesh
