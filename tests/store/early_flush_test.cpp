// When DiskBackend's writer starts flushes before the commit: every
// `flush_every` bytes, every `slow_flush_every` bytes for a writer
// slower than `slow_writer_rate`, and when the last byte of a size_hint()
// is written with O_DIRECT (the final flush, which the commit then skips). The flushes are counted through the
// fault-injecting Env (fdatasync calls); the rates are chosen so that every
// writer is slow, or none is, whatever the machine's speed.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <thread>

#include "store/disk_backend.h"
#include "store/fault_injection_env.h"
#include "test_util.h"

namespace blobsync {
namespace {

using testing::random_bytes;
using testing::sha;
using testing::TempDir;

constexpr std::size_t kMiB = 1u << 20;

// A backend in `dir` on `env` and one writer of it (nullopt, and a test
// failure, if either cannot be made).
struct OpenWriter {
  std::unique_ptr<DiskBackend> backend;
  std::unique_ptr<BlobWriter> writer;
};
std::optional<OpenWriter> open_writer(Env* env, const std::filesystem::path& dir, const DiskBackendOptions& options) {
  auto backend = DiskBackend::open(env, dir, options);
  EXPECT_TRUE(backend) << backend.error().to_string();
  if (!backend) return std::nullopt;
  auto writer = (*backend)->create_writer(std::nullopt);
  EXPECT_TRUE(writer) << writer.error().to_string();
  if (!writer) return std::nullopt;
  return OpenWriter{std::move(*backend), std::move(*writer)};
}

// Writes `mib` MiB in 1 MiB appends and commits; returns how many fdatasync
// calls the blob cost (early flushes plus the commit's).
std::uint64_t fdatasyncs_for_one_blob(const DiskBackendOptions& options, std::size_t mib) {
  TempDir tmp;
  FaultInjectionEnv env(Env::posix());
  auto opened = open_writer(&env, tmp.path() / "blobs", options);
  if (!opened) return 0;
  auto& backend = opened->backend;
  auto& writer = opened->writer;
  auto data = random_bytes(mib * kMiB, mib);
  std::uint64_t before = env.count(EnvOp::kFdatasync);
  for (std::size_t i = 0; i < mib; ++i) {
    auto r = writer->append(std::span(data).subspan(i * kMiB, kMiB));
    EXPECT_TRUE(r) << r.error().to_string();
  }
  auto r = writer->commit(sha(data));
  EXPECT_TRUE(r) << r.error().to_string();
  EXPECT_TRUE(backend->stat(sha(data)));
  return env.count(EnvOp::kFdatasync) - before;
}

DiskBackendOptions only_slow_rule(std::uint64_t rate) {
  DiskBackendOptions o;
  o.flush_every = 0;
  o.slow_flush_every = 1 * kMiB;
  o.slow_writer_rate = rate;
  return o;
}

TEST(EarlyFlush, OnlyAtCommitWhenBothRulesAreOff) {
  DiskBackendOptions o;
  o.flush_every = 0;
  o.slow_flush_every = 0;
  EXPECT_EQ(fdatasyncs_for_one_blob(o, 8), 1u);
}

TEST(EarlyFlush, FastWriterDoesNotFlushEarly) {
  // No writer is slower than
  // 1 B/s (1 MiB in more than a million seconds).
  EXPECT_EQ(fdatasyncs_for_one_blob(only_slow_rule(1), 8), 1u);
}

TEST(EarlyFlush, SlowWriterFlushesEveryFewMiB) {
  // Every writer is slower than this.
  auto n = fdatasyncs_for_one_blob(only_slow_rule(std::numeric_limits<std::uint64_t>::max() / 2), 8);
  // One flush at a time (a check that finds one in flight skips it), so at
  // least one early flush and at most one per MiB, plus the commit's.
  EXPECT_GE(n, 2u);
  EXPECT_LE(n, 9u);
}

TEST(EarlyFlush, AnyWriterFlushesEveryFlushEvery) {
  DiskBackendOptions o;
  o.flush_every = 4 * kMiB;
  o.slow_flush_every = 0;
  // At 4 MiB, and at 8 MiB if the first one has finished by then.
  auto n = fdatasyncs_for_one_blob(o, 8);
  EXPECT_GE(n, 2u);
  EXPECT_LE(n, 3u);
}

// `n` MiB of random bytes at a 4 KiB-aligned address, so 1 MiB appends go
// through O_DIRECT (a std::vector's own data is not aligned that far).
struct AlignedBytes {
  std::vector<std::byte> storage;
  std::span<std::byte> bytes;
  explicit AlignedBytes(std::size_t mib) : storage(mib * kMiB + 4096) {
    auto at = reinterpret_cast<std::uintptr_t>(storage.data());
    bytes = std::span(storage).subspan((4096 - at % 4096) % 4096, mib * kMiB);
    auto r = random_bytes(mib * kMiB, 7 + mib);
    std::copy(r.begin(), r.end(), bytes.begin());
  }
};

// The final flush runs on the backend's flusher thread: waits (a minute at
// most) until `env` has counted `n` fdatasync calls.
bool saw_fdatasyncs(const FaultInjectionEnv& env, std::uint64_t n) {
  for (int i = 0; i < 6000 && env.count(EnvOp::kFdatasync) < n; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return env.count(EnvOp::kFdatasync) >= n;
}

// Appends `appends` MiB to a writer told `hint` bytes, waiting after
// `wait_after` MiB for the final flush; publishes, syncs, simulates a power
// cut and checks the blob survived whole. Returns the fdatasync calls.
std::uint64_t flushes_with_hint(std::uint64_t hint, std::size_t appends, std::size_t wait_after) {
  TempDir tmp;
  FaultInjectionEnv env(Env::posix());
  DiskBackendOptions o;
  o.flush_every = 0;
  o.slow_flush_every = 0;
  AlignedBytes data(appends);
  Digest d = sha(data.bytes);
  std::uint64_t flushes = 0;
  {
    auto opened = open_writer(&env, tmp.path() / "blobs", o);
    if (!opened) return 0;
    auto& writer = opened->writer;
    writer->size_hint(hint);
    std::uint64_t before = env.count(EnvOp::kFdatasync);
    for (std::size_t i = 0; i < appends; ++i) {
      auto r = writer->append(data.bytes.subspan(i * kMiB, kMiB));
      EXPECT_TRUE(r) << r.error().to_string();
      // The flush of the hinted size starts with its last byte, before the
      // blob is published (a put hashes meanwhile).
      if (i + 1 == wait_after) {
        EXPECT_TRUE(saw_fdatasyncs(env, before + 1)) << "no flush at the hinted size";
      }
    }
    EXPECT_TRUE(writer->publish(d, false));
    EXPECT_TRUE(writer->sync());
    flushes = env.count(EnvOp::kFdatasync) - before;
  }
  EXPECT_TRUE(env.power_loss());
  // What sync() returned for must survive the power cut: every byte.
  auto backend = DiskBackend::open(Env::posix(), tmp.path() / "blobs", o);
  EXPECT_TRUE(backend);
  if (!backend) return flushes;
  std::ifstream in((*backend)->blob_path(d), std::ios::binary);
  std::vector<char> got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(got.size(), data.bytes.size());
  EXPECT_TRUE(got.size() == data.bytes.size() && std::memcmp(got.data(), data.bytes.data(), got.size()) == 0);
  return flushes;
}

TEST(EarlyFlush, FinalFlushStartsWithTheLastHintedByteAndTheSyncSkipsItsOwn) {
  EXPECT_EQ(flushes_with_hint(2 * kMiB, 2, 2), 1u);
}

TEST(EarlyFlush, BytesPastAWrongHintAreFlushedBySync) {
  // The hint said 1 MiB, the blob has 2: the final flush covered only the
  // first, so sync() flushes again.
  EXPECT_EQ(flushes_with_hint(1 * kMiB, 2, 1), 2u);
}

TEST(EarlyFlush, BlobShorterThanItsHintIsFlushedBySync) {
  EXPECT_EQ(flushes_with_hint(3 * kMiB, 2, 0), 1u);
}

}  // namespace
}  // namespace blobsync
