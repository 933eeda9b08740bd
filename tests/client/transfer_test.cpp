// The client's transfer state machines against a scripted holder: windowed
// flow control, verification of every chunk, resume after a corrupt holder.
#include <gtest/gtest.h>

#include <deque>
#include <filesystem>
#include <random>

#include "client/blob_transfer.h"
#include "client/partial_blob.h"
#include "client/streaming_download.h"
#include "core/chunking.h"
#include "core/sha256.h"
#include "store/blob_store.h"

namespace blobsync::client {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("blobsync-client-test-" + std::to_string(std::random_device{}()));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

std::vector<std::byte> random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::byte> out(n);
  for (auto& b : out) b = static_cast<std::byte>(rng());
  return out;
}

// A holder that answers a REQUEST from a BlobStore, honouring the window; it
// can be told to corrupt one chunk or to stop after some chunks.
struct ScriptedHolder {
  BlobStore& store;
  std::int64_t corrupt_index = -1;
  std::uint64_t stop_after = UINT64_MAX;
  std::uint64_t max_in_flight = 0;

  // Returns the messages the holder sends, given the client's REQUEST and
  // the client's CREDIT replies fed back through `client`.
  Result<> serve(DownloadSession& client, Frame request, std::vector<Frame>& client_out) {
    auto req_msg = protocol::decode_blob_message(request);
    if (!req_msg) return std::unexpected(req_msg.error());
    auto req = std::get<protocol::RequestMsg>(*req_msg);
    auto rec = store.stat(req.hash);
    if (!rec) return std::unexpected(client.on_message(protocol::ErrorMsg{req.req, protocol::BlobErrorCode::kNotFound, "no"},
                                                      client_out).error());
    std::vector<std::uint64_t> order;
    if (req.wanted.empty()) {
      for (std::uint64_t i = 0; i < rec->chunk_count; ++i) order.push_back(i);
    } else {
      for (auto r : req.wanted)
        for (auto i = r.first; i < r.first + r.count; ++i) order.push_back(i);
    }
    protocol::MetaMsg meta{req.req, rec->size, rec->mime_type, rec->chunk_count, {}};
    for (auto i : order) meta.chunk_hashes.push_back(rec->chunk_hashes[i]);
    auto st = client.on_message(meta, client_out);
    if (!st) return std::unexpected(st.error());
    std::uint64_t credit = req.window, in_flight = 0;
    for (std::size_t k = 0; k < order.size(); ++k) {
      if (k >= stop_after) return fail(Errc::kIOError, "holder went away");
      while (credit == 0) {
        // Collect credit from what the client sent.
        bool got = false;
        for (auto& f : client_out) {
          auto m = protocol::decode_blob_message(f);
          if (m && std::holds_alternative<protocol::CreditMsg>(*m)) {
            credit += std::get<protocol::CreditMsg>(*m).chunks;
            in_flight -= std::get<protocol::CreditMsg>(*m).chunks;
            got = true;
          }
        }
        client_out.clear();
        if (!got) return fail(Errc::kInternal, "client stopped returning credit");
      }
      std::uint64_t i = order[k];
      std::vector<std::uint8_t> data(chunk_length(i, rec->size));
      auto reader = store.open(rec->hash, chunk_offset(i), data.size());
      auto n = (*reader)->read({reinterpret_cast<std::byte*>(data.data()), data.size()});
      EXPECT_TRUE(n && *n == data.size());
      if (static_cast<std::int64_t>(i) == corrupt_index) data[data.size() / 2] ^= 0x01;
      --credit;
      max_in_flight = std::max(max_in_flight, ++in_flight);
      auto r = client.on_message(protocol::ChunkMsg{req.req, i, data}, client_out);
      if (!r) return std::unexpected(r.error());
    }
    auto done = client.on_message(protocol::DoneMsg{req.req, rec->hash}, client_out);
    if (!done) return std::unexpected(done.error());
    EXPECT_EQ(*done, TransferStatus::kDone);
    return {};
  }
};

class TransferTest : public ::testing::Test {
 protected:
  TempDir dir;
  std::unique_ptr<BlobStore> holder_store, client_store;
  void SetUp() override {
    StoreOptions a, b;
    a.data_dir = dir.path / "holder";
    b.data_dir = dir.path / "client";
    holder_store = std::move(*BlobStore::open(a));
    client_store = std::move(*BlobStore::open(b));
  }
};

TEST_F(TransferTest, DownloadsVerifiesAndRespectsTheWindow) {
  auto data = random_bytes(5 * kChunkSize + 123, 1);
  auto rec = holder_store->put_bytes(data, {});
  ASSERT_TRUE(rec);
  auto partial = PartialBlob::open(dir.path / "partial", rec->hash);
  ASSERT_TRUE(partial);
  DownloadSession session(1, *partial, /*window=*/2);
  ScriptedHolder holder{*holder_store};
  std::vector<Frame> out;
  auto r = holder.serve(session, session.request_frame(), out);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_LE(holder.max_in_flight, 2u);
  ASSERT_TRUE(partial->complete());
  PutOptions put;
  put.expected = rec->hash;
  auto stored = client_store->put_file(partial->data_path(), put);
  ASSERT_TRUE(stored) << stored.error().message;
  EXPECT_EQ(stored->size, data.size());
}

TEST_F(TransferTest, CorruptChunkIsRejectedAndTheNextHolderResumes) {
  auto data = random_bytes(6 * kChunkSize, 2);
  auto rec = holder_store->put_bytes(data, {});
  ASSERT_TRUE(rec);
  auto partial = PartialBlob::open(dir.path / "partial", rec->hash);
  ASSERT_TRUE(partial);
  {
    DownloadSession bad(1, *partial);
    ScriptedHolder liar{*holder_store, /*corrupt_index=*/3};
    std::vector<Frame> out;
    auto r = liar.serve(bad, bad.request_frame(), out);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::kCorruption);
  }
  EXPECT_EQ(partial->present_count(), 3u);  // chunks 0-2 were good and kept
  auto missing = partial->missing_ranges();
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0], (protocol::ChunkRange{3, 3}));
  DownloadSession good(3, *partial);
  auto request = protocol::decode_blob_message(good.request_frame());
  ASSERT_TRUE(request);
  EXPECT_EQ(std::get<protocol::RequestMsg>(*request).wanted, missing);  // asks only for what is missing
  ScriptedHolder honest{*holder_store};
  std::vector<Frame> out;
  ASSERT_TRUE(honest.serve(good, good.request_frame(), out));
  EXPECT_TRUE(partial->complete());
}

TEST_F(TransferTest, ResumesAcrossReopenOfThePartialFile) {
  auto data = random_bytes(4 * kChunkSize + 1, 3);
  auto rec = holder_store->put_bytes(data, {});
  {
    auto partial = PartialBlob::open(dir.path / "partial", rec->hash);
    DownloadSession s(1, *partial);
    ScriptedHolder flaky{*holder_store};
    flaky.stop_after = 2;
    std::vector<Frame> out;
    EXPECT_FALSE(flaky.serve(s, s.request_frame(), out));
  }  // the process "dies" here; the destructor checkpoints
  auto partial = PartialBlob::open(dir.path / "partial", rec->hash);
  ASSERT_TRUE(partial);
  EXPECT_EQ(partial->present_count(), 2u);
  DownloadSession s(1, *partial);
  ScriptedHolder holder{*holder_store};
  std::vector<Frame> out;
  ASSERT_TRUE(holder.serve(s, s.request_frame(), out));
  EXPECT_TRUE(partial->complete());
}

TEST_F(TransferTest, HolderThatContradictsEarlierChunkHashesIsRejected) {
  auto data = random_bytes(2 * kChunkSize, 4);
  auto rec = holder_store->put_bytes(data, {});
  auto partial = PartialBlob::open(dir.path / "partial", rec->hash);
  DownloadSession first(1, *partial);
  std::vector<Frame> out;
  (void)first.request_frame();
  protocol::MetaMsg meta{1, rec->size, rec->mime_type, rec->chunk_count, rec->chunk_hashes};
  ASSERT_TRUE(first.on_message(meta, out));
  DownloadSession second(3, *partial);
  (void)second.request_frame();
  meta.req = 3;
  meta.chunk_hashes[1].bytes[0] ^= 1;
  auto r = second.on_message(meta, out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kCorruption);
}

TEST_F(TransferTest, HolderErrorsBecomeClearErrors) {
  auto hash = Sha256::of("nope", 4);
  auto partial = PartialBlob::open(dir.path / "partial", hash);
  DownloadSession s(1, *partial);
  (void)s.request_frame();
  std::vector<Frame> out;
  auto r = s.on_message(protocol::ErrorMsg{1, protocol::BlobErrorCode::kNotFound, "not here"}, out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kNotFound);
  EXPECT_NE(r.error().message.find("NOT_FOUND"), std::string::npos);
}

// ---- StreamingDownload: chunks straight into the store's ingest.

TEST_F(TransferTest, StreamingDownloadStoresTheBlobInOnePass) {
  auto data = random_bytes(5 * kChunkSize + 77, 11);
  auto rec = holder_store->put_bytes(data, {});
  ASSERT_TRUE(rec);
  auto sink = StreamingDownload::open(*client_store, rec->hash, {.partial_dir = dir.path / "partial", .keep_partial = false});
  ASSERT_TRUE(sink);
  DownloadSession s(1, **sink, /*window=*/3);
  ScriptedHolder holder{*holder_store};
  std::vector<Frame> out;
  ASSERT_TRUE(holder.serve(s, s.request_frame(), out));
  ASSERT_TRUE((*sink)->complete());
  EXPECT_FALSE(*client_store->contains(rec->hash));  // nothing visible before finish()
  auto stored = (*sink)->finish();
  ASSERT_TRUE(stored) << stored.error().message;
  EXPECT_EQ(stored->size, data.size());
  EXPECT_TRUE(*client_store->contains(rec->hash));
  EXPECT_FALSE(fs::exists(dir.path / "partial" / (rec->hash.hex() + ".part")));  // no second copy written
}

TEST_F(TransferTest, StreamingDownloadRejectsACorruptChunkAndResumesFromTheNextHolder) {
  auto data = random_bytes(6 * kChunkSize, 12);
  auto rec = holder_store->put_bytes(data, {});
  auto sink = StreamingDownload::open(*client_store, rec->hash, {.partial_dir = dir.path / "partial", .keep_partial = false});
  ASSERT_TRUE(sink);
  {
    DownloadSession bad(1, **sink);
    ScriptedHolder liar{*holder_store, /*corrupt_index=*/3};
    std::vector<Frame> out;
    auto r = liar.serve(bad, bad.request_frame(), out);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::kCorruption);
  }
  EXPECT_EQ((*sink)->bytes_present(), 3 * kChunkSize);  // chunks 0-2 kept, the bad one not
  EXPECT_FALSE(*client_store->contains(rec->hash));
  auto missing = (*sink)->missing_ranges();
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0], (protocol::ChunkRange{3, 3}));
  DownloadSession good(3, **sink);
  ScriptedHolder honest{*holder_store};
  std::vector<Frame> out;
  ASSERT_TRUE(honest.serve(good, good.request_frame(), out));
  auto stored = (*sink)->finish();
  ASSERT_TRUE(stored) << stored.error().message;
  EXPECT_EQ(stored->hash, rec->hash);
}

// store_checks_chunks: no hashing on arrival; the store's ingest compares its
// own chunk hashes with the holder's at finish(). A corrupt chunk then fails
// finish() (nothing stored) and the download starts over with the next holder.
TEST_F(TransferTest, StreamingDownloadLeavingTheChunkCheckToTheStore) {
  auto data = random_bytes(6 * kChunkSize + 5, 16);
  auto rec = holder_store->put_bytes(data, {});
  ASSERT_TRUE(rec);
  StreamingOptions o{.partial_dir = dir.path / "partial", .keep_partial = false};
  o.store_checks_chunks = true;
  auto sink = StreamingDownload::open(*client_store, rec->hash, o);
  ASSERT_TRUE(sink);
  {
    DownloadSession bad(1, **sink);
    ScriptedHolder liar{*holder_store, /*corrupt_index=*/3};
    std::vector<Frame> out;
    ASSERT_TRUE(liar.serve(bad, bad.request_frame(), out));  // not caught on arrival
  }
  ASSERT_TRUE((*sink)->complete());
  auto stored = (*sink)->finish();
  ASSERT_FALSE(stored);
  EXPECT_EQ(stored.error().code, Errc::kCorruption);
  EXPECT_NE(stored.error().message.find("chunk 3"), std::string::npos) << stored.error().message;
  EXPECT_FALSE(*client_store->contains(rec->hash));
  EXPECT_FALSE((*sink)->complete());
  EXPECT_TRUE((*sink)->missing_ranges().empty());  // starts over: asks for everything
  EXPECT_EQ((*sink)->bytes_present(), 0u);

  DownloadSession good(3, **sink);
  ScriptedHolder honest{*holder_store};
  std::vector<Frame> out;
  ASSERT_TRUE(honest.serve(good, good.request_frame(), out));
  stored = (*sink)->finish();
  ASSERT_TRUE(stored) << stored.error().message;
  EXPECT_EQ(stored->hash, rec->hash);
  EXPECT_EQ(stored->chunk_hashes, rec->chunk_hashes);
  EXPECT_TRUE(*client_store->contains(rec->hash));
}

// With a partial the chunks are checked on arrival whatever store_checks_chunks
// says: the partial keeps only verified chunks.
TEST_F(TransferTest, StreamingDownloadWithAPartialChecksChunksOnArrival) {
  auto data = random_bytes(4 * kChunkSize, 17);
  auto rec = holder_store->put_bytes(data, {});
  ASSERT_TRUE(rec);
  StreamingOptions o{.partial_dir = dir.path / "partial", .keep_partial = true};
  o.store_checks_chunks = true;
  auto sink = StreamingDownload::open(*client_store, rec->hash, o);
  ASSERT_TRUE(sink);
  DownloadSession bad(1, **sink);
  ScriptedHolder liar{*holder_store, /*corrupt_index=*/2};
  std::vector<Frame> out;
  auto r = liar.serve(bad, bad.request_frame(), out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kCorruption);
  EXPECT_EQ((*sink)->bytes_present(), 2 * kChunkSize);
}

// holder_typed_it: a holder's application/octet-stream is taken as is (no
// second libmagic pass); any other type is sniffed again.
TEST_F(TransferTest, StreamingDownloadTakesAHoldersOctetStreamWithoutSniffing) {
  const unsigned char png_head[] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 'I', 'H', 'D', 'R',
                                    0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89};
  std::vector<std::byte> png(std::as_bytes(std::span(png_head)).begin(), std::as_bytes(std::span(png_head)).end());
  png.resize(kChunkSize + 10);
  auto rec = holder_store->put_bytes(png, {});
  ASSERT_TRUE(rec);
  ASSERT_EQ(rec->mime_type, "image/png");
  auto download = [&](const std::string& holder_type) -> Result<BlobRecord> {
    (void)client_store->remove(rec->hash);  // a fresh start each round (kNotFound on the first)
    StreamingOptions o{.partial_dir = dir.path / "partial", .keep_partial = false};
    o.holder_typed_it = true;
    auto sink = StreamingDownload::open(*client_store, rec->hash, o);
    if (!sink) return std::unexpected(sink.error());
    DownloadSession s(1, **sink);
    (void)s.request_frame();
    std::vector<Frame> out;
    protocol::MetaMsg meta{1, rec->size, holder_type, rec->chunk_count, rec->chunk_hashes};
    if (auto r = s.on_message(meta, out); !r) return std::unexpected(r.error());
    for (std::uint64_t i = 0; i < rec->chunk_count; ++i) {
      auto bytes = std::span(png).subspan(chunk_offset(i), chunk_length(i, png.size()));
      std::span<const std::uint8_t> chunk(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      if (auto r = s.on_message(protocol::ChunkMsg{1, i, chunk}, out); !r) return std::unexpected(r.error());
    }
    return (*sink)->finish();
  };
  auto generic = download("application/octet-stream");
  ASSERT_TRUE(generic) << generic.error().message;
  EXPECT_EQ(generic->mime_type, "application/octet-stream");  // not sniffed
  auto specific = download("text/plain");
  ASSERT_TRUE(specific) << specific.error().message;
  EXPECT_EQ(specific->mime_type, "image/png");  // sniffed as usual
}

TEST_F(TransferTest, StreamingDownloadResumesInAnotherProcessFromItsPartial) {
  auto data = random_bytes(4 * kChunkSize + 1, 13);
  auto rec = holder_store->put_bytes(data, {});
  StreamingOptions keep{.partial_dir = dir.path / "partial", .keep_partial = true, .checkpoint_every = 0};
  {
    auto sink = StreamingDownload::open(*client_store, rec->hash, keep);
    ASSERT_TRUE(sink);
    DownloadSession s(1, **sink);
    ScriptedHolder flaky{*holder_store};
    flaky.stop_after = 2;
    std::vector<Frame> out;
    EXPECT_FALSE(flaky.serve(s, s.request_frame(), out));
    ASSERT_TRUE((*sink)->checkpoint());
  }  // the process "dies" here
  EXPECT_FALSE(*client_store->contains(rec->hash));
  auto sink = StreamingDownload::open(*client_store, rec->hash, keep);
  ASSERT_TRUE(sink);
  EXPECT_EQ((*sink)->bytes_present(), 2 * kChunkSize);
  DownloadSession s(1, **sink);
  auto request = protocol::decode_blob_message(s.request_frame());
  ASSERT_TRUE(request);
  EXPECT_EQ(std::get<protocol::RequestMsg>(*request).wanted, (std::vector<protocol::ChunkRange>{{2, 3}}));
  ScriptedHolder holder{*holder_store};
  std::vector<Frame> out;
  ASSERT_TRUE(holder.serve(s, s.request_frame(), out));
  auto stored = (*sink)->finish();
  ASSERT_TRUE(stored) << stored.error().message;
  EXPECT_EQ(stored->size, data.size());
  EXPECT_FALSE(fs::exists(dir.path / "partial" / (rec->hash.hex() + ".meta")));
}

TEST_F(TransferTest, StreamingDownloadWithLyingChunkHashesStoresNothingAndStartsOver) {
  auto data = random_bytes(2 * kChunkSize, 14);
  auto rec = holder_store->put_bytes(data, {});
  auto other = random_bytes(2 * kChunkSize, 15);
  auto other_rec = holder_store->put_bytes(other, {});
  // A holder serving another blob's (self-consistent) chunks under rec's hash.
  auto sink = StreamingDownload::open(*client_store, rec->hash, {.partial_dir = dir.path / "partial"});
  ASSERT_TRUE(sink);
  DownloadSession s(1, **sink);
  (void)s.request_frame();
  std::vector<Frame> out;
  protocol::MetaMsg meta{1, other_rec->size, other_rec->mime_type, other_rec->chunk_count, other_rec->chunk_hashes};
  ASSERT_TRUE(s.on_message(meta, out));
  for (std::uint64_t i = 0; i < 2; ++i) {
    std::vector<std::uint8_t> chunk(reinterpret_cast<const std::uint8_t*>(other.data()) + i * kChunkSize,
                                    reinterpret_cast<const std::uint8_t*>(other.data()) + (i + 1) * kChunkSize);
    ASSERT_TRUE(s.on_message(protocol::ChunkMsg{1, i, chunk}, out));
  }
  ASSERT_TRUE((*sink)->complete());
  auto stored = (*sink)->finish();
  ASSERT_FALSE(stored);
  EXPECT_EQ(stored.error().code, Errc::kCorruption);
  EXPECT_FALSE(*client_store->contains(rec->hash));
  EXPECT_FALSE(*client_store->contains(other_rec->hash));
  EXPECT_FALSE((*sink)->complete());
  EXPECT_TRUE((*sink)->missing_ranges().empty());  // asks for everything again
}

TEST_F(TransferTest, UploadSendsOnlyWhatTheHolderWantsWithinCredit) {
  auto data = random_bytes(10 * kChunkSize, 5);
  auto stored = client_store->put_bytes(data, {});
  auto rec = client_store->stat(stored->hash);
  ASSERT_TRUE(rec);
  UploadSession up(1, *client_store, *rec, "x.bin");
  auto first = protocol::decode_blob_message(up.upload_frame());
  ASSERT_TRUE(first);
  EXPECT_EQ(std::get<protocol::UploadMsg>(*first).chunk_hashes.size(), 10u);
  std::vector<Frame> out;
  ASSERT_TRUE(up.on_message(protocol::WantMsg{1, 3, {{2, 2}, {7, 3}}}, out));
  ASSERT_EQ(out.size(), 3u);  // window of 3
  std::vector<std::uint64_t> indices;
  for (auto& f : out) {
    auto m = protocol::decode_blob_message(f);
    ASSERT_TRUE(m);
    auto& c = std::get<protocol::ChunkMsg>(*m);
    indices.push_back(c.index);
    EXPECT_EQ(Sha256::of(c.data.data(), c.data.size()), rec->chunk_hashes[c.index]);
  }
  EXPECT_EQ(indices, (std::vector<std::uint64_t>{2, 3, 7}));
  out.clear();
  ASSERT_TRUE(up.on_message(protocol::CreditMsg{1, 5}, out));
  EXPECT_EQ(out.size(), 2u);  // only 2 chunks were left
  auto done = up.on_message(protocol::DoneMsg{1, rec->hash}, out);
  ASSERT_TRUE(done);
  EXPECT_EQ(*done, TransferStatus::kDone);
}

}  // namespace
}  // namespace blobsync::client
