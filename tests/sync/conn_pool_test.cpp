// ConnPool (sync/conn_pool.h): blocks apart from the heap, slabs given back.
#include "sync/conn_pool.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace blobsync::sync {
namespace {

// A size no other test here uses, so the counts below are this test's alone.
constexpr std::size_t kSize = 1000;

TEST(ConnPool, BlocksAreAlignedDistinctAndUsable) {
  std::vector<void*> blocks;
  for (int i = 0; i < 500; ++i) {
    void* p = ConnPool::allocate(kSize);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % 16, 0u);
    std::memset(p, i & 0xff, kSize);  // whole block writable (ASan would see an overrun)
    blocks.push_back(p);
  }
  for (int i = 0; i < 500; ++i) EXPECT_EQ(static_cast<unsigned char*>(blocks[i])[kSize - 1], i & 0xff);
  std::sort(blocks.begin(), blocks.end());
  for (std::size_t i = 1; i < blocks.size(); ++i)
    EXPECT_GE(static_cast<char*>(blocks[i]) - static_cast<char*>(blocks[i - 1]), static_cast<std::ptrdiff_t>(kSize));
  for (void* p : blocks) ConnPool::deallocate(p, kSize);
}

TEST(ConnPool, EmptySlabsGoBackToTheKernel) {
  if (!ConnPool::kPooled) GTEST_SKIP() << "sanitizer build: blocks come from ::operator new";
  const auto start = ConnPool::stats();
  std::vector<void*> blocks;
  for (int i = 0; i < 1000; ++i) blocks.push_back(ConnPool::allocate(kSize));
  const auto full = ConnPool::stats();
  EXPECT_EQ(full.blocks, start.blocks + 1000);
  // 1000 blocks of 1008 bytes need at least 16 slabs of 64 KiB.
  EXPECT_GE(full.slabs, start.slabs + 15);
  // Every other block freed: no slab empties, none goes.
  for (std::size_t i = 0; i < blocks.size(); i += 2) ConnPool::deallocate(blocks[i], kSize);
  EXPECT_EQ(ConnPool::stats().slabs, full.slabs);
  // Freed blocks are reused before a new slab is mapped.
  for (std::size_t i = 0; i < blocks.size(); i += 2) blocks[i] = ConnPool::allocate(kSize);
  EXPECT_EQ(ConnPool::stats().slabs, full.slabs);
  for (void* p : blocks) ConnPool::deallocate(p, kSize);
  const auto end = ConnPool::stats();
  EXPECT_EQ(end.blocks, start.blocks);
  EXPECT_LE(end.slabs, start.slabs + 1);  // one spare kept for this size
}

TEST(ConnPool, LargeSizesAndArraysUseTheHeap) {
  const auto start = ConnPool::stats();
  void* big = ConnPool::allocate(ConnPool::kMaxBlock + 1);
  std::memset(big, 1, ConnPool::kMaxBlock + 1);
  EXPECT_EQ(ConnPool::stats().blocks, start.blocks);
  ConnPool::deallocate(big, ConnPool::kMaxBlock + 1);
  ConnAllocator<std::uint64_t> a;
  std::uint64_t* arr = a.allocate(100);
  arr[99] = 7;
  EXPECT_EQ(ConnPool::stats().blocks, start.blocks);
  a.deallocate(arr, 100);
}

TEST(ConnPool, AllocatorServesSharedPointersAndMaps) {
  struct Obj {
    char bytes[kSize - 32];
    int value;
  };
  auto p = std::allocate_shared<Obj>(ConnAllocator<Obj>{});
  p->value = 42;
  std::weak_ptr<Obj> w = p;
  EXPECT_EQ(w.lock()->value, 42);
  p.reset();
  EXPECT_TRUE(w.expired());

  std::unordered_map<int, int, std::hash<int>, std::equal_to<int>, ConnAllocator<std::pair<const int, int>>> m;
  for (int i = 0; i < 10000; ++i) m.emplace(i, i * 2);
  for (int i = 0; i < 10000; i += 3) m.erase(i);
  EXPECT_EQ(m.size(), 10000u - 3334);
  EXPECT_EQ(m.at(5), 10);
}

TEST(ConnPool, ThreadsAllocateAndFreeConcurrently) {
  const auto start = ConnPool::stats();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      std::vector<void*> mine;
      for (int round = 0; round < 50; ++round) {
        for (int i = 0; i < 100; ++i) {
          void* p = ConnPool::allocate(kSize);
          std::memset(p, t, kSize);
          mine.push_back(p);
        }
        // Blocks freed by another thread's slab neighbours: every other one, then the rest later.
        for (std::size_t i = 0; i < mine.size(); i += 2) ConnPool::deallocate(std::exchange(mine[i], nullptr), kSize);
        std::erase(mine, nullptr);
      }
      for (void* p : mine) {
        EXPECT_EQ(*static_cast<unsigned char*>(p), t);
        ConnPool::deallocate(p, kSize);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ConnPool::stats().blocks, start.blocks);
}

TEST(ConnPool, ScopeRoutesOperatorNewToThePool) {
  if (!ConnPool::kPooled) GTEST_SKIP() << "sanitizer build: no routing";
  auto* outside = new std::uint64_t[4];
  EXPECT_FALSE(ConnPool::owns(outside));
  std::shared_ptr<std::array<char, 2400>> state;  // as Beast's stream state
  std::unique_ptr<char[]> big;
  {
    ConnPool::Scope pooled;
    state = std::make_shared<std::array<char, 2400>>();
    big = std::make_unique<char[]>(ConnPool::kMaxBlock + 1);  // too large: the heap's
    {
      ConnPool::Scope nested;
      auto* inner = new int(3);
      EXPECT_TRUE(ConnPool::owns(inner));
      delete inner;
    }
    auto* still = new int(4);  // the outer scope still routes
    EXPECT_TRUE(ConnPool::owns(still));
    delete still;
  }
  EXPECT_TRUE(ConnPool::owns(state.get()));
  EXPECT_FALSE(ConnPool::owns(big.get()));
  auto* after = new int(5);
  EXPECT_FALSE(ConnPool::owns(after));
  // Freed from any thread, outside any scope, by plain delete.
  std::thread([&] { state.reset(); }).join();
  delete after;
  delete[] outside;
}

// Under an address-space limit (ulimit -v, a service's LimitAS=) the 64 GiB
// reservation is refused: the pool must fall back to the heap, not throw out
// of ::operator new. A death test runs in a fresh process, where the pool has
// not reserved its range yet.
// The child's body: 0 when every block came from the heap and worked.
int allocate_under_an_address_space_limit() {
  std::size_t pages = 0;
  std::ifstream("/proc/self/statm") >> pages;  // the address space in use, in pages
  const rlim_t limit = pages * static_cast<rlim_t>(sysconf(_SC_PAGESIZE)) + (rlim_t{1} << 30);
  const rlimit rl{limit, limit};
  if (setrlimit(RLIMIT_AS, &rl) != 0) return 3;
  {
    ConnPool::Scope pooled;
    auto* p = new std::array<char, 2400>();
    const bool pooled_block = ConnPool::owns(p);
    (*p)[2399] = 1;
    delete p;
    if (pooled_block) return 4;
  }
  void* q = ConnPool::allocate(kSize);
  if (!q || ConnPool::owns(q)) return 5;
  std::memset(q, 1, kSize);
  ConnPool::deallocate(q, kSize);
  return ConnPool::stats().slabs == 0 ? 0 : 6;
}

TEST(ConnPoolDeathTest, ARefusedReservationFallsBackToTheHeap) {
  if (!ConnPool::kPooled) GTEST_SKIP() << "sanitizer build: no reservation (and its shadow needs the address space)";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(std::_Exit(allocate_under_an_address_space_limit()), ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace blobsync::sync
