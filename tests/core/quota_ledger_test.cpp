#include "core/quota_ledger.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>
#include <vector>

namespace blobsync {
namespace {

TEST(QuotaLedger, ReservesWithinTheLimitAndRefusesPastIt) {
  QuotaLedger l;
  auto used = [] { return std::uint64_t{600}; };
  auto a = l.reserve("acct", 400, 1000, used);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(l.in_flight("acct"), 400u);
  auto b = l.reserve("acct", 1, 1000, used);
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().used, 600u);
  EXPECT_EQ(b.error().in_flight, 400u);
  EXPECT_EQ(b.error().wanted, 1u);
  EXPECT_EQ(b.error().limit, 1000u);
  EXPECT_TRUE(l.reserve("other", 400, 1000, used).has_value()) << "keys are independent";
}

TEST(QuotaLedger, ReleaseAndCommitFreeTheReservation) {
  QuotaLedger l;
  std::uint64_t stored = 0;
  auto used = [&] { return stored; };
  {
    auto a = l.reserve("k", 800, 1000, used);
    ASSERT_TRUE(a.has_value());
  }  // destroyed: released
  EXPECT_EQ(l.in_flight("k"), 0u);
  EXPECT_EQ(l.keys(), 0u);
  auto b = l.reserve("k", 800, 1000, used);
  ASSERT_TRUE(b.has_value());
  b->release();
  EXPECT_FALSE(b->active());
  auto c = l.reserve("k", 800, 1000, used);
  ASSERT_TRUE(c.has_value());
  stored += 800;  // the write is durable, then the reservation goes
  c->commit();
  EXPECT_EQ(l.in_flight("k"), 0u);
  EXPECT_FALSE(l.reserve("k", 201, 1000, used).has_value());
  EXPECT_TRUE(l.reserve("k", 200, 1000, used).has_value());
}

TEST(QuotaLedger, GrowChecksEveryByte) {
  QuotaLedger l;
  auto used = [] { return std::uint64_t{0}; };
  auto a = l.reserve("k", 0, 100, used);
  ASSERT_TRUE(a.has_value());
  EXPECT_TRUE(a->grow(60).has_value());
  auto other = l.reserve("k", 30, 100, used);
  ASSERT_TRUE(other.has_value());
  auto r = a->grow(11);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().in_flight, 90u);
  EXPECT_EQ(a->bytes(), 60u) << "a refused grow changes nothing";
  EXPECT_TRUE(a->grow(10).has_value());
  EXPECT_EQ(l.in_flight("k"), 100u);
}

TEST(QuotaLedger, ZeroLimitMeansNoQuota) {
  QuotaLedger l;
  auto a = l.reserve("k", UINT64_MAX / 2, 0, [] { return UINT64_MAX / 2; });
  ASSERT_TRUE(a.has_value());
  EXPECT_TRUE(a->grow(UINT64_MAX / 4).has_value());
}

TEST(QuotaLedger, HugeSizesDoNotOverflowPastTheCheck) {
  QuotaLedger l;
  auto used = [] { return std::uint64_t{10}; };
  EXPECT_FALSE(l.reserve("k", UINT64_MAX, 1000, used).has_value());
  auto a = l.reserve("k", 10, 1000, used);
  ASSERT_TRUE(a.has_value());
  EXPECT_FALSE(a->grow(UINT64_MAX - 5).has_value());
}

// A write that commits (and releases) while another reads the stored usage
// is still counted: the read may have missed it.
TEST(QuotaLedger, ACommitDuringTheUsageReadIsCounted) {
  QuotaLedger l;
  std::uint64_t stored = 0;
  auto first = l.reserve("k", 700, 1000, [&] { return stored; });
  ASSERT_TRUE(first.has_value());
  auto second = l.reserve("k", 700, 1000, [&] {
    std::uint64_t seen = stored;  // read before the first write is durable...
    stored += 700;                // ...which then commits
    first->commit();
    return seen;
  });
  ASSERT_FALSE(second.has_value()) << "both writes passed the check together";
  EXPECT_EQ(second.error().used, 700u);
}

// Many threads reserving at once never hold more than the quota in flight.
TEST(QuotaLedger, ParallelReservationsNeverExceedTheQuota) {
  QuotaLedger l;
  std::atomic<std::uint64_t> stored{0};
  std::atomic<int> granted{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 8; ++i)
    ts.emplace_back([&] {
      for (int j = 0; j < 200; ++j) {
        auto r = l.reserve("k", 10, 1000, [&] { return stored.load(); });
        if (!r) continue;
        ++granted;
        stored += 10;
        r->commit();
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_LE(stored.load(), 1000u);
  EXPECT_EQ(stored.load(), static_cast<std::uint64_t>(granted.load()) * 10);
  EXPECT_GE(granted.load(), 90) << "refusals err towards the quota only while a commit is in flight";
  EXPECT_EQ(l.keys(), 0u);
}

// A reused read stands in for a new one, this process's commits counted on
// top; a refusal is only ever given on a fresh read.
TEST(QuotaLedger, AReusedReadCountsCommitsAndReadsAgainBeforeRefusing) {
  QuotaLedger l;
  constexpr auto kReuse = std::chrono::hours(1);
  std::uint64_t stored = 0;
  int reads = 0;
  auto used = [&] {
    ++reads;
    return stored;
  };
  auto a = l.reserve("k", 400, 1000, used, kReuse);
  ASSERT_TRUE(a.has_value());
  stored += 400;
  a->commit();
  auto b = l.reserve("k", 600, 1000, used, kReuse);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(reads, 1) << "the first read is reused";
  stored += 600;
  b->commit();
  auto c = l.reserve("k", 1, 1000, used, kReuse);
  ASSERT_FALSE(c.has_value()) << "the reused read plus the commits since fill the quota";
  EXPECT_EQ(reads, 2) << "a refusal reads afresh";
  EXPECT_EQ(c.error().used, 1000u);
  stored = 0;  // deleted meanwhile (not through the ledger)
  auto d = l.reserve("k", 500, 1000, used, kReuse);
  ASSERT_TRUE(d.has_value()) << "usage that went down must not refuse";
  EXPECT_EQ(reads, 3);
  d->release();
  EXPECT_EQ(l.keys(), 0u) << "an entry kept for its read does not count";
  auto e = l.reserve("k", 1, 1000, used);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(reads, 4) << "without reuse every reservation reads";
}

TEST(QuotaLedger, AFailedReadIsNeverReused) {
  QuotaLedger l;
  int reads = 0;
  auto a = l.reserve("k", 10, 1000, [&]() -> std::optional<std::uint64_t> {
    ++reads;
    return std::nullopt;
  }, std::chrono::hours(1));
  ASSERT_TRUE(a.has_value());
  a->release();
  auto b = l.reserve("k", 10, 1000, [&]() -> std::optional<std::uint64_t> {
    ++reads;
    return 995;
  }, std::chrono::hours(1));
  EXPECT_FALSE(b.has_value());
  EXPECT_EQ(reads, 2);
}

TEST(QuotaLedger, AnOldReadIsNotReused) {
  QuotaLedger l;
  int reads = 0;
  auto used = [&] {
    ++reads;
    return std::uint64_t{0};
  };
  ASSERT_TRUE(l.reserve("k", 1, 1000, used, std::chrono::milliseconds(1)).has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(l.reserve("k", 1, 1000, used, std::chrono::milliseconds(1)).has_value());
  EXPECT_EQ(reads, 2);
}

// As ParallelReservationsNeverExceedTheQuota, reusing reads.
TEST(QuotaLedger, ParallelReservationsReusingReadsNeverExceedTheQuota) {
  QuotaLedger l;
  std::atomic<std::uint64_t> stored{0};
  std::atomic<int> granted{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 8; ++i)
    ts.emplace_back([&] {
      for (int j = 0; j < 200; ++j) {
        auto r = l.reserve("k", 10, 1000, [&] { return stored.load(); }, std::chrono::hours(1));
        if (!r) continue;
        ++granted;
        stored += 10;
        r->commit();
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_LE(stored.load(), 1000u);
  EXPECT_EQ(stored.load(), static_cast<std::uint64_t>(granted.load()) * 10);
  EXPECT_GE(granted.load(), 90);
  EXPECT_EQ(l.keys(), 0u);
}

}  // namespace
}  // namespace blobsync
