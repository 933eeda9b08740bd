// Quarantine: a blob whose bytes failed a re-hash is served by no read path
// (store/blob_store.h, blob_check.h), a verified re-ingest heals it, and
// verify (store/blob_verify.h) quarantines what it finds and releases what
// checks out again. The scrubber that finds them in the background:
// scrubber_test.cpp.
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
#include "corruption_util.h"
#include "test_util.h"

namespace blobsync {
namespace {

using namespace std::chrono_literals;
using namespace blobsync::testing;  // test_util.h, corruption_util.h


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

}  // namespace
}  // namespace blobsync
