// S3Backend against real S3 protocol servers: s3rver (npm), moto_server (when
// installed) and fake_s3.py, which also verifies every SigV4 signature that
// libcurl computed and every x-amz-content-sha256 against the body, so any
// signing misconfiguration fails these tests.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <thread>

#include "s3_test_util.h"
#include "store/blob_store.h"

namespace blobsync::s3::testing {
namespace {

class S3BackendTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    part_ = config_.part_size;
  }

  void TearDown() override {
    if (server_ && server_->kind() == ServerKind::kFake) {
      // Every request of the test was signed correctly and carried the true payload hash.
      std::string stats = server_->stats();
      EXPECT_NE(stats.find("\"signature_failures\": 0"), std::string::npos) << stats;
      if (!expect_payload_failure_) {
        EXPECT_NE(stats.find("\"payload_failures\": 0"), std::string::npos) << stats;
      }
    }
  }

  std::size_t part_ = 0;
  bool expect_payload_failure_ = false;
};

TEST_P(S3BackendTest, RoundTripSmallBlobs) {
  std::vector<std::size_t> sizes{0, 1, 1000, part_ - 1, part_};
  for (std::size_t size : sizes) {
    auto data = random_bytes(size, size);
    auto d = put_blob(*backend_, data);
    ASSERT_TRUE(d) << size << ": " << d.error().to_string();
    auto st = backend_->stat(*d);
    ASSERT_TRUE(st) << st.error().to_string();
    EXPECT_EQ(st->size, size);
    auto back = read_blob(*backend_, *d);
    ASSERT_TRUE(back) << back.error().to_string();
    EXPECT_TRUE(*back == data) << "size " << size;
  }
  auto keys = all_keys(backend_->client());
  EXPECT_EQ(keys.size(), sizes.size());
  EXPECT_FALSE(any_with_prefix(keys, "tmp/"));
}

TEST_P(S3BackendTest, RoundTripMultipartBlobs) {
  for (std::size_t size : {part_ + 1, 2 * part_, 5 * part_ + 123}) {
    auto data = random_bytes(size, size);
    auto d = put_blob(*backend_, data, 7777);
    ASSERT_TRUE(d) << size << ": " << d.error().to_string();
    auto back = read_blob(*backend_, *d);
    ASSERT_TRUE(back) << back.error().to_string();
    EXPECT_TRUE(*back == data) << "size " << size;
    EXPECT_EQ(backend_->stat(*d)->size, size);
  }
  auto keys = all_keys(backend_->client());
  EXPECT_EQ(keys.size(), 3u);
  EXPECT_FALSE(any_with_prefix(keys, "tmp/")) << "temporary objects were not deleted";
  EXPECT_TRUE(open_uploads(backend_->client()).empty());
}

TEST_P(S3BackendTest, OneAppendLargerThanSeveralParts) {
  auto data = random_bytes(3 * part_ + 5, 9);
  auto d = put_blob(*backend_, data, data.size());
  ASSERT_TRUE(d) << d.error().to_string();
  auto back = read_blob(*backend_, *d);
  ASSERT_TRUE(back);
  EXPECT_TRUE(*back == data);
}

TEST_P(S3BackendTest, RangedReads) {
  auto data = random_bytes(3 * part_ + 100, 42);
  auto d = put_blob(*backend_, data);
  ASSERT_TRUE(d) << d.error().to_string();
  struct Case {
    std::uint64_t offset, length;
  };
  for (Case c : std::vector<Case>{{0, 10}, {part_ - 5, 10}, {data.size() - 1, kToEnd}, {12345, 3 * part_},
                                  {0, kToEnd}, {data.size(), kToEnd}, {7, 0}}) {
    std::uint64_t n = std::min<std::uint64_t>(c.length, data.size() - c.offset);
    for (std::size_t buf : {std::size_t{1000}, std::size_t{1} << 20}) {
      auto got = read_blob(*backend_, *d, c.offset, c.length, buf);
      ASSERT_TRUE(got) << got.error().to_string();
      ASSERT_EQ(got->size(), n) << c.offset << "+" << c.length;
      EXPECT_TRUE(std::equal(got->begin(), got->end(), data.begin() + static_cast<std::ptrdiff_t>(c.offset)))
          << c.offset << "+" << c.length;
    }
  }
  auto past = backend_->open(*d, data.size() + 1);
  ASSERT_FALSE(past);
  EXPECT_EQ(past.error().code, Errc::kInvalidArgument);
}

TEST_P(S3BackendTest, StatOpenAndRemove) {
  Digest missing = Sha256::of("not stored", 10);
  EXPECT_EQ(backend_->stat(missing).error().code, Errc::kNotFound);
  EXPECT_EQ(backend_->open(missing).error().code, Errc::kNotFound);
  EXPECT_TRUE(backend_->remove(missing));  // absent is fine

  auto data = random_bytes(5000, 1);
  auto d = put_blob(*backend_, data);
  ASSERT_TRUE(d);
  ASSERT_TRUE(backend_->stat(*d));
  ASSERT_TRUE(backend_->remove(*d));
  EXPECT_EQ(backend_->stat(*d).error().code, Errc::kNotFound);
  EXPECT_TRUE(all_keys(backend_->client()).empty());
}

TEST_P(S3BackendTest, EnumerateInDigestOrderAcrossPages) {
  config_.list_page_size = 4;  // several ListObjectsV2 pages per call
  reopen();
  std::vector<BackendStat> expected;
  for (int i = 0; i < 23; ++i) {
    auto data = random_bytes(100 + static_cast<std::size_t>(i), 1000 + static_cast<std::uint64_t>(i));
    auto d = put_blob(*backend_, data);
    ASSERT_TRUE(d) << d.error().to_string();
    expected.push_back({*d, data.size()});
  }
  // A foreign object in the bucket is ignored.
  ASSERT_TRUE(backend_->client().execute(S3Request("PUT", "blobs/README").with_body({})));
  std::sort(expected.begin(), expected.end(), [](auto& a, auto& b) { return a.digest < b.digest; });

  auto all = backend_->enumerate(std::nullopt, 1000);
  ASSERT_TRUE(all) << all.error().to_string();
  ASSERT_EQ(all->size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ((*all)[i].digest, expected[i].digest);
    EXPECT_EQ((*all)[i].size, expected[i].size);
  }
  // Pages of 7 through `after`.
  std::vector<BackendStat> paged;
  std::optional<Digest> after;
  for (;;) {
    auto page = backend_->enumerate(after, 7);
    ASSERT_TRUE(page) << page.error().to_string();
    if (page->empty()) break;
    EXPECT_LE(page->size(), 7u);
    paged.insert(paged.end(), page->begin(), page->end());
    after = page->back().digest;
  }
  ASSERT_EQ(paged.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(paged[i].digest, expected[i].digest);
  EXPECT_TRUE(backend_->enumerate(expected.back().digest, 10)->empty());
  EXPECT_TRUE(backend_->enumerate(std::nullopt, 0)->empty());
}

TEST_P(S3BackendTest, DuplicatesAreStoredOnce) {
  for (std::size_t size : {std::size_t{777}, 2 * part_ + 3}) {
    auto data = random_bytes(size, 5);
    auto a = put_blob(*backend_, data);
    auto b = put_blob(*backend_, data, 3333);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(*a, *b);
    auto back = read_blob(*backend_, *a);
    ASSERT_TRUE(back);
    EXPECT_TRUE(*back == data);
  }
  auto keys = all_keys(backend_->client());
  EXPECT_EQ(keys.size(), 2u);
  EXPECT_FALSE(any_with_prefix(keys, "tmp/"));
}

TEST_P(S3BackendTest, AbortAndDropLeaveNothingVisible) {
  auto data = random_bytes(3 * part_ + 10, 3);
  {
    auto w = backend_->create_writer();
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->append(data));
    (*w)->abort();
    (*w)->abort();  // twice is fine
    EXPECT_FALSE((*w)->commit(Sha256::of(data)));
  }
  {
    auto w = backend_->create_writer();
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->append(data));
  }  // dropped without commit
  {
    auto w = backend_->create_writer();
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->append(std::span(data).first(100)));
    (*w)->abort();
  }
  EXPECT_TRUE(all_keys(backend_->client()).empty());
  if (server_->kind() != ServerKind::kS3rver) {  // s3rver can neither list nor abort uploads
    EXPECT_TRUE(open_uploads(backend_->client()).empty());
  }
  EXPECT_EQ(backend_->stat(Sha256::of(data)).error().code, Errc::kNotFound);
}

TEST_P(S3BackendTest, KnownDigestUploadsGoStraightToTheBlobKey) {
  for (std::size_t size : {part_ - 1, part_ + 1, 5 * part_ + 123}) {
    auto data = random_bytes(size, size + 1);
    auto d = put_blob(*backend_, data, 7777, /*known_digest=*/true);
    ASSERT_TRUE(d) << size << ": " << d.error().to_string();
    auto back = read_blob(*backend_, *d);
    ASSERT_TRUE(back) << back.error().to_string();
    EXPECT_TRUE(*back == data) << "size " << size;
    // Again: dedup against the stored copy, nothing rewritten or left open.
    ASSERT_TRUE(put_blob(*backend_, data, 7777, true));
  }
  auto keys = all_keys(backend_->client());
  EXPECT_EQ(keys.size(), 3u);
  EXPECT_FALSE(any_with_prefix(keys, "tmp/"));
  if (server_->kind() != ServerKind::kS3rver) {
    EXPECT_TRUE(open_uploads(backend_->client()).empty());
  }
}

TEST_P(S3BackendTest, KnownDigestUploadIsInvisibleUntilCommit) {
  auto data = random_bytes(3 * part_ + 10, 5);
  Digest d = Sha256::of(data);
  {
    auto w = backend_->create_writer(d);
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->append(data));
    // All parts are uploaded or in flight, under blobs/<hex>, yet nothing is visible.
    EXPECT_EQ(backend_->stat(d).error().code, Errc::kNotFound);
    EXPECT_TRUE(all_keys(backend_->client()).empty());
    (*w)->abort();
  }
  {
    auto w = backend_->create_writer(d);
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->append(data));
  }  // dropped without commit, as after a failed verification
  EXPECT_EQ(backend_->stat(d).error().code, Errc::kNotFound);
  {
    // A commit under another digest is a caller bug, refused without a visible object.
    auto w = backend_->create_writer(d);
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->append(data));
    EXPECT_FALSE((*w)->commit(Sha256::of("other", 5)));
  }
  EXPECT_TRUE(all_keys(backend_->client()).empty());
  if (server_->kind() != ServerKind::kS3rver) {
    EXPECT_TRUE(open_uploads(backend_->client()).empty());
  }
  auto w = backend_->create_writer(d);
  ASSERT_TRUE(w && (*w)->append(data));
  ASSERT_TRUE((*w)->commit(d));
  EXPECT_EQ(backend_->stat(d)->size, data.size());
}

// The number of requests of one method fake_s3 has seen (-1 elsewhere).
int fake_requests(TestServer& server, std::string_view method) {
  if (server.kind() != ServerKind::kFake) return -1;
  std::string s = server.stats();
  auto at = s.find("\"" + std::string(method) + "\": ");
  return at == std::string::npos ? 0 : std::atoi(s.c_str() + at + method.size() + 4);
}

TEST_P(S3BackendTest, SizedUploadsStreamInOnePut) {
  for (bool known : {true, false}) {
    for (std::size_t size : {part_ - 1, part_ + 1, 5 * part_ + 123}) {
      auto data = random_bytes(size, size + (known ? 1 : 2));
      auto d = put_blob_sized(*backend_, data, 7777, known);
      ASSERT_TRUE(d) << size << ": " << d.error().to_string();
      auto back = read_blob(*backend_, *d);
      ASSERT_TRUE(back) << back.error().to_string();
      EXPECT_TRUE(*back == data) << "size " << size << (known ? " known digest" : " unknown digest");
      // Again: dedup against the stored copy.
      ASSERT_TRUE(put_blob_sized(*backend_, data, 7777, known));
      ASSERT_TRUE(put_blob_sized(*backend_, data, 7777, !known));
    }
  }
  auto keys = all_keys(backend_->client());
  EXPECT_EQ(keys.size(), 6u);
  EXPECT_FALSE(any_with_prefix(keys, "tmp/"));
  // One PutObject per blob: no multipart upload was started.
  if (server_->kind() == ServerKind::kFake) {
    EXPECT_EQ(fake_requests(*server_, "POST"), 0);
  }
  if (server_->kind() != ServerKind::kS3rver) {
    EXPECT_TRUE(open_uploads(backend_->client()).empty());
  }
}

TEST_P(S3BackendTest, SizedKnownDigestUploadIsInvisibleUntilCommit) {
  auto data = random_bytes(3 * part_ + 10, 5);
  Digest d = Sha256::of(data);
  // An atomic PutObject (AWS, MinIO, fake_s3, moto) cut off before its last
  // byte stores nothing. s3rver writes bodies in place: there a short object
  // shows while the body streams and may stay after a cut (the writer
  // deletes it, racing with s3rver's own writes); never one of full size.
  auto expect_nothing = [&](const char* when) {
    if (server_->kind() != ServerKind::kS3rver) {
      EXPECT_TRUE(all_keys(backend_->client()).empty()) << when;
      EXPECT_EQ(backend_->stat(d).error().code, Errc::kNotFound) << when;
    } else {
      auto st = backend_->stat(d);
      EXPECT_TRUE(!st || st->size < data.size()) << when;
    }
  };
  {
    auto w = backend_->create_writer_sized(d, data.size());
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->append(data));
    // Every byte but the last is on its way to blobs/<hex>.
    expect_nothing("before commit");
    (*w)->abort();
  }
  expect_nothing("after abort");
  {
    auto w = backend_->create_writer_sized(d, data.size());
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->append(data));
  }  // dropped without commit, as after a failed verification
  expect_nothing("after drop");
  {
    auto w = backend_->create_writer_sized(d, data.size());
    ASSERT_TRUE(w);
    ASSERT_TRUE((*w)->append(data));
    EXPECT_FALSE((*w)->commit(Sha256::of("other", 5)));
  }
  expect_nothing("after a refused commit");
  auto w = backend_->create_writer_sized(d, data.size());
  ASSERT_TRUE(w && (*w)->append(data));
  ASSERT_TRUE((*w)->commit(d));
  EXPECT_EQ(backend_->stat(d)->size, data.size());
  auto back = read_blob(*backend_, d);
  ASSERT_TRUE(back);
  EXPECT_TRUE(*back == data);
}

TEST_P(S3BackendTest, SizedUploadOfAnotherSizeFailsAndStoresNothing) {
  auto data = random_bytes(3 * part_ + 10, 8);
  Digest d = Sha256::of(data);
  for (bool known : {true, false}) {
    std::optional<Digest> expected;
    if (known) expected = d;
    {
      // One byte more than announced.
      auto w = backend_->create_writer_sized(expected, data.size() - 1);
      ASSERT_TRUE(w);
      auto r = (*w)->append(std::span(data).first(part_));
      ASSERT_TRUE(r) << r.error().to_string();
      r = (*w)->append(std::span(data).subspan(part_));
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error().code, Errc::kInvalidArgument) << r.error().to_string();
      EXPECT_NE(r.error().message.find("announced"), std::string::npos) << r.error().message;
      EXPECT_FALSE((*w)->commit(d));
    }
    {
      // One byte fewer.
      auto w = backend_->create_writer_sized(expected, data.size() + 1);
      ASSERT_TRUE(w);
      ASSERT_TRUE((*w)->append(data));
      auto r = (*w)->commit(d);
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error().code, Errc::kInvalidArgument) << r.error().to_string();
    }
    // (s3rver writes bodies in place, so what a cut-off request sent may
    // show there, racing with the writer's clean-up; see above.)
    if (server_->kind() != ServerKind::kS3rver) {
      EXPECT_TRUE(all_keys(backend_->client()).empty()) << (known ? "known digest" : "unknown digest");
      EXPECT_EQ(backend_->stat(d).error().code, Errc::kNotFound);
    }
  }
}

TEST_P(S3BackendTest, StreamedPutIsSignedWithTheBlobDigest) {
  // Bytes that are not the announced digest (BlobStore never commits such a writer, see
  // KnownDigestUploadIsInvisibleUntilCommit): a server that checks payloads refuses them.
  if (server_->kind() != ServerKind::kFake) GTEST_SKIP() << "only fake_s3 checks x-amz-content-sha256";
  expect_payload_failure_ = true;
  auto data = random_bytes(3 * part_ + 10, 9);
  auto other = data;
  other[part_ + 5] ^= std::byte{1};
  Digest d = Sha256::of(data);
  auto w = backend_->create_writer_sized(d, other.size());
  ASSERT_TRUE(w && (*w)->append(other));
  auto r = (*w)->commit(d);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kCorruption) << r.error().to_string();
  EXPECT_NE(r.error().message.find("XAmzContentSHA256Mismatch"), std::string::npos) << r.error().message;
  EXPECT_TRUE(all_keys(backend_->client()).empty());
}

// BlobStore on S3 with announced sizes (PUT /blobs/<hash> and uploadBlob with
// a Content-Length): stored through the streamed PutObject, and a body that
// does not hash to the announced digest never becomes a blob.
TEST_P(S3BackendTest, BlobStoreIngestWithAnnouncedSize) {
  auto dir = std::filesystem::temp_directory_path() /
             ("blobsync-s3-store-" + std::to_string(::getpid()) + "-" + kind_name(GetParam()));
  std::filesystem::remove_all(dir);
  std::shared_ptr<BlobBackend> backend = std::move(backend_);
  {
    StoreOptions so;
    so.data_dir = dir;
    so.backend = backend;
    auto store = BlobStore::open(so);
    ASSERT_TRUE(store) << store.error().to_string();
    auto data = random_bytes(5 * part_ + 77, 41);
    Digest d = Sha256::of(data);
    PutOptions o;
    o.expected = d;
    o.size = data.size();
    auto known = (*store)->put_bytes(data, o);
    ASSERT_TRUE(known) << known.error().to_string();
    EXPECT_EQ(known->hash, d);
    auto other = random_bytes(4 * part_ + 5, 42);
    o = {};
    o.size = other.size();
    auto unknown = (*store)->put_bytes(other, o);
    ASSERT_TRUE(unknown) << unknown.error().to_string();
    for (const Digest& h : {d, unknown->hash}) {
      std::uint64_t got = 0;
      auto r = (*store)->read_verified(h, [&](std::span<const std::byte> b) -> Result<> {
        got += b.size();
        return {};
      });
      ASSERT_TRUE(r) << r.error().to_string();
    }

    // Bytes that do not hash to the announced digest: refused before the last byte went out.
    auto forged = random_bytes(data.size(), 43);
    Digest claimed = Sha256::of(random_bytes(data.size(), 44));
    o = {};
    o.expected = claimed;
    o.size = forged.size();
    auto bad = (*store)->put_bytes(forged, o);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, Errc::kCorruption) << bad.error().to_string();
    EXPECT_FALSE(*(*store)->contains(claimed));
    if (server_->kind() != ServerKind::kS3rver) {  // s3rver writes in place (see above)
      EXPECT_EQ(backend->stat(claimed).error().code, Errc::kNotFound);
      auto keys = all_keys(static_cast<S3Backend&>(*backend).client());
      EXPECT_EQ(keys.size(), 2u);
      EXPECT_FALSE(any_with_prefix(keys, "tmp/"));
    } else {
      auto st = backend->stat(claimed);
      EXPECT_TRUE(!st || st->size < forged.size());
    }
  }
  std::filesystem::remove_all(dir);
}

TEST_P(S3BackendTest, RecoverAbortsStaleDirectUploads) {
  if (server_->kind() == ServerKind::kS3rver) GTEST_SKIP() << "s3rver can neither list nor abort uploads";
  auto data = random_bytes(3 * part_, 6);
  Digest d = Sha256::of(data);
  {
    auto w = backend_->create_writer(d);
    ASSERT_TRUE(w && (*w)->append(data));
    // A crash mid-upload leaves one like this (the writer itself aborts its own).
    auto created = backend_->client().execute(S3Request("POST", "blobs/" + d.hex(), {{"uploads", ""}}));
    ASSERT_TRUE(created && created->ok());
  }
  ASSERT_FALSE(open_uploads(backend_->client()).empty());
  config_.tmp_grace_s = 0;
  reopen();
  ASSERT_TRUE(backend_->recover());
  EXPECT_TRUE(open_uploads(backend_->client()).empty());
  EXPECT_TRUE(all_keys(backend_->client()).empty());
}

TEST_P(S3BackendTest, RecoverRemovesLeftoversOfCrashedWrites) {
  S3Client& c = backend_->client();
  // A crash after CompleteMultipartUpload, before the copy: a tmp/ object.
  ASSERT_TRUE(c.execute(S3Request("PUT", "tmp/0123456789abcdef0123456789abcdef").with_body({})));
  // A crash in the middle of a multipart upload.
  auto created = c.execute(S3Request("POST", "tmp/fedcba9876543210fedcba9876543210", {{"uploads", ""}}));
  ASSERT_TRUE(created && created->ok());
  std::string id = xml_text(created->body, "UploadId").value_or("");
  auto part = random_bytes(2000, 1);
  ASSERT_TRUE(c.execute(S3Request("PUT", "tmp/fedcba9876543210fedcba9876543210",
                                  {{"partNumber", "1"}, {"uploadId", id}})
                            .with_body(part)));
  auto kept = put_blob(*backend_, random_bytes(3000, 2));
  ASSERT_TRUE(kept);

  // Within the grace period nothing is touched (another server may be writing).
  config_.tmp_grace_s = 3600;
  reopen();
  ASSERT_TRUE(backend_->recover());
  EXPECT_TRUE(any_with_prefix(all_keys(backend_->client()), "tmp/"));

  config_.tmp_grace_s = 0;
  reopen();
  auto r = backend_->recover();
  ASSERT_TRUE(r) << r.error().to_string();
  auto keys = all_keys(backend_->client());
  EXPECT_FALSE(any_with_prefix(keys, "tmp/"));
  EXPECT_EQ(keys.size(), 1u);
  EXPECT_TRUE(open_uploads(backend_->client()).empty());
  EXPECT_TRUE(backend_->stat(*kept));
}

TEST_P(S3BackendTest, ConcurrentWritersAndReaders) {
  std::vector<std::thread> threads;
  std::vector<std::string> failures(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 3; ++i) {
        std::size_t size = (i == 2 ? 2 * part_ + 17 : 1000 * static_cast<std::size_t>(i + 1)) + static_cast<std::size_t>(t);
        auto data = random_bytes(size, static_cast<std::uint64_t>(t * 10 + i));
        auto d = put_blob(*backend_, data);
        if (!d) {
          failures[static_cast<std::size_t>(t)] = d.error().to_string();
          return;
        }
        auto back = read_blob(*backend_, *d);
        if (!back || *back != data) {
          failures[static_cast<std::size_t>(t)] = "read back differs";
          return;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (auto& f : failures) EXPECT_EQ(f, "");
  EXPECT_EQ(backend_->enumerate(std::nullopt, 100)->size(), 12u);
}

TEST_P(S3BackendTest, WrongCredentialsAreRejected) {
  if (server_->kind() != ServerKind::kFake) GTEST_SKIP() << "only fake_s3 checks signatures";
  S3Config bad = config_;
  bad.secret_key = "not-the-secret";
  auto b = S3Backend::connect(bad);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, Errc::kPermissionDenied);
  EXPECT_NE(b.error().message.find("SignatureDoesNotMatch"), std::string::npos) << b.error().message;
  server_->reset_faults();  // that 403 was the point
}

TEST_P(S3BackendTest, AStrictServerVerifiesThePayloadAgainstTheDigest) {
  if (server_->kind() != ServerKind::kFake) GTEST_SKIP() << "only fake_s3 checks payload hashes";
  // BlobStore never commits a wrong digest; if it did, S3 itself would refuse.
  auto data = random_bytes(1000, 1);
  auto w = backend_->create_writer();
  ASSERT_TRUE(w && (*w)->append(data));
  auto r = (*w)->commit(Sha256::of("something else", 14));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kCorruption) << r.error().to_string();
  EXPECT_TRUE(all_keys(backend_->client()).empty());
  expect_payload_failure_ = true;
}

INSTANTIATE_TEST_SUITE_P(Servers, S3BackendTest,
                         ::testing::Values(ServerKind::kFake, ServerKind::kS3rver, ServerKind::kMoto),
                         [](const ::testing::TestParamInfo<ServerKind>& p) { return std::string(kind_name(p.param)); });

}  // namespace
}  // namespace blobsync::s3::testing
