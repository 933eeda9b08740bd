// The hot-blob cache behind BlobStore::stat_to_serve (store/hot_blobs.h): a
// hit reads no row and opens no file, and any commit to the metadata, by
// this process, another connection or another process, is seen by the next
// lookup (a quarantine, a removal, a heal), so no request is served from a
// row or a file that changed.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include "sql/sqlite_sql_db.h"
#include "store/blob_store.h"
#include "store/hot_blobs.h"
#include "store/sqlite_metadata.h"
#include "corruption_util.h"
#include "test_util.h"

namespace blobsync {
namespace {

using namespace blobsync::testing;

// Runs `fn` in a child process (a real second process on the database);
// true if it exited 0.
template <typename Fn>
bool in_child(Fn fn) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(fn() ? 0 : 1);
  int status = 0;
  if (pid < 0 || ::waitpid(pid, &status, 0) != pid) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::vector<std::byte> read_all(BlobReader& r) {
  std::vector<std::byte> out(r.remaining());
  std::size_t got = 0;
  while (got < out.size()) {
    auto n = r.read(std::span<std::byte>(out).subspan(got));
    if (!n || *n == 0) break;
    got += *n;
  }
  out.resize(got);
  return out;
}

TEST(SqliteChangeStamp, ChangesWithEveryCommitOfAnyConnectionOrProcess) {
  TempDir tmp;
  auto db = SqliteSqlDb::open(tmp.path() / "meta.db");
  ASSERT_TRUE(db) << db.error().to_string();
  ASSERT_TRUE((*db)->query("CREATE TABLE t(x INTEGER)"));
  auto s0 = (*db)->change_stamp();
  ASSERT_TRUE(s0);
  ASSERT_TRUE((*db)->read("SELECT count(*) FROM t"));
  EXPECT_EQ((*db)->change_stamp(), s0) << "a read commits nothing";

  auto other = SqliteSqlDb::open(tmp.path() / "meta.db");
  ASSERT_TRUE(other);
  ASSERT_TRUE((*other)->query("INSERT INTO t VALUES (1)"));
  auto s1 = (*db)->change_stamp();
  ASSERT_TRUE(s1);
  EXPECT_NE(*s1, *s0) << "another connection's commit";

  ASSERT_TRUE(in_child([&] {
    auto child = SqliteSqlDb::open(tmp.path() / "meta.db");
    return child && (*child)->query("INSERT INTO t VALUES (2)").has_value();
  }));
  auto s2 = (*db)->change_stamp();
  ASSERT_TRUE(s2);
  EXPECT_NE(*s2, *s1) << "another process's commit";

  // A checkpoint that restarts the WAL, then a commit: still a new stamp.
  ASSERT_TRUE((*db)->query("PRAGMA wal_checkpoint(TRUNCATE)"));
  ASSERT_TRUE((*other)->query("INSERT INTO t VALUES (3)"));
  auto s3 = (*db)->change_stamp();
  ASSERT_TRUE(s3);
  EXPECT_NE(*s3, *s2);
  EXPECT_NE(*s3, *s1);
  EXPECT_NE(*s3, *s0);

  // A view over a borrowed connection has no mapping: it cannot tell.
  EXPECT_FALSE(SqliteSqlDb::borrow((*db)->writer())->change_stamp());
}

TEST(HotBlobs, AHitIsTheSameEntryUntilSomethingCommits) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  auto data = random_bytes(16384, 1);
  auto rec = store->put_bytes(data, {});
  ASSERT_TRUE(rec);
  auto a = store->stat_to_serve(rec->hash);
  ASSERT_TRUE(a) << a.error().to_string();
  ASSERT_TRUE((*a)->file) << "a servable blob on disk is cached with its file";
  EXPECT_EQ((*a)->record.size, data.size());
  EXPECT_TRUE((*a)->record.chunk_hashes.empty());
  auto b = store->stat_to_serve(rec->hash);
  ASSERT_TRUE(b);
  EXPECT_EQ(a->get(), b->get()) << "nothing committed: the cached entry";

  ASSERT_TRUE(store->put_bytes(random_bytes(100, 2), {}));  // any commit
  auto c = store->stat_to_serve(rec->hash);
  ASSERT_TRUE(c);
  EXPECT_NE(a->get(), c->get()) << "read again after a commit";
  ASSERT_TRUE((*c)->file);
  auto reader = store->open_to_serve(**c, 0, kToEnd);
  ASSERT_TRUE(reader);
  EXPECT_EQ(read_all(**reader), data);
}

TEST(HotBlobs, AQuarantineByAnotherProcessIsSeenByTheNextLookup) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  auto rec = store->put_bytes(random_bytes(16384, 3), {});
  ASSERT_TRUE(rec);
  ASSERT_TRUE(store->stat_to_serve(rec->hash));
  ASSERT_TRUE(store->stat_to_serve(rec->hash));  // cached
  ASSERT_TRUE(in_child([&] {
    auto md = SqliteMetadata::open(tmp.path() / "meta.db");
    return md && (*md)->set_quarantine(rec->hash, "chunk 0 hash mismatch").has_value();
  }));
  auto after = store->stat_to_serve(rec->hash);
  ASSERT_TRUE(after);
  EXPECT_EQ((*after)->record.quarantine, "chunk 0 hash mismatch");
  EXPECT_FALSE((*after)->file) << "an unservable row is not cached";
}

TEST(HotBlobs, ARemovalByAnotherStoreIsNotFound) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  auto rec = store->put_bytes(random_bytes(16384, 4), {});
  ASSERT_TRUE(rec);
  ASSERT_TRUE(store->stat_to_serve(rec->hash));
  ASSERT_TRUE(in_child([&] {
    auto other = open_store(tmp.path());
    return other && other->remove(rec->hash).has_value();
  }));
  auto after = store->stat_to_serve(rec->hash);
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().code, Errc::kNotFound);
  // A state change (the sweeper's kDeleting) is seen too.
  auto rec2 = store->put_bytes(random_bytes(16384, 5), {});
  ASSERT_TRUE(rec2);
  ASSERT_TRUE(store->stat_to_serve(rec2->hash));
  ASSERT_TRUE(store->metadata().set_state(rec2->hash, BlobState::kDeleting));
  auto deleting = store->stat_to_serve(rec2->hash);
  ASSERT_FALSE(deleting);
  EXPECT_EQ(deleting.error().code, Errc::kNotFound);
}

// The row after a quarantine and a heal looks as it did, but the bytes are a
// new file: the cached descriptor (of the damaged file) must not be used.
TEST(HotBlobs, AHealedBlobIsServedFromItsNewFile) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  auto data = random_bytes(16384, 6);
  auto rec = store->put_bytes(data, {});
  ASSERT_TRUE(rec);
  ASSERT_TRUE(store->stat_to_serve(rec->hash));
  flip(file_of(*store, rec->hash), 100);
  auto report = store->verify();
  ASSERT_TRUE(report);
  ASSERT_FALSE(report->problems.empty());
  ASSERT_FALSE(store->stat(rec->hash)->quarantine.empty());
  ASSERT_TRUE(store->put_bytes(data, {}));  // the heal
  auto healed = store->stat_to_serve(rec->hash);
  ASSERT_TRUE(healed);
  EXPECT_TRUE((*healed)->record.quarantine.empty());
  auto reader = store->open_to_serve(**healed, 0, kToEnd);
  ASSERT_TRUE(reader);
  EXPECT_EQ(read_all(**reader), data);
}

TEST(HotBlobs, RangesShareOneFile) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  auto data = random_bytes(70'000, 7);
  auto rec = store->put_bytes(data, {});
  ASSERT_TRUE(rec);
  auto blob = store->stat_to_serve(rec->hash);
  ASSERT_TRUE(blob && (*blob)->file);
  auto r1 = store->open_to_serve(**blob, 10, 20);
  auto r2 = store->open_to_serve(**blob, 69'990, kToEnd);
  ASSERT_TRUE(r1 && r2);
  EXPECT_EQ((*r1)->native_fd(), (*r2)->native_fd());
  EXPECT_EQ((*r1)->native_offset(), 10u);
  EXPECT_EQ(read_all(**r1), std::vector<std::byte>(data.begin() + 10, data.begin() + 30));
  EXPECT_EQ(read_all(**r2), std::vector<std::byte>(data.begin() + 69'990, data.end()));
  auto past = store->open_to_serve(**blob, 70'001, 1);
  ASSERT_FALSE(past);
  EXPECT_EQ(past.error().code, Errc::kInvalidArgument);
}

TEST(HotBlobs, HoldsAtMostItsCapacity) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  HotBlobs hot(16);
  std::vector<Digest> hashes;
  for (int i = 0; i < 80; ++i) {
    auto rec = store->put_bytes(random_bytes(64, 100 + i), {});
    ASSERT_TRUE(rec);
    hashes.push_back(rec->hash);
  }
  for (auto& h : hashes) ASSERT_TRUE(hot.lookup(h, store->metadata(), store->backend()));
  EXPECT_LE(hot.size(), 16u);
  EXPECT_GT(hot.size(), 0u);
}

TEST(HotBlobs, TemporaryBlobsAreNotCached) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  PutOptions temporary;
  temporary.state = BlobState::kTemporary;
  auto rec = store->put_bytes(random_bytes(64, 9), temporary);
  ASSERT_TRUE(rec);
  auto blob = store->stat_to_serve(rec->hash);
  ASSERT_TRUE(blob);
  EXPECT_EQ((*blob)->record.state, BlobState::kTemporary);
  EXPECT_FALSE((*blob)->file);
}

}  // namespace
}  // namespace blobsync
