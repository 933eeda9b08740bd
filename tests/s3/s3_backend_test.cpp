// S3Backend against real S3 protocol servers: s3rver (npm), moto_server (when
// installed) and fake_s3.py, which also verifies every SigV4 signature that
// libcurl computed and every x-amz-content-sha256 against the body, so any
// signing misconfiguration fails these tests.
#include <gtest/gtest.h>

#include <thread>

#include "s3_test_util.h"

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
