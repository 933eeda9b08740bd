// run_backup / run_restore (store/backup.h) and the manifest
// (store/backup_files.h) in process: a full round trip, a destination whose
// disk is full (FaultInjectionEnv: ENOSPC on every write) leaves no snapshot
// and no pin, pins of a crashed run are released and in no snapshot, a row
// stored or collected between pinning and the snapshot (on_step), and a
// malformed manifest is refused by line. The CLI and
// a live server under load: tests/cli/backup_command, backup_load.
#include <gtest/gtest.h>

#include <cctype>
#include <cerrno>
#include <fstream>

#include "store/backup.h"
#include "store/backup_files.h"
#include "store/blob_lifecycle.h"
#include "store/disk_backend.h"
#include "store/fault_injection_env.h"
#include "store/shared_store.h"
#include "sql/sqlite_db.h"
#include "test_util.h"

namespace blobsync {
namespace {

using testing::random_bytes;
using testing::TempDir;

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SharedStoreOptions o;
    o.data_dir = tmp_.path() / "data";
    auto s = open_shared_store(o);
    ASSERT_TRUE(s) << s.error().to_string();
    live_ = std::move(*s);
    auto l = BlobLifecycle::open(live_.db, live_.store->unfenced(), live_.fence);
    ASSERT_TRUE(l) << l.error().to_string();
    lifecycle_ = std::move(*l);
    for (int i = 0; i < 5; ++i) {
      PutOptions po;
      po.hold = "pin:cli";
      auto r = live_.store->put_bytes(random_bytes(3000 + i, i + 1), po);
      ASSERT_TRUE(r) << r.error().to_string();
      digests_.push_back(r->hash);
    }
  }

  BackupSource source() {
    BackupSource s;
    s.db = live_.db.get();
    s.metadata = &live_.store->metadata();
    s.lifecycle = lifecycle_.get();
    s.blobs = &live_.store->backend();
    s.data_dir = tmp_.path() / "data";
    return s;
  }

  std::vector<std::string> holds(const Digest& d) {
    auto h = lifecycle_->holds_of(d);
    EXPECT_TRUE(h);
    return h ? *h : std::vector<std::string>{};
  }

  TempDir tmp_{true};  // tmpfs where there is one: meta.db fsyncs a lot
  SharedStore live_;
  std::unique_ptr<BlobLifecycle> lifecycle_;
  std::vector<Digest> digests_;
};

TEST_F(BackupTest, RoundTripIsIncrementalAndRestores) {
  const auto dest = tmp_.path() / "backup";
  ASSERT_TRUE(make_private_dir(Env::posix(), dest / "snapshots"));
  auto snapshots = dir_snapshot_store(dest);
  auto blobs = DiskBackend::open(Env::posix(), dest / "blobs");
  ASSERT_TRUE(blobs);
  auto first = run_backup(source(), *snapshots, **blobs);
  ASSERT_TRUE(first) << first.error().to_string();
  EXPECT_EQ(first->progress.blobs, 5u);
  EXPECT_EQ(first->progress.copied, 5u);
  EXPECT_TRUE(first->failures.empty());
  EXPECT_TRUE(first->pin_warning.empty());
  for (const auto& d : digests_) EXPECT_EQ(holds(d), std::vector<std::string>{"pin:cli"});

  auto second = run_backup(source(), *snapshots, **blobs);
  ASSERT_TRUE(second) << second.error().to_string();
  EXPECT_EQ(second->progress.copied, 0u);
  EXPECT_EQ(second->progress.skipped, 5u);
  auto snaps = snapshots->list();
  ASSERT_TRUE(snaps);
  EXPECT_EQ(snaps->size(), 2u);

  auto restored = run_restore(*snapshots, **blobs, tmp_.path() / "restored");
  ASSERT_TRUE(restored) << restored.error().to_string();
  EXPECT_EQ(restored->id, snaps->back());
  EXPECT_EQ(restored->blobs, 5u);
  auto again = run_restore(*snapshots, **blobs, tmp_.path() / "restored");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::kAlreadyExists);
}

TEST_F(BackupTest, DiskFullAtTheDestinationLeavesNoSnapshotAndNoPin) {
  const auto dest = tmp_.path() / "full";
  ASSERT_TRUE(make_private_dir(Env::posix(), dest / "snapshots"));
  auto snapshots = dir_snapshot_store(dest);
  FaultInjectionEnv full(Env::posix());
  auto blobs = DiskBackend::open(&full, dest / "blobs");
  ASSERT_TRUE(blobs);
  full.fail_always(EnvOp::kWrite, ENOSPC);
  auto rep = run_backup(source(), *snapshots, **blobs);
  ASSERT_TRUE(rep) << rep.error().to_string();
  ASSERT_EQ(rep->failures.size(), 5u);
  EXPECT_EQ(rep->failures[0].error.code, Errc::kNoSpace) << rep->failures[0].error.to_string();
  auto snaps = snapshots->list();
  ASSERT_TRUE(snaps);
  EXPECT_TRUE(snaps->empty()) << "a backup that could not copy every blob is not complete";
  for (const auto& d : digests_) EXPECT_EQ(holds(d), std::vector<std::string>{"pin:cli"}) << "the run's pins are released";

  // Space again: the next run completes (and removes the partial snapshot).
  full.clear_faults();
  auto ok = run_backup(source(), *snapshots, **blobs);
  ASSERT_TRUE(ok) << ok.error().to_string();
  EXPECT_TRUE(ok->failures.empty());
  EXPECT_EQ(ok->removed_partials, 1u);
  EXPECT_EQ(ok->progress.copied, 5u);
}

TEST_F(BackupTest, StalePinsOfACrashedRunAreReleased) {
  ASSERT_TRUE(lifecycle_->hold("pin:backup-19990101T000000Z", digests_));
  const auto dest = tmp_.path() / "stale";
  ASSERT_TRUE(make_private_dir(Env::posix(), dest / "snapshots"));
  auto snapshots = dir_snapshot_store(dest);
  auto blobs = DiskBackend::open(Env::posix(), dest / "blobs");
  ASSERT_TRUE(blobs);
  auto rep = run_backup(source(), *snapshots, **blobs);
  ASSERT_TRUE(rep) << rep.error().to_string();
  EXPECT_EQ(rep->stale_pins, std::vector<std::string>{"pin:backup-19990101T000000Z"});
  EXPECT_EQ(rep->stale_pinned_blobs, 5u);
  for (const auto& d : digests_) EXPECT_EQ(holds(d), std::vector<std::string>{"pin:cli"});
  // Neither that pin nor the run's own is in the snapshot.
  auto snap = SqliteDb::open(dest / "snapshots" / rep->id / "meta.db");
  ASSERT_TRUE(snap);
  auto st = (*snap)->prepare("SELECT count(*) FROM blob_hold WHERE holder LIKE 'pin:backup-%'");
  ASSERT_TRUE(st);
  ASSERT_TRUE(*st->step());
  EXPECT_EQ(st->column_int64(0), 0);
}

TEST_F(BackupTest, RowsStoredOrCollectedBetweenPinningAndTheSnapshot) {
  const auto dest = tmp_.path() / "race";
  ASSERT_TRUE(make_private_dir(Env::posix(), dest / "snapshots"));
  auto snapshots = dir_snapshot_store(dest);
  auto blobs = DiskBackend::open(Env::posix(), dest / "blobs");
  ASSERT_TRUE(blobs);
  Digest late, gone;
  BackupOptions opt;
  opt.on_step = [&](std::string_view step) {
    if (step == "pinned") {
      // Two unheld uploads after the pins: the run holds neither yet.
      for (int i = 0; i < 2; ++i) {
        PutOptions po;
        po.state = BlobState::kTemporary;
        auto r = live_.store->put_bytes(random_bytes(2000 + i, 100 + i), po);
        ASSERT_TRUE(r) << r.error().to_string();
        (i == 0 ? late : gone) = r->hash;
      }
    } else if (step == "snapshot") {
      // GC takes one of them after the snapshot, before the run pins it.
      ASSERT_TRUE(live_.store->remove(gone));
    }
  };
  std::vector<std::string> late_holds_during_copy;
  opt.on_progress = [&](const BackupProgress& p) {
    if (p.done == 0) late_holds_during_copy = holds(late);
  };
  auto rep = run_backup(source(), *snapshots, **blobs, opt);
  ASSERT_TRUE(rep) << rep.error().to_string();
  EXPECT_EQ(late_holds_during_copy, std::vector<std::string>{"pin:backup-" + rep->id}) << "pinned before the copy";
  EXPECT_EQ(rep->collected_meanwhile, 1u);
  EXPECT_EQ(rep->progress.blobs, 6u) << "the five pinned and the one stored after, not the one collected";
  EXPECT_TRUE(rep->failures.empty());
  EXPECT_TRUE(rep->damaged.empty());
  EXPECT_TRUE(holds(late).empty()) << "the late one is pinned for the copy only";

  auto snap = SqliteDb::open(dest / "snapshots" / rep->id / "meta.db");
  ASSERT_TRUE(snap);
  auto count = [&](const std::string& sql) {
    auto st = (*snap)->prepare(sql);
    EXPECT_TRUE(st);
    EXPECT_TRUE(st && *st->step());
    return st ? st->column_int64(0) : -1;
  };
  EXPECT_EQ(count("SELECT count(*) FROM blobs"), 6);
  EXPECT_EQ(count("SELECT count(*) FROM blobs WHERE hex(hash) = '" + [&] {
              std::string h = gone.hex();
              for (auto& c : h) c = static_cast<char>(std::toupper(c));
              return h;
            }() + "'"),
            0);
  EXPECT_EQ(count("SELECT sum(blob_count) FROM blob_totals"), 6) << "the running totals follow the dropped row";
  EXPECT_EQ(count("SELECT sum(total_bytes) FROM blob_totals"), count("SELECT sum(size) FROM blobs"));
  auto restored = run_restore(*snapshots, **blobs, tmp_.path() / "race-restored");
  ASSERT_TRUE(restored) << restored.error().to_string();
  EXPECT_EQ(restored->blobs, 6u);
}

TEST(BackupManifest, RoundTripAndMalformedLines) {
  TempDir tmp;
  std::vector<BackendStat> blobs;
  for (int i = 0; i < 3; ++i) {
    BackendStat b;
    b.digest.bytes[0] = static_cast<std::uint8_t>(i + 1);
    b.size = 100u * static_cast<unsigned>(i);
    blobs.push_back(b);
  }
  ManifestHeader h{"20261207T041500Z", true, {"jwt.secret"}};
  const auto path = tmp.path() / "manifest";
  ASSERT_TRUE(write_manifest(Env::posix(), path, h, blobs));
  auto m = read_manifest(path);
  ASSERT_TRUE(m) << m.error().to_string();
  EXPECT_EQ(m->header.id, h.id);
  EXPECT_EQ(m->header.secrets, h.secrets);
  ASSERT_EQ(m->blobs.size(), 3u);
  EXPECT_EQ(m->blobs[2].digest, blobs[2].digest);
  EXPECT_EQ(m->bytes, 300u);

  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto refused = [&](const std::string& bad, const std::string& why) {
    std::ofstream(path, std::ios::trunc) << bad;
    auto r = read_manifest(path);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, Errc::kCorruption);
    EXPECT_NE(r.error().message.find(why), std::string::npos) << r.error().message;
  };
  refused(text.substr(0, text.size() - 4), "cut short");
  refused("not a manifest\n", "not a blobsync backup manifest");
  refused("blobsync-backup 1\nsecret ../../etc/passwd\nend\n", "bad secret name");
  refused("blobsync-backup 1\nblobs 1 5\nblob zz 5\nend\n", "blob <64 hex> <size>");
  refused("blobsync-backup 1\nblobs 2 0\nend\n", "blob count does not match");
}

}  // namespace
}  // namespace blobsync
