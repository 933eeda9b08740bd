// HashPipeline's ring: it grows while the writer stalls (a disk busy
// flushing), never beyond kMaxSlots, within the process-wide budget, and
// gives the borrowed slots back; the bytes written and hashed stay exactly
// the bytes fed, in order, whether the pool or the producer hashes, for
// every size around the chunk and slot boundaries.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "core/sha256.h"
#include "store/backend.h"
#include "store/hash_pipeline.h"
#include "store/worker_pool.h"
#include "test_util.h"

namespace blobsync {
namespace {

using namespace std::chrono_literals;

// A writer whose appends wait at a gate (a disk stalled by a flush) and that
// hashes what it gets, in the order it gets it.
class GatedWriter final : public BlobWriter {
 public:
  Result<> append(std::span<const std::byte> data) override {
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [this] { return open_; });
    }
    hash_.update(data);
    return {};
  }
  Result<> commit(const Digest&) override { return {}; }
  void abort() override {}
  void open_gate() {
    std::lock_guard g(mu_);
    open_ = true;
    cv_.notify_all();
  }
  Digest digest() { return hash_.finish(); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  Sha256 hash_;
};

// Feeds `data` in 100 KiB pieces (not slot-aligned) on its own thread.
class Producer {
 public:
  Producer(HashPipeline& p, const std::vector<std::byte>& data)
      : thread_([this, &p, &data] {
          for (std::size_t at = 0; at < data.size(); at += 100 * 1024) {
            std::size_t n = std::min<std::size_t>(100 * 1024, data.size() - at);
            if (!p.write(std::span(data.data() + at, n))) return;
            fed_ += n;
          }
        }) {}
  ~Producer() { join(); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  std::size_t fed() const { return fed_; }

 private:
  std::atomic<std::size_t> fed_{0};
  std::thread thread_;
};

// Opens the gates when the test ends early (a failed ASSERT), so the
// producers and pool tasks can finish instead of hanging the test.
// Declare after the Producers: it must run before their destructors join.
struct OpenGatesAtExit {
  std::vector<GatedWriter*> writers;
  ~OpenGatesAtExit() {
    for (auto* w : writers) w->open_gate();
  }
};

bool eventually(const std::function<bool()>& cond) {
  for (auto deadline = std::chrono::steady_clock::now() + 20s; std::chrono::steady_clock::now() < deadline;) {
    if (cond()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return cond();
}

class HashPipelineModes : public ::testing::TestWithParam<bool> {};  // hash on the producer?

INSTANTIATE_TEST_SUITE_P(HashPipeline, HashPipelineModes, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& mode) { return mode.param ? "OnProducer" : "OnPool"; });

TEST_P(HashPipelineModes, GrowsWhileTheWriterStallsAndNoFurther) {
  WorkerPool pool(2);
  GatedWriter writer;
  auto data = testing::random_bytes(64u << 20, 1);
  HashPipeline p(&pool, &writer);
  if (GetParam()) p.hash_on_producer();
  Producer producer(p, data);
  OpenGatesAtExit guard{{&writer}};
  ASSERT_TRUE(eventually([&] { return p.ring_slots() == HashPipeline::kMaxSlots; }))
      << "ring stayed at " << p.ring_slots() << " slots";
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(p.ring_slots(), HashPipeline::kMaxSlots);
  // Stalled: the producer is stuck with the ring full (one slot may be filling).
  EXPECT_LE(producer.fed(), (HashPipeline::kMaxSlots + 1) * HashPipeline::kSlotSize);
  EXPECT_LT(producer.fed(), data.size());

  writer.open_gate();
  producer.join();
  ASSERT_EQ(producer.fed(), data.size());
  auto r = p.finish();
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->size, data.size());
  EXPECT_EQ(r->digest, Sha256::of(data));
  EXPECT_EQ(writer.digest(), r->digest) << "the writer got other bytes, or out of order";
  ASSERT_EQ(r->chunk_hashes.size(), data.size() / (256 * 1024));
  EXPECT_EQ(r->chunk_hashes[7], Sha256::of(std::span(data.data() + 7 * 256 * 1024, 256 * 1024)));
  EXPECT_EQ(p.ring_slots(), 0u) << "finish() frees the ring";
}

// Every size around the chunk (256 KiB) and slot (1 MiB) boundaries, fed in
// pieces of several sizes (slot-sized reads, chunk-sized, odd ones): the
// digest, every chunk hash and the bytes the writer got are exact.
TEST_P(HashPipelineModes, ExactAtEveryBoundary) {
  constexpr std::size_t K = 256 * 1024, M = 1u << 20;
  WorkerPool pool(2);
  auto data = testing::random_bytes(3 * M + K + 7, 3);
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, K - 1, K, K + 1, 2 * K, 3 * K + 5, M - 1, M, M + 1, M + K,
                           2 * M, 3 * M + K + 7}) {
    for (std::size_t piece : {M, K, std::size_t{100 * 1024 + 3}}) {
      SCOPED_TRACE("size " + std::to_string(size) + ", pieces of " + std::to_string(piece));
      GatedWriter writer;
      writer.open_gate();
      HashPipeline p(&pool, &writer);
      if (GetParam()) p.hash_on_producer();
      auto bytes = std::span(data).first(size);
      for (std::size_t at = 0; at < size; at += piece) {
        if (piece == K && at % 2 == 0) {
          // Zero-copy filling, as a read(2) into the ring does.
          auto space = p.acquire();
          ASSERT_TRUE(space);
          std::size_t n = std::min({piece, size - at, space->size()});
          std::memcpy(space->data(), bytes.data() + at, n);
          ASSERT_TRUE(p.filled(n));
          at -= piece - n;  // the loop adds `piece`
          continue;
        }
        ASSERT_TRUE(p.write(bytes.subspan(at, std::min(piece, size - at))));
      }
      auto r = p.finish();
      ASSERT_TRUE(r) << r.error().to_string();
      EXPECT_EQ(r->size, size);
      EXPECT_EQ(r->digest, Sha256::of(bytes));
      EXPECT_EQ(writer.digest(), r->digest) << "the writer got other bytes, or out of order";
      ASSERT_EQ(r->chunk_hashes.size(), (size + K - 1) / K);
      for (std::size_t i = 0; i < r->chunk_hashes.size(); ++i)
        EXPECT_EQ(r->chunk_hashes[i], Sha256::of(bytes.subspan(i * K, std::min(K, size - i * K)))) << "chunk " << i;
    }
  }
}

TEST(HashPipelineRing, StalledIngestsShareOneBudgetAndGiveItBack) {
  static_assert(2 * (HashPipeline::kMaxSlots - HashPipeline::kBaseSlots) > HashPipeline::kSharedSlots,
                "the test needs two grown rings to exhaust the budget");
  WorkerPool pool(4);
  auto data = testing::random_bytes(HashPipeline::kMaxSlots * HashPipeline::kSlotSize + (8u << 20), 2);
  {
    GatedWriter w1, w2;
    HashPipeline p1(&pool, &w1), p2(&pool, &w2);
    Producer f1(p1, data), f2(p2, data);
    OpenGatesAtExit guard{{&w1, &w2}};
    // Together they hold their own slots plus the whole shared budget.
    constexpr std::size_t kAll = 2 * HashPipeline::kBaseSlots + HashPipeline::kSharedSlots;
    ASSERT_TRUE(eventually([&] { return p1.ring_slots() + p2.ring_slots() == kAll; }))
        << p1.ring_slots() << " + " << p2.ring_slots() << " slots";
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(p1.ring_slots() + p2.ring_slots(), kAll);
    EXPECT_LE(p1.ring_slots(), HashPipeline::kMaxSlots);
    EXPECT_LE(p2.ring_slots(), HashPipeline::kMaxSlots);
    w1.open_gate();
    f1.join();
    ASSERT_TRUE(p1.finish());
    // p1's borrowed slots are back: p2 (still stalled) grows into them.
    ASSERT_TRUE(eventually([&] { return p2.ring_slots() == HashPipeline::kMaxSlots; })) << p2.ring_slots();
    // p2 is dropped without finish(): its slots must come back too.
    w2.open_gate();
    f2.join();
  }
  GatedWriter w3;
  HashPipeline p3(&pool, &w3);
  Producer f3(p3, data);
  OpenGatesAtExit guard{{&w3}};
  EXPECT_TRUE(eventually([&] { return p3.ring_slots() == HashPipeline::kMaxSlots; }))
      << "the budget was not returned: " << p3.ring_slots() << " slots";
  w3.open_gate();
  f3.join();
  auto r = p3.finish();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->digest, Sha256::of(data));
  EXPECT_EQ(w3.digest(), r->digest);
}

}  // namespace
}  // namespace blobsync
