// BlobStore behaviour on the real file system: round trips, chunk hashes,
// dedup, concurrency, enumeration, rejected puts, MIME selection, verify.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <set>
#include <thread>

#include "core/blob_id.h"
#include "core/chunking.h"
#include "store/blob_store.h"
#include "store/disk_backend.h"
#include "test_util.h"

namespace blobsync {
namespace {

using testing::as_bytes;
using testing::random_bytes;
using testing::sha;
using testing::TempDir;

using testing::open_store;

std::vector<std::byte> read_all(BlobStore& store, const Digest& d) {
  std::vector<std::byte> out;
  auto r = store.read_verified(d, [&](std::span<const std::byte> b) -> Result<> {
    out.insert(out.end(), b.begin(), b.end());
    return {};
  });
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().to_string());
  return out;
}

std::vector<std::byte> read_range(BlobStore& store, const Digest& d, std::uint64_t off, std::uint64_t len) {
  auto reader = store.open(d, off, len);
  EXPECT_TRUE(reader.has_value()) << (reader ? "" : reader.error().to_string());
  std::vector<std::byte> out;
  if (!reader) return out;
  std::vector<std::byte> buf(100'000);
  for (;;) {
    auto n = (*reader)->read(buf);
    EXPECT_TRUE(n.has_value());
    if (!n || *n == 0) break;
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<long>(*n));
  }
  return out;
}

std::size_t blob_file_count(const std::filesystem::path& dir) {
  std::size_t n = 0;
  for (const auto& f : testing::files_under(dir / "blobs"))
    if (f.rfind("tmp/", 0) != 0) ++n;
  return n;
}

class RoundTrip : public ::testing::TestWithParam<std::size_t> {};

TEST_P(RoundTrip, PutBytesThenReadBack) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  ASSERT_TRUE(store);
  std::size_t size = GetParam();
  auto data = random_bytes(size, size + 1);
  auto rec = store->put_bytes(data, {});
  ASSERT_TRUE(rec) << rec.error().to_string();
  EXPECT_EQ(rec->hash, sha(data));
  EXPECT_EQ(rec->size, size);
  EXPECT_EQ(rec->chunk_count, chunk_count(size));
  ASSERT_EQ(rec->chunk_hashes.size(), rec->chunk_count);
  for (std::uint64_t i = 0; i < rec->chunk_count; ++i) {
    auto part = std::span(data).subspan(chunk_offset(i), chunk_length(i, size));
    EXPECT_EQ(rec->chunk_hashes[i], sha(part)) << "chunk " << i;
  }
  EXPECT_EQ(read_all(*store, rec->hash), data);
  EXPECT_EQ(read_range(*store, rec->hash, 0, kToEnd), data);

  auto st = store->stat(rec->hash);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->size, size);
  EXPECT_EQ(st->chunk_hashes, rec->chunk_hashes);
  EXPECT_EQ(blob_file_count(tmp.path()), 1u);
  EXPECT_TRUE(testing::files_under(tmp.path() / "blobs" / "tmp").size() <= 1u);  // only the session lock

  // The same content through put_file gives the same record and no new file.
  auto file = tmp.path() / "input.bin";
  std::ofstream(file, std::ios::binary).write(reinterpret_cast<const char*>(data.data()), static_cast<long>(size));
  auto rec2 = store->put_file(file, {});
  ASSERT_TRUE(rec2) << rec2.error().to_string();
  EXPECT_EQ(rec2->hash, rec->hash);
  EXPECT_EQ(rec2->chunk_hashes, rec->chunk_hashes);
  EXPECT_EQ(blob_file_count(tmp.path()), 1u);

  auto report = store->verify();
  ASSERT_TRUE(report);
  EXPECT_EQ(report->checked, 1u);
  EXPECT_TRUE(report->problems.empty());
}

INSTANTIATE_TEST_SUITE_P(Sizes, RoundTrip,
                         ::testing::Values(0, 1, 1000, kChunkSize - 1, kChunkSize, kChunkSize + 1, 1u << 20,
                                           (1u << 20) + 1, 3 * (1u << 20) + 12345, 9u << 20));

TEST(BlobStore, EmptyBlobHasGoldenIdentity) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  auto rec = store->put_bytes({}, {});
  ASSERT_TRUE(rec);
  EXPECT_EQ(to_hash_ref(rec->hash), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(rec->chunk_count, 0u);
  EXPECT_TRUE(rec->chunk_hashes.empty());
  EXPECT_TRUE(read_all(*store, rec->hash).empty());
}

TEST(BlobStore, StreamingIngestInOddPieces) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  auto data = random_bytes(5 * (1u << 20) + 777, 42);
  auto ingest = store->begin_put({});
  ASSERT_TRUE(ingest);
  std::size_t pos = 0, step = 1;
  while (pos < data.size()) {
    std::size_t n = std::min(step, data.size() - pos);
    ASSERT_TRUE((*ingest)->write(std::span(data).subspan(pos, n)));
    pos += n;
    step = step * 3 + 1;
    if (step > 3'000'000) step = 7;
  }
  EXPECT_EQ((*ingest)->bytes_written(), data.size());
  auto rec = (*ingest)->finish();
  ASSERT_TRUE(rec) << rec.error().to_string();
  EXPECT_EQ(rec->hash, sha(data));
  EXPECT_EQ(read_all(*store, rec->hash), data);
}

TEST(BlobStore, PutFilesReportsEachDurableFileInOrderAndStopsAtTheFirstFailure) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  std::vector<std::filesystem::path> paths;
  std::vector<std::vector<std::byte>> contents;
  for (std::size_t i = 0; i < 7; ++i) {
    contents.push_back(random_bytes(i == 3 ? (3u << 20) + 5 : 1000 * i, 40 + i));
    paths.push_back(tmp.path() / ("in" + std::to_string(i)));
    std::ofstream(paths.back(), std::ios::binary)
        .write(reinterpret_cast<const char*>(contents.back().data()), static_cast<std::streamsize>(contents.back().size()));
  }
  std::vector<std::size_t> order;
  auto r = store->put_files(paths, {}, [&](std::size_t i, const BlobRecord& rec) {
    order.push_back(i);
    EXPECT_EQ(rec.hash, sha(contents[i]));
    // Reported only once stored: readable and indexed right now.
    EXPECT_TRUE(*store->contains(rec.hash));
  });
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(order, (std::vector<std::size_t>{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_FALSE(store->verify()->problems.size());

  // A missing file: the ones before it are reported, the error names it.
  paths[4] = tmp.path() / "no-such-file";
  order.clear();
  r = store->put_files(paths, {}, [&](std::size_t i, const BlobRecord&) { order.push_back(i); });
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("no-such-file"), std::string::npos) << r.error().message;
  EXPECT_EQ(order, (std::vector<std::size_t>{0, 1, 2, 3}));
}

TEST(BlobStore, RangeReads) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  auto data = random_bytes(600'000, 7);
  auto rec = store->put_bytes(data, {});
  ASSERT_TRUE(rec);
  auto mid = read_range(*store, rec->hash, 1000, 300'000);
  EXPECT_EQ(mid, std::vector<std::byte>(data.begin() + 1000, data.begin() + 301'000));
  auto tail = read_range(*store, rec->hash, 599'990, kToEnd);
  EXPECT_EQ(tail.size(), 10u);
  EXPECT_TRUE(read_range(*store, rec->hash, 600'000, 5).empty());
  auto past = store->open(rec->hash, 600'001);
  ASSERT_FALSE(past);
  EXPECT_EQ(past.error().code, Errc::kInvalidArgument);
  auto r = store->open(rec->hash, 10);
  ASSERT_TRUE(r);
  EXPECT_GE((*r)->native_fd(), 0);
  EXPECT_EQ((*r)->native_offset(), 10u);
}

TEST(BlobStore, DedupKeepsOneFileAndOneRow) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  auto data = random_bytes(2'000'000, 3);
  auto a = store->put_bytes(data, {});
  auto b = store->put_bytes(data, {});
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->hash, b->hash);
  EXPECT_EQ(a->created_at_ms, b->created_at_ms);  // the stored row, not a new one
  EXPECT_EQ(blob_file_count(tmp.path()), 1u);
  auto stats = store->stats();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->blob_count, 1u);
  EXPECT_EQ(stats->total_bytes, data.size());
  // Known content with `expected` set: verified, nothing written.
  PutOptions o;
  o.expected = a->hash;
  auto c = store->put_bytes(data, o);
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(blob_file_count(tmp.path()), 1u);
  // ...and a lie about known content is still caught.
  auto other = random_bytes(2'000'000, 4);
  auto d = store->put_bytes(other, o);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, Errc::kCorruption);
}

TEST(BlobStore, TemporaryIsPromotedByPermanentPut) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  auto data = random_bytes(1000, 5);
  PutOptions temp;
  temp.state = BlobState::kTemporary;
  auto a = store->put_bytes(data, temp);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->state, BlobState::kTemporary);
  auto b = store->put_bytes(data, {});
  ASSERT_TRUE(b);
  EXPECT_EQ(b->state, BlobState::kPermanent);
  auto c = store->put_bytes(data, temp);  // never demotes
  ASSERT_TRUE(c);
  EXPECT_EQ(c->state, BlobState::kPermanent);
  ASSERT_TRUE(store->set_state(a->hash, BlobState::kTemporary));
  EXPECT_EQ(store->stat(a->hash)->state, BlobState::kTemporary);
}

TEST(BlobStore, ExpectedMismatchStoresNothing) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  auto data = random_bytes(3'000'000, 9);
  PutOptions o;
  o.expected = sha(as_bytes("something else"));
  auto r = store->put_bytes(data, o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kCorruption);
  EXPECT_EQ(blob_file_count(tmp.path()), 0u);
  EXPECT_EQ(store->stats()->blob_count, 0u);
  EXPECT_FALSE(*store->contains(sha(data)));
  EXPECT_EQ(testing::files_under(tmp.path() / "blobs" / "tmp").size(), 1u);  // the session lock only
}

TEST(BlobStore, AnnouncedSizeMustMatch) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  auto data = random_bytes(2'500'000, 13);
  PutOptions o;
  o.size = data.size();
  auto ok = store->put_bytes(data, o);
  ASSERT_TRUE(ok) << ok.error().to_string();
  EXPECT_EQ(ok->hash, sha(data));
  // Fewer or more bytes than announced: a clear error, nothing stored.
  auto other = random_bytes(2'500'000, 14);
  for (std::uint64_t announced : {other.size() + 1, other.size() - 1}) {
    o.size = announced;
    auto r = store->put_bytes(other, o);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument) << r.error().to_string();
    EXPECT_NE(r.error().message.find("announced"), std::string::npos) << r.error().message;
  }
  EXPECT_FALSE(*store->contains(sha(other)));
  EXPECT_EQ(blob_file_count(tmp.path()), 1u);
  EXPECT_EQ(store->stats()->blob_count, 1u);
  EXPECT_EQ(testing::files_under(tmp.path() / "blobs" / "tmp").size(), 1u);  // the session lock only
}

// The ingest's own chunk hashes are compared with expected_chunk_hashes:
// equal -> stored with them; one differs or the count differs -> kCorruption
// naming it, nothing stored, even when the whole-blob hash is right.
TEST(BlobStore, ExpectedChunkHashesAreComparedWithTheIngestsOwn) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  auto data = random_bytes(5 * kChunkSize + 123, 21);
  std::vector<Digest> chunks;
  for (std::uint64_t i = 0; i < chunk_count(data.size()); ++i)
    chunks.push_back(sha(std::span(data).subspan(chunk_offset(i), chunk_length(i, data.size()))));
  ASSERT_EQ(chunks.size(), 6u);

  PutOptions bad;
  bad.expected = sha(data);
  bad.expected_chunk_hashes = chunks;
  (*bad.expected_chunk_hashes)[4] = sha(as_bytes("not chunk 4"));
  auto r = store->put_bytes(data, bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kCorruption);
  EXPECT_NE(r.error().message.find("chunk 4"), std::string::npos) << r.error().message;
  EXPECT_FALSE(*store->contains(sha(data)));
  EXPECT_EQ(blob_file_count(tmp.path()), 0u);
  EXPECT_EQ(testing::files_under(tmp.path() / "blobs" / "tmp").size(), 1u);  // the session lock only

  PutOptions short_list;
  short_list.expected_chunk_hashes = std::vector<Digest>(chunks.begin(), chunks.end() - 1);
  r = store->put_bytes(data, short_list);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kCorruption);
  EXPECT_NE(r.error().message.find("6 chunks, 5 chunk hashes"), std::string::npos) << r.error().message;
  EXPECT_FALSE(*store->contains(sha(data)));

  PutOptions good;
  good.expected = sha(data);
  good.expected_chunk_hashes = chunks;
  auto ok = store->put_bytes(data, good);
  ASSERT_TRUE(ok) << ok.error().to_string();
  EXPECT_EQ(ok->chunk_hashes, chunks);
  EXPECT_EQ(read_all(*store, sha(data)), data);

  // Already stored: the content is still hashed and compared (dedup path).
  r = store->put_bytes(data, bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kCorruption);
  EXPECT_TRUE(*store->contains(sha(data)));  // the stored copy is untouched

  // The empty blob has no chunks: an empty list matches, one hash does not.
  PutOptions empty_ok;
  empty_ok.expected_chunk_hashes = std::vector<Digest>{};
  EXPECT_TRUE(store->put_bytes({}, empty_ok));
  PutOptions empty_bad;
  empty_bad.expected_chunk_hashes = std::vector<Digest>{chunks[0]};
  r = store->put_bytes({}, empty_bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kCorruption);
}

TEST(BlobStore, SizeLimitStoresNothing) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  PutOptions o;
  o.max_size = 1'000'000;
  auto exact = random_bytes(1'000'000, 10);
  ASSERT_TRUE(store->put_bytes(exact, o));
  auto big = random_bytes(1'000'001, 11);
  auto r = store->put_bytes(big, o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kTooLarge);
  // Streaming: the write that crosses the limit fails, the ingest is dead.
  auto ingest = store->begin_put(o);
  ASSERT_TRUE(ingest);
  ASSERT_TRUE((*ingest)->write(std::span(big).first(999'999)));
  auto w = (*ingest)->write(std::span(big).subspan(999'999, 2));
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, Errc::kTooLarge);
  EXPECT_FALSE((*ingest)->finish());
  ingest->reset();
  // put_file checks the size up front.
  auto file = tmp.path() / "big.bin";
  std::ofstream(file, std::ios::binary).write(reinterpret_cast<const char*>(big.data()), static_cast<long>(big.size()));
  auto f = store->put_file(file, o);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, Errc::kTooLarge);
  EXPECT_EQ(blob_file_count(tmp.path()), 1u);
  EXPECT_EQ(store->stats()->blob_count, 1u);
  EXPECT_EQ(testing::files_under(tmp.path() / "blobs" / "tmp").size(), 1u);
}

// put_file takes the file's size from stat only as a hint for its last
// read: a file whose stat size is wrong (procfs says 0 bytes) or that grows
// meanwhile is still read to its end, and the record is of what was read.
TEST(BlobStore, PutFileReadsPastAStatSizeThatIsWrong) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  const std::filesystem::path file = "/proc/cpuinfo";  // stat size 0, a few KiB of text
  auto slurp = [&] {
    std::ifstream in(file, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::byte> out(text.size());
    std::memcpy(out.data(), text.data(), text.size());
    return out;
  };
  auto before = slurp();
  ASSERT_GT(before.size(), 512u) << "want more than the 512-byte end probe";
  auto rec = store->put_file(file, {});
  ASSERT_TRUE(rec) << rec.error().to_string();
  if (slurp() != before) GTEST_SKIP() << file << " changed during the test";
  EXPECT_EQ(rec->size, before.size());
  EXPECT_EQ(rec->hash, sha(before));
  EXPECT_EQ(read_all(*store, rec->hash), before);
}

TEST(BlobStore, AbandonedIngestLeavesNothing) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  {
    auto ingest = store->begin_put({});
    ASSERT_TRUE(ingest);
    auto data = random_bytes(3'500'000, 12);
    ASSERT_TRUE((*ingest)->write(data));
  }
  EXPECT_EQ(blob_file_count(tmp.path()), 0u);
  EXPECT_EQ(testing::files_under(tmp.path() / "blobs" / "tmp").size(), 1u);
}

TEST(BlobStore, ConcurrentPutsOfSameAndDifferentContent) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  constexpr int kThreads = 8;
  constexpr int kPerThread = 6;
  auto shared = random_bytes(1'500'000, 100);
  std::vector<std::thread> threads;
  std::vector<std::vector<Digest>> got(kThreads);
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto data = (i % 2 == 0) ? shared : random_bytes(200'000 + static_cast<std::size_t>(t * 1000 + i), t * 100 + i);
        auto rec = store->put_bytes(data, {});
        if (!rec || rec->hash != sha(data)) {
          ++failures;
          continue;
        }
        got[static_cast<std::size_t>(t)].push_back(rec->hash);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  std::set<Digest> distinct;
  for (auto& v : got) distinct.insert(v.begin(), v.end());
  EXPECT_EQ(distinct.size(), 1u + kThreads * kPerThread / 2);
  EXPECT_EQ(blob_file_count(tmp.path()), distinct.size());
  EXPECT_EQ(store->stats()->blob_count, distinct.size());
  auto report = store->verify();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->problems.empty());
  EXPECT_EQ(report->checked, distinct.size());
}

TEST(BlobStore, ConcurrentPutAndRemoveNeverLeaveRowWithoutBytes) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  auto data = random_bytes(300'000, 77);
  Digest d = sha(data);
  std::atomic<bool> stop{false};
  std::thread remover([&] {
    while (!stop) (void)store->remove(d);  // kNotFound between puts is expected
  });
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(store->put_bytes(data, {}));
  stop = true;
  remover.join();
  auto report = store->verify();
  ASSERT_TRUE(report);
  EXPECT_TRUE(report->problems.empty()) << report->problems[0].what;
}

TEST(BlobStore, ListIsOrderedAndPages) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  std::vector<Digest> all;
  for (int i = 0; i < 50; ++i) {
    auto rec = store->put_bytes(random_bytes(static_cast<std::size_t>(i) * 37, static_cast<std::uint64_t>(i) + 1000), {});
    ASSERT_TRUE(rec);
    all.push_back(rec->hash);
  }
  std::sort(all.begin(), all.end());
  std::vector<Digest> paged;
  std::optional<Digest> cursor;
  for (;;) {
    auto page = store->list(cursor, 7);
    ASSERT_TRUE(page);
    if (page->empty()) break;
    EXPECT_LE(page->size(), 7u);
    for (auto& r : *page) {
      EXPECT_TRUE(r.chunk_hashes.empty());
      paged.push_back(r.hash);
    }
    cursor = page->back().hash;
  }
  EXPECT_EQ(paged, all);
  // The backend enumerates the same set in the same order.
  std::vector<Digest> files;
  cursor.reset();
  for (;;) {
    auto page = store->backend().enumerate(cursor, 5);
    ASSERT_TRUE(page);
    if (page->empty()) break;
    for (auto& f : *page) files.push_back(f.digest);
    cursor = page->back().digest;
  }
  EXPECT_EQ(files, all);
  // A cursor that is not itself stored.
  Digest mid = all[20];
  mid.bytes[31] ^= 1;
  auto after = store->list(mid, 1000);
  ASSERT_TRUE(after);
  for (auto& r : *after) EXPECT_GT(r.hash, mid);
  EXPECT_EQ(after->size(), static_cast<std::size_t>(std::count_if(all.begin(), all.end(), [&](auto& d) { return d > mid; })));
}

TEST(BlobStore, RemoveThenMissing) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  auto rec = store->put_bytes(as_bytes("hello"), {});
  ASSERT_TRUE(rec);
  ASSERT_TRUE(store->remove(rec->hash));
  EXPECT_EQ(blob_file_count(tmp.path()), 0u);
  auto again = store->remove(rec->hash);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::kNotFound);
  EXPECT_EQ(store->stat(rec->hash).error().code, Errc::kNotFound);
  EXPECT_EQ(store->open(rec->hash).error().code, Errc::kNotFound);
  EXPECT_FALSE(*store->contains(rec->hash));
}

// A PNG header: libmagic recognises it.
constexpr unsigned char kPng[] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 'I', 'H', 'D', 'R',
                                  0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89};

// The MIME type the store records for data put with this declared type.
std::string stored_mime(BlobStore& store, std::span<const std::byte> data, std::string declared, bool sniff = true) {
  PutOptions o;
  o.sniff = sniff;
  o.declared_mime = std::move(declared);
  auto rec = store.put_bytes(data, o);
  EXPECT_TRUE(rec) << rec.error().to_string();
  return rec ? rec->mime_type : "(put failed)";
}

TEST(BlobStore, MimeSniffedDeclaredOrDefault) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  // A PNG header is recognised whatever the client declares.
  EXPECT_EQ(stored_mime(*store, std::as_bytes(std::span(kPng)), "text/html"), "image/png");
  // Generic content takes the declared type, normalised.
  EXPECT_EQ(stored_mime(*store, as_bytes("# hello\nplain words\n"), "Text/Markdown; charset=UTF-8"), "text/markdown");
  // Nothing specific, nothing (valid) declared.
  EXPECT_EQ(stored_mime(*store, random_bytes(5000, 1), "not a type"), "application/octet-stream");
}

// PutOptions::sniff = false: no libmagic, the declared type (normalised) or
// octet-stream, even for content libmagic would recognise.
TEST(BlobStore, NoSniffTakesTheDeclaredTypeOrOctetStream) {
  TempDir tmp;
  auto store = open_store(tmp.path());
  const bool sniff = false;
  EXPECT_EQ(stored_mime(*store, std::as_bytes(std::span(kPng)), "application/octet-stream", sniff),
            "application/octet-stream");
  EXPECT_EQ(stored_mime(*store, as_bytes("# hello\nplain words\n"), "", sniff), "application/octet-stream");
  EXPECT_EQ(stored_mime(*store, as_bytes("# other\n"), "Text/Markdown; charset=UTF-8", sniff), "text/markdown");
}

TEST(BlobStore, ReopenKeepsEverything) {
  TempDir tmp;
  Digest d;
  {
    auto store = open_store(tmp.path());
    auto rec = store->put_bytes(random_bytes(700'000, 8), {});
    ASSERT_TRUE(rec);
    d = rec->hash;
  }
  auto store = open_store(tmp.path());
  auto st = store->stat(d);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->size, 700'000u);
  EXPECT_EQ(read_all(*store, d).size(), 700'000u);
}

TEST(BlobStore, TwoStoresOnOneDirectoryDoNotDeleteEachOthersWrites) {
  TempDir tmp;
  auto a = open_store(tmp.path());
  auto ingest = a->begin_put({});
  ASSERT_TRUE(ingest);
  auto data = random_bytes(2'500'000, 31);
  ASSERT_TRUE((*ingest)->write(std::span(data).first(1'500'000)));
  // A second process (here: a second store) opens the same directory and recovers.
  auto b = open_store(tmp.path());
  ASSERT_TRUE(b);
  ASSERT_TRUE((*ingest)->write(std::span(data).subspan(1'500'000)));
  auto rec = (*ingest)->finish();
  ASSERT_TRUE(rec) << rec.error().to_string();
  EXPECT_EQ(read_all(*b, rec->hash), data);
}

}  // namespace
}  // namespace blobsync
