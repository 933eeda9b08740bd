// Scrubber (src/store/scrubber.cpp): re-hashes stored blobs in the background
// at a bounded byte rate, quarantines what fails and asks for a heal, and
// resumes its pass after a restart.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "core/blob_id.h"
#include "store/blob_store.h"
#include "store/disk_backend.h"
#include "store/scrubber.h"
#include "corruption_util.h"
#include "test_util.h"

namespace blobsync {
namespace {

using namespace std::chrono_literals;
using namespace blobsync::testing;  // test_util.h, corruption_util.h


struct HealLog {
  std::mutex mu;
  std::vector<Digest> asked;
  std::size_t count(const Digest& d) {
    std::lock_guard lock(mu);
    return static_cast<std::size_t>(std::count(asked.begin(), asked.end(), d));
  }
};

TEST(Scrubber, QuarantinesCorruptBlobsAsksForHealAndCountsThem) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  std::vector<Digest> blobs;
  std::vector<std::vector<std::byte>> contents;
  for (int i = 0; i < 3; ++i) {
    contents.push_back(random_bytes(400'000, 10 + static_cast<std::uint64_t>(i)));
    auto rec = store->put_bytes(contents.back(), {});
    ASSERT_TRUE(rec);
    blobs.push_back(rec->hash);
  }
  flip(file_of(*store, blobs[1]), 399'999);  // the last byte: chunk 1 and the blob hash

  HealLog heals;
  ScrubOptions o;
  o.rate = 1ull << 30;
  o.interval = 1h;
  o.state_file = tmp.path() / "scrub.state";
  o.heal = [&](const Digest& d) {
    std::lock_guard lock(heals.mu);
    heals.asked.push_back(d);
  };
  Scrubber scrubber(*store, o);
  scrubber.start();
  ASSERT_TRUE(eventually([&] { return scrubber.stats().passes >= 1; }));
  auto st = scrubber.stats();
  EXPECT_EQ(st.failures, 1u);
  EXPECT_EQ(st.quarantined, 1);
  EXPECT_GE(st.bytes, 800'000u);  // the two good blobs at least
  EXPECT_EQ(heals.count(blobs[1]), 1u);
  EXPECT_EQ(store->stat(blobs[1])->quarantine, "scrub: chunk 1 hash mismatch");
  EXPECT_TRUE(store->contains(blobs[0]).value());
  EXPECT_TRUE(store->contains(blobs[2]).value());
  std::string metrics = scrubber.render_metrics();
  EXPECT_NE(metrics.find("blobsync_store_quarantined_blobs 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("blobsync_scrub_failures_total 1\n"), std::string::npos) << metrics;

  // A heal (any verified ingest) brings the gauge back to 0 while the
  // scrubber waits for its next pass.
  ASSERT_TRUE(store->put_bytes(contents[1], {}));
  EXPECT_TRUE(eventually([&] { return scrubber.stats().quarantined == 0; }, 5s));

  // Stops promptly although the next pass is an hour away.
  auto t0 = std::chrono::steady_clock::now();
  scrubber.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
}

TEST(Scrubber, KeepsToItsByteRateAndStopsMidBlob) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  auto rec = store->put_bytes(random_bytes(2u << 20, 20), {});
  ASSERT_TRUE(rec);
  {
    ScrubOptions o;
    o.rate = 4u << 20;  // 2 MiB: about half a second
    o.interval = 1h;
    Scrubber scrubber(*store, o);
    auto t0 = std::chrono::steady_clock::now();
    scrubber.start();
    ASSERT_TRUE(eventually([&] { return scrubber.stats().passes >= 1; }));
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_GE(took, 350ms);
    EXPECT_LT(took, 5s);
    EXPECT_EQ(scrubber.stats().bytes, 2u << 20);
  }
  ScrubOptions slow;
  slow.rate = 64u << 10;  // the blob would take 32 s
  Scrubber scrubber(*store, slow);
  scrubber.start();
  ASSERT_TRUE(eventually([&] { return scrubber.stats().bytes > 0; }));
  auto t0 = std::chrono::steady_clock::now();
  scrubber.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
  EXPECT_LT(scrubber.stats().bytes, 2u << 20);
  EXPECT_EQ(scrubber.stats().failures, 0u) << "a stop is not a failure";
  EXPECT_TRUE(store->contains(rec->hash).value());
}

TEST(Scrubber, ReleasesAQuarantineWhoseBytesCheckOut) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  auto rec = store->put_bytes(random_bytes(100'000, 30), {});
  ASSERT_TRUE(rec);
  ASSERT_TRUE(store->quarantine(rec->hash, "read error: EIO"));  // e.g. a transient fault seen by verify
  ScrubOptions o;
  o.rate = 1ull << 30;
  o.interval = 1h;
  Scrubber scrubber(*store, o);
  scrubber.start();
  ASSERT_TRUE(eventually([&] { return scrubber.stats().passes >= 1; }));
  EXPECT_EQ(scrubber.stats().released, 1u);
  EXPECT_TRUE(store->contains(rec->hash).value());
  EXPECT_TRUE(eventually([&] { return scrubber.stats().quarantined == 0; }, 3s));
}

// The cursor survives a restart: a pass resumes after the last blob done.
TEST(Scrubber, ResumesThePassFromItsStateFile) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  std::set<Digest> sorted;
  for (int i = 0; i < 3; ++i) {
    auto rec = store->put_bytes(random_bytes(50'000, 40 + static_cast<std::uint64_t>(i)), {});
    ASSERT_TRUE(rec);
    sorted.insert(rec->hash);
  }
  std::vector<Digest> order(sorted.begin(), sorted.end());
  flip(file_of(*store, order[0]), 0);
  flip(file_of(*store, order[2]), 0);
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  // Mid-pass, order[0] already done: only order[2] is left before the wrap.
  std::ofstream(tmp.path() / "scrub.state") << order[0].hex() << ' ' << now_ms << " 1\n";
  ScrubOptions o;
  o.rate = 1ull << 30;
  o.interval = 1h;  // the next pass is not due: order[0] stays unnoticed
  o.state_file = tmp.path() / "scrub.state";
  Scrubber scrubber(*store, o);
  scrubber.start();
  ASSERT_TRUE(eventually([&] { return scrubber.stats().passes >= 1; }));
  scrubber.stop();
  EXPECT_EQ(scrubber.stats().failures, 1u);
  EXPECT_TRUE(store->stat(order[0])->quarantine.empty());
  EXPECT_FALSE(store->stat(order[2])->quarantine.empty());
  std::string state;
  std::getline(std::ifstream(tmp.path() / "scrub.state"), state);
  EXPECT_TRUE(state.starts_with("- ")) << state;  // the pass ended: waiting for the next one
  EXPECT_TRUE(state.ends_with(" 0")) << state;
}

TEST(Scrubber, RateZeroOnlyKeepsTheGauge) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  auto rec = store->put_bytes(random_bytes(1000, 50), {});
  ASSERT_TRUE(rec);
  ScrubOptions o;
  o.rate = 0;
  Scrubber scrubber(*store, o);
  scrubber.start();
  ASSERT_TRUE(eventually([&] { return scrubber.stats().quarantined == 0; }, 3s));
  ASSERT_TRUE(store->quarantine(rec->hash, "verify: chunk 0 hash mismatch"));
  EXPECT_TRUE(eventually([&] { return scrubber.stats().quarantined == 1; }, 3s));
  EXPECT_EQ(scrubber.stats().bytes, 0u);
  EXPECT_EQ(scrubber.stats().passes, 0u);
}

}  // namespace
}  // namespace blobsync
