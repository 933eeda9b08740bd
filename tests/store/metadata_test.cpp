// SqliteDb migrations, SqliteMetadata semantics, MIME sniffing, and the disk
// backend on its own (enumeration, recovery, O_DIRECT path).
#include <gtest/gtest.h>

#include <fstream>
#include <atomic>
#include <thread>

#include "core/chunking.h"
#include "store/blob_store.h"
#include "store/disk_backend.h"
#include "store/env.h"
#include "store/mime_sniffer.h"
#include "sql/sqlite_db.h"
#include "store/sqlite_metadata.h"
#include "test_util.h"

namespace blobsync {
namespace {

using testing::random_bytes;
using testing::sha;
using testing::TempDir;

TEST(SqliteDb, MigrationsApplyOnceAndInOrder) {
  TempDir tmp;
  auto path = tmp.path() / "m.db";
  std::vector<std::string> steps = {"CREATE TABLE a(x INTEGER)", "ALTER TABLE a ADD COLUMN y TEXT"};
  {
    auto db = SqliteDb::open(path);
    ASSERT_TRUE(db) << db.error().to_string();
    ASSERT_TRUE((*db)->migrate("comp", steps));
    EXPECT_EQ(*(*db)->schema_version("comp"), 2);
    EXPECT_EQ(*(*db)->schema_version("other"), 0);
    ASSERT_TRUE((*db)->migrate("comp", steps));  // idempotent
    auto lock = (*db)->lock();
    ASSERT_TRUE((*db)->exec("INSERT INTO a(x, y) VALUES (1, 'one')"));
  }
  {
    auto db = SqliteDb::open(path);
    ASSERT_TRUE(db);
    steps.push_back("CREATE INDEX a_y ON a(y)");
    ASSERT_TRUE((*db)->migrate("comp", steps));
    EXPECT_EQ(*(*db)->schema_version("comp"), 3);
    // An older binary (fewer steps) refuses the newer schema.
    auto old = (*db)->migrate("comp", {steps[0]});
    ASSERT_FALSE(old);
    EXPECT_EQ(old.error().code, Errc::kCorruption);
    EXPECT_NE(old.error().message.find("newer"), std::string::npos);
  }
}

TEST(SqliteDb, FailedMigrationChangesNothing) {
  TempDir tmp;
  auto db = SqliteDb::open(tmp.path() / "m.db");
  ASSERT_TRUE(db);
  auto r = (*db)->migrate("c", {"CREATE TABLE t(x)", "THIS IS NOT SQL"});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("migration 2"), std::string::npos) << r.error().message;
  EXPECT_EQ(*(*db)->schema_version("c"), 0);
  auto lock = (*db)->lock();
  auto st = (*db)->prepare("SELECT count(*) FROM sqlite_schema WHERE name = 't'");
  ASSERT_TRUE(st);
  ASSERT_TRUE(*st->step());
  EXPECT_EQ(st->column_int64(0), 0);
}

BlobRecord record(std::size_t size, std::uint64_t seed, BlobState state = BlobState::kPermanent) {
  auto data = random_bytes(size, seed);
  BlobRecord r;
  r.hash = sha(data);
  r.size = size;
  r.mime_type = "application/octet-stream";
  r.chunk_count = chunk_count(size);
  for (std::uint64_t i = 0; i < r.chunk_count; ++i)
    r.chunk_hashes.push_back(sha(std::span(data).subspan(chunk_offset(i), chunk_length(i, size))));
  r.created_at_ms = 1000;
  r.state = state;
  return r;
}

TEST(SqliteMetadata, InsertGetListStatsDelete) {
  TempDir tmp;
  auto meta = SqliteMetadata::open(tmp.path() / "meta.db");
  ASSERT_TRUE(meta) << meta.error().to_string();
  auto a = record(600'000, 1);
  auto b = record(0, 2);
  EXPECT_TRUE(*(*meta)->insert_blob(a));
  EXPECT_FALSE(*(*meta)->insert_blob(a));
  EXPECT_TRUE(*(*meta)->insert_blob(b));
  auto got = (*meta)->get_blob(a.hash);
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->chunk_hashes, a.chunk_hashes);
  EXPECT_EQ((*got)->size, a.size);
  EXPECT_EQ((*got)->created_at_ms, 1000);
  auto stats = (*meta)->stats();
  EXPECT_EQ(stats->blob_count, 2u);
  EXPECT_EQ(stats->total_bytes, 600'000u);
  auto list = (*meta)->list_blobs(std::nullopt, 10);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_LT((*list)[0].hash, (*list)[1].hash);
  ASSERT_TRUE((*meta)->delete_blob(a.hash));
  ASSERT_TRUE((*meta)->delete_blob(a.hash));  // missing is fine
  EXPECT_FALSE(*(*meta)->get_blob(a.hash));
  EXPECT_EQ((*meta)->set_state(a.hash, BlobState::kTemporary).error().code, Errc::kNotFound);
}

TEST(SqliteMetadata, TemporaryRefreshAndPromotion) {
  TempDir tmp;
  auto meta = SqliteMetadata::open(tmp.path() / "meta.db");
  ASSERT_TRUE(meta);
  auto t = record(10, 3, BlobState::kTemporary);
  ASSERT_TRUE((*meta)->insert_blob(t));
  t.created_at_ms = 5000;
  EXPECT_FALSE(*(*meta)->insert_blob(t));
  EXPECT_EQ((**(*meta)->get_blob(t.hash)).created_at_ms, 5000);
  t.state = BlobState::kPermanent;
  EXPECT_FALSE(*(*meta)->insert_blob(t));
  EXPECT_EQ((**(*meta)->get_blob(t.hash)).state, BlobState::kPermanent);
  t.state = BlobState::kTemporary;
  EXPECT_FALSE(*(*meta)->insert_blob(t));
  EXPECT_EQ((**(*meta)->get_blob(t.hash)).state, BlobState::kPermanent);
}

TEST(SqliteMetadata, ManyThreadsReadAndWrite) {
  TempDir tmp;
  auto meta = SqliteMetadata::open(tmp.path() / "meta.db");
  ASSERT_TRUE(meta);
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 30; ++i) {
        auto r = record(100, static_cast<std::uint64_t>(t * 1000 + i));
        if (!(*meta)->insert_blob(r)) ++errors;
        auto g = (*meta)->get_blob(r.hash);
        if (!g || !*g) ++errors;
        if (!(*meta)->list_blobs(std::nullopt, 5)) ++errors;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ((*meta)->stats()->blob_count, 180u);
}

// insert_blob commits concurrent calls as a group: every caller still learns
// whether its own call created the row (exactly one per hash), and the
// temporary/permanent rule holds inside a group.
TEST(SqliteMetadata, GroupedInsertsReportEachCallersOwnResult) {
  TempDir tmp;
  auto meta = SqliteMetadata::open(tmp.path() / "meta.db");
  ASSERT_TRUE(meta);
  constexpr int kThreads = 12, kShared = 20, kOwn = 10;
  std::vector<BlobRecord> shared;
  for (int i = 0; i < kShared; ++i) shared.push_back(record(100 + i, 9000 + i, BlobState::kTemporary));
  std::vector<std::atomic<int>> firsts(kShared);
  std::atomic<int> errors{0}, own_firsts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < kShared; ++k) {
        int i = (k + t * 7) % kShared;  // each thread in its own order
        BlobRecord r = shared[i];
        if (t % 2) r.state = BlobState::kPermanent;
        auto got = (*meta)->insert_blob(r);
        if (!got) ++errors;
        else if (*got) ++firsts[i];
        if (k < kOwn) {
          auto own = (*meta)->insert_blob(record(50, static_cast<std::uint64_t>(t * 100 + k)));
          if (!own) ++errors;
          else if (*own) ++own_firsts;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  for (int i = 0; i < kShared; ++i) {
    EXPECT_EQ(firsts[i].load(), 1) << "shared blob " << i;
    auto row = (*meta)->get_blob(shared[i].hash);
    ASSERT_TRUE(row && *row);
    EXPECT_EQ((*row)->state, BlobState::kPermanent) << "a permanent insert promotes, whatever the order";
  }
  EXPECT_EQ(own_firsts.load(), kThreads * kOwn);
  EXPECT_EQ((*meta)->stats()->blob_count, static_cast<std::uint64_t>(kShared + kThreads * kOwn));
}

TEST(SqliteMetadata, OtherComponentsShareTheDatabase) {
  TempDir tmp;
  auto meta = SqliteMetadata::open(tmp.path() / "meta.db");
  ASSERT_TRUE(meta);
  ASSERT_TRUE((*meta)->db().migrate("http", {"CREATE TABLE refs(blob BLOB REFERENCES blobs(hash), who TEXT)"}));
  EXPECT_EQ(*(*meta)->db().schema_version("blobs"), 3);
  EXPECT_EQ(*(*meta)->db().schema_version("http"), 1);
}

TEST(MimeSniffer, SpecificGenericAndNormalised) {
  const unsigned char png[] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 'I', 'H', 'D', 'R',
                               0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89};
  auto p = sniff_mime(std::as_bytes(std::span(png)));
  EXPECT_EQ(p.mime, "image/png");
  EXPECT_TRUE(p.specific);
  auto pdf = sniff_mime(testing::as_bytes("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"));
  EXPECT_EQ(pdf.mime, "application/pdf");
  auto text = sniff_mime(testing::as_bytes("just some words\n"));
  EXPECT_EQ(text.mime, "text/plain");
  EXPECT_FALSE(text.specific);
  auto noise = sniff_mime(random_bytes(4096, 9));
  EXPECT_FALSE(noise.specific) << noise.mime;
  EXPECT_FALSE(sniff_mime({}).specific);

  EXPECT_EQ(normalize_mime("Image/PNG"), "image/png");
  EXPECT_EQ(normalize_mime(" text/plain ; charset=utf-8"), "text/plain");
  EXPECT_EQ(normalize_mime("application/vnd.api+json"), "application/vnd.api+json");
  EXPECT_EQ(normalize_mime(""), "");
  EXPECT_EQ(normalize_mime("image"), "");
  EXPECT_EQ(normalize_mime("/png"), "");
  EXPECT_EQ(normalize_mime("image/"), "");
  EXPECT_EQ(normalize_mime("text/html\r\nX-Evil: 1"), "");
  EXPECT_EQ(normalize_mime("a/b/c"), "");
}

TEST(MimeSniffer, ThreadsSniffConcurrently) {
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  const unsigned char gif[] = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i)
        if (sniff_mime(std::as_bytes(std::span(gif))).mime != "image/gif") ++wrong;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(DiskBackend, WriterCommitReadEnumerate) {
  TempDir tmp;
  auto b = DiskBackend::open(Env::posix(), tmp.path() / "blobs");
  ASSERT_TRUE(b) << b.error().to_string();
  for (int s = 0; s < 256; ++s)
    EXPECT_TRUE(std::filesystem::is_directory(tmp.path() / "blobs" / fmt::format("{:02x}", s)));
  std::vector<Digest> ds;
  for (int i = 0; i < 20; ++i) {
    auto data = random_bytes(static_cast<std::size_t>(i) * 1000 + 1, static_cast<std::uint64_t>(i));
    auto w = (*b)->create_writer();
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->append(data));
    ASSERT_TRUE((*w)->commit(sha(data)));
    ds.push_back(sha(data));
  }
  std::sort(ds.begin(), ds.end());
  auto all = (*b)->enumerate(std::nullopt, 100);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 20u);
  for (std::size_t i = 0; i < 20; ++i) EXPECT_EQ((*all)[i].digest, ds[i]);
  auto after = (*b)->enumerate(ds[9], 3);
  ASSERT_EQ(after->size(), 3u);
  EXPECT_EQ((*after)[0].digest, ds[10]);
  EXPECT_TRUE((*b)->enumerate(ds[19], 3)->empty());
  EXPECT_TRUE((*b)->enumerate(std::nullopt, 0)->empty());
  // Names that are not blobs are skipped.
  std::ofstream(tmp.path() / "blobs" / "00" / "README") << "x";
  std::ofstream(tmp.path() / "blobs" / "00" / std::string(64, 'A')) << "x";
  EXPECT_EQ((*b)->enumerate(std::nullopt, 100)->size(), 20u);
  ASSERT_TRUE((*b)->remove(ds[0]));
  ASSERT_TRUE((*b)->remove(ds[0]));  // removing a missing blob is fine
  EXPECT_EQ((*b)->stat(ds[0]).error().code, Errc::kNotFound);
  EXPECT_EQ((*b)->open(ds[0]).error().code, Errc::kNotFound);
}

TEST(DiskBackend, DirectIoPathRoundTrips) {
  TempDir tmp;
  DiskBackendOptions opt;
  opt.direct_io = true;
  opt.direct_io_after = 0;
  auto b = DiskBackend::open(Env::posix(), tmp.path() / "blobs", opt);
  ASSERT_TRUE(b);
  StoreOptions so;
  so.data_dir = tmp.path();
  so.backend = std::shared_ptr<BlobBackend>(std::move(*b));
  auto store = BlobStore::open(so);
  ASSERT_TRUE(store);
  for (std::size_t size : {std::size_t{0}, std::size_t{4096}, std::size_t{1} << 20, (std::size_t{3} << 20) + 5}) {
    auto data = random_bytes(size, size);
    auto rec = (*store)->put_bytes(data, {});
    ASSERT_TRUE(rec) << rec.error().to_string();
    std::vector<std::byte> back;
    ASSERT_TRUE((*store)->read_verified(rec->hash, [&](std::span<const std::byte> s) -> Result<> {
      back.insert(back.end(), s.begin(), s.end());
      return {};
    }));
    EXPECT_EQ(back, data);
  }
}

}  // namespace
}  // namespace blobsync
