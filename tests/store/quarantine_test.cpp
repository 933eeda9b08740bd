// Quarantine and scrub: a blob whose bytes failed a re-hash is served by no
// read path, a verified re-ingest heals it, verify and the scrubber
// quarantine what they find (store/blob_store.h, store/scrubber.h).
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
#include "test_util.h"

namespace blobsync {
namespace {

using namespace std::chrono_literals;
using testing::random_bytes;
using testing::sha;
using testing::TempDir;

using testing::open_store;

std::filesystem::path file_of(BlobStore& store, const Digest& d) {
  return dynamic_cast<DiskBackend&>(store.backend()).blob_path(d);
}

// Flips one bit at `at`, as a failing disk would.
void flip(const std::filesystem::path& path, std::uint64_t at) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<long>(at));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<long>(at));
  f.put(static_cast<char>(c ^ 0x01));
}

std::vector<std::byte> file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(raw.size());
  std::memcpy(out.data(), raw.data(), raw.size());
  return out;
}

Result<std::vector<std::byte>> read_all(BlobStore& store, const Digest& d) {
  std::vector<std::byte> out;
  auto r = store.read_verified(d, [&](std::span<const std::byte> b) -> Result<> {
    out.insert(out.end(), b.begin(), b.end());
    return {};
  });
  if (!r) return std::unexpected(r.error());
  return out;
}

template <typename F>
bool eventually(F cond, std::chrono::milliseconds within = 10s) {
  auto end = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return cond();
}

TEST(Quarantine, NoReadPathServesAQuarantinedBlob) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  auto data = random_bytes(600'000, 1);
  auto rec = store->put_bytes(data, {});
  ASSERT_TRUE(rec);
  auto gen = store->quarantine_generation();
  ASSERT_TRUE(store->quarantine(rec->hash, "chunk 1 hash mismatch"));
  EXPECT_GT(store->quarantine_generation(), gen);

  EXPECT_FALSE(store->contains(rec->hash).value());
  auto reader = store->open(rec->hash);
  ASSERT_FALSE(reader);
  EXPECT_EQ(reader.error().code, Errc::kCorruption);
  EXPECT_NE(reader.error().message.find("is quarantined: chunk 1 hash mismatch"), std::string::npos)
      << reader.error().message;
  bool sunk = false;
  auto r = store->read_verified(rec->hash, [&](auto) -> Result<> {
    sunk = true;
    return {};
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kCorruption);
  EXPECT_FALSE(sunk) << "no byte of a quarantined blob reaches a reader";

  // Operators still see it, with the reason.
  auto st = store->stat(rec->hash);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->quarantine, "chunk 1 hash mismatch");
  auto rows = store->list(std::nullopt, 10);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].quarantine, "chunk 1 hash mismatch");
  EXPECT_EQ(store->metadata().count_quarantined().value(), 1u);

  EXPECT_EQ(store->quarantine(rec->hash, "").error().code, Errc::kInvalidArgument);
  EXPECT_EQ(store->quarantine(sha(random_bytes(10, 2)), "x").error().code, Errc::kNotFound);

  ASSERT_TRUE(store->release_quarantine(rec->hash));
  EXPECT_TRUE(store->contains(rec->hash).value());
  EXPECT_EQ(read_all(*store, rec->hash).value(), data);
  EXPECT_EQ(store->metadata().count_quarantined().value(), 0u);
}

TEST(Quarantine, DeletingBlobIsAbsentToReaders) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  auto rec = store->put_bytes(random_bytes(1000, 3), {});
  ASSERT_TRUE(rec);
  ASSERT_TRUE(store->set_state(rec->hash, BlobState::kDeleting));
  EXPECT_FALSE(store->contains(rec->hash).value());
  EXPECT_EQ(store->open(rec->hash).error().code, Errc::kNotFound);
  EXPECT_EQ(read_all(*store, rec->hash).error().code, Errc::kNotFound);
}

// The heal: an ingest of the same hash writes the bytes afresh (no dedup
// against the bad copy) and lifts the quarantine; both ways in (with and
// without the expected hash, which decides up front whether to write).
TEST(Quarantine, VerifiedReingestReplacesBadBytesAndClears) {
  for (bool with_expected : {false, true}) {
    SCOPED_TRACE(with_expected ? "expected hash" : "no expected hash");
    TempDir tmp;
    auto store = open_store(tmp.path());
    auto data = random_bytes(700'000, 4);
    auto rec = store->put_bytes(data, {});
    ASSERT_TRUE(rec);
    auto path = file_of(*store, rec->hash);
    flip(path, 300'000);

    // Unnoticed, a re-put dedups against the bad copy (the size is right):
    // that is why the quarantine must come first.
    ASSERT_TRUE(store->quarantine(rec->hash, "chunk 1 hash mismatch"));

    // Wrong bytes under this hash change nothing.
    PutOptions wrong;
    wrong.expected = rec->hash;
    auto bad = store->put_bytes(random_bytes(700'000, 5), wrong);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, Errc::kCorruption);
    EXPECT_FALSE(store->stat(rec->hash)->quarantine.empty());

    PutOptions o;
    if (with_expected) o.expected = rec->hash;
    auto gen = store->quarantine_generation();
    auto healed = store->put_bytes(data, o);
    ASSERT_TRUE(healed) << healed.error().to_string();
    EXPECT_TRUE(healed->quarantine.empty());
    EXPECT_GT(store->quarantine_generation(), gen);
    EXPECT_TRUE(store->stat(rec->hash)->quarantine.empty());
    EXPECT_TRUE(store->contains(rec->hash).value());
    EXPECT_EQ(file_bytes(path), data);
    EXPECT_EQ(read_all(*store, rec->hash).value(), data);
    auto report = store->verify();
    ASSERT_TRUE(report);
    EXPECT_TRUE(report->problems.empty());
  }
}

TEST(Quarantine, VerifyQuarantinesFailuresAndReleasesRepairedBytes) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  auto good = store->put_bytes(random_bytes(5000, 6), {});
  auto data = random_bytes(300'000, 7);
  auto rec = store->put_bytes(data, {});
  ASSERT_TRUE(good && rec);
  auto path = file_of(*store, rec->hash);
  auto original = file_bytes(path);
  flip(path, 10);

  auto report = store->verify();
  ASSERT_TRUE(report);
  ASSERT_FALSE(report->problems.empty());
  for (const auto& p : report->problems) {
    EXPECT_EQ(p.hash, rec->hash);
    EXPECT_TRUE(p.quarantined);
  }
  EXPECT_EQ(store->stat(rec->hash)->quarantine, "chunk 0 hash mismatch");
  EXPECT_FALSE(store->contains(rec->hash).value());
  EXPECT_TRUE(store->contains(good->hash).value());

  // An operator restores the file: the next verify lifts the quarantine.
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(original.data()), static_cast<long>(original.size()));
  report = store->verify();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->problems.empty());
  ASSERT_EQ(report->released.size(), 1u);
  EXPECT_EQ(report->released[0], rec->hash);
  EXPECT_TRUE(store->contains(rec->hash).value());
}

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
