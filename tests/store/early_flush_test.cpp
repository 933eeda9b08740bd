// When DiskBackend's writer starts flushes before the commit: every
// `flush_every` bytes, and every `slow_flush_every` bytes for a writer
// slower than `slow_writer_rate`. The flushes are counted through the
// fault-injecting Env (fdatasync calls); the rates are chosen so that every
// writer is slow, or none is, whatever the machine's speed.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "store/disk_backend.h"
#include "store/fault_injection_env.h"
#include "test_util.h"

namespace blobsync {
namespace {

using testing::random_bytes;
using testing::sha;
using testing::TempDir;

constexpr std::size_t kMiB = 1u << 20;

// Writes `mib` MiB in 1 MiB appends and commits; returns how many fdatasync
// calls the blob cost (early flushes plus the commit's).
std::uint64_t fdatasyncs_for_one_blob(const DiskBackendOptions& options, std::size_t mib) {
  TempDir tmp;
  FaultInjectionEnv env(Env::posix());
  auto backend = DiskBackend::open(&env, tmp.path() / "blobs", options);
  EXPECT_TRUE(backend) << backend.error().to_string();
  if (!backend) return 0;
  auto writer = (*backend)->create_writer(std::nullopt);
  EXPECT_TRUE(writer) << writer.error().to_string();
  if (!writer) return 0;
  auto data = random_bytes(mib * kMiB, mib);
  std::uint64_t before = env.count(EnvOp::kFdatasync);
  for (std::size_t i = 0; i < mib; ++i) {
    auto r = (*writer)->append(std::span(data).subspan(i * kMiB, kMiB));
    EXPECT_TRUE(r) << r.error().to_string();
  }
  auto r = (*writer)->commit(sha(data));
  EXPECT_TRUE(r) << r.error().to_string();
  EXPECT_TRUE((*backend)->stat(sha(data)));
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

}  // namespace
}  // namespace blobsync
