// Faults: S3 answering 500s, stalling, closing connections mid-body, and
// being killed mid-upload. Each must end in a successful retry or a clear
// error, and never in a corrupt or half-visible object under blobs/.
// fake_s3.py injects the faults; one test kills the real s3rver.
#include <curl/curl.h>
#include <gtest/gtest.h>

#include "s3_test_util.h"

namespace blobsync::s3::testing {
namespace {

class S3FaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = TestServer::start(ServerKind::kFake);
    ASSERT_TRUE(s) << s.error().to_string();
    server_ = std::move(*s);
    config_ = server_->config();
    config_.stall_timeout_s = 1;
    part_ = config_.part_size;
    reopen();
  }
  void reopen() {
    auto b = S3Backend::connect(config_);
    ASSERT_TRUE(b) << b.error().to_string();
    backend_ = std::move(*b);
  }
  std::string blobs_path() const { return std::string("/") + kBucket + "/blobs/"; }
  int faults_fired() {
    std::string s = server_->stats();
    auto at = s.find("\"faults_fired\": ");
    return at == std::string::npos ? -1 : std::atoi(s.c_str() + at + 16);
  }
  // Nothing under blobs/ except complete blobs whose bytes match their names.
  void expect_no_bad_blob() {
    auto all = backend_->enumerate(std::nullopt, 1000);
    ASSERT_TRUE(all) << all.error().to_string();
    for (const auto& st : *all) {
      auto bytes = read_blob(*backend_, st.digest);
      ASSERT_TRUE(bytes) << bytes.error().to_string();
      EXPECT_EQ(Sha256::of(*bytes), st.digest) << "blobs/" << st.digest.hex() << " holds other bytes";
    }
  }

  std::unique_ptr<TestServer> server_;
  S3Config config_;
  std::size_t part_ = 0;
  std::unique_ptr<S3Backend> backend_;
};

TEST_F(S3FaultTest, TransientServerErrorsAreRetried) {
  auto small = random_bytes(1000, 1);
  server_->fault("mode=status&status=500&count=2&match=PUT%20" + blobs_path());
  auto d = put_blob(*backend_, small);
  ASSERT_TRUE(d) << d.error().to_string();
  EXPECT_EQ(faults_fired(), 2);

  auto big = random_bytes(4 * part_ + 1, 2);
  server_->fault("mode=status&status=503&count=2&match=partNumber%3D2");
  server_->fault("mode=status&status=500&count=1&match=POST");  // create or complete
  auto b = put_blob(*backend_, big);
  ASSERT_TRUE(b) << b.error().to_string();
  EXPECT_EQ(faults_fired(), 5);

  server_->fault("mode=status&status=500&count=2&match=GET%20" + blobs_path());
  auto back = read_blob(*backend_, *b);
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_TRUE(*back == big);
  EXPECT_EQ(faults_fired(), 7);
  expect_no_bad_blob();
}

TEST_F(S3FaultTest, PersistentServerErrorsGiveAClearErrorAndNoBlob) {
  auto small = random_bytes(1000, 1);
  server_->fault("mode=status&status=500&count=100&match=PUT%20" + blobs_path());
  auto d = put_blob(*backend_, small);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, Errc::kIOError);
  EXPECT_NE(d.error().message.find("HTTP 500"), std::string::npos) << d.error().message;
  EXPECT_NE(d.error().message.find("after 3 attempts"), std::string::npos) << d.error().message;

  auto big = random_bytes(3 * part_ + 1, 2);
  server_->reset_faults();
  server_->fault("mode=status&status=500&count=100&match=partNumber%3D3");
  auto b = put_blob(*backend_, big);
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().message.find("UploadPart 3"), std::string::npos) << b.error().message;

  server_->reset_faults();
  EXPECT_TRUE(all_keys(backend_->client()).empty());
  EXPECT_TRUE(open_uploads(backend_->client()).empty()) << "the failed upload was not aborted";
}

TEST_F(S3FaultTest, StalledRequestsTimeOutThenRetry) {
  auto small = random_bytes(1000, 1);
  // Stalls every attempt: a timeout error, nothing stored.
  server_->fault("mode=stall&count=3&match=PUT%20" + blobs_path());
  auto d = put_blob(*backend_, small);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, Errc::kTimeout) << d.error().to_string();
  server_->reset_faults();
  EXPECT_TRUE(all_keys(backend_->client()).empty());

  // One stalled part upload: retried.
  auto big = random_bytes(3 * part_ + 1, 2);
  server_->fault("mode=stall&count=1&match=partNumber%3D2");
  auto b = put_blob(*backend_, big);
  ASSERT_TRUE(b) << b.error().to_string();
  // A stalled download: resumed.
  server_->fault("mode=stall&count=1&match=GET%20" + blobs_path());
  auto back = read_blob(*backend_, *b);
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_TRUE(*back == big);
  EXPECT_EQ(faults_fired(), 2);
  expect_no_bad_blob();
}

TEST_F(S3FaultTest, ConnectionsClosedMidBody) {
  auto big = random_bytes(3 * part_ + 1, 2);
  server_->fault("mode=close&count=1&match=partNumber%3D2");
  server_->fault("mode=close&count=1&match=PUT%20" + blobs_path());  // the small PUT path below
  auto b = put_blob(*backend_, big);
  ASSERT_TRUE(b) << b.error().to_string();
  auto small = random_bytes(5000, 1);
  auto s = put_blob(*backend_, small);
  ASSERT_TRUE(s) << s.error().to_string();

  // Downloads cut in the middle twice resume from the first missing byte.
  server_->fault("mode=close&count=2&match=GET%20" + blobs_path());
  auto back = read_blob(*backend_, *b, 0, kToEnd, 4096);
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_TRUE(*back == big);
  EXPECT_EQ(faults_fired(), 4);

  // Cut every time: a clear error, never silently short data.
  server_->fault("mode=close&count=100&match=GET%20" + blobs_path());
  auto cut = read_blob(*backend_, *b);
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.error().code, Errc::kIOError) << cut.error().to_string();
  server_->reset_faults();

  server_->fault("mode=close&count=100&match=partNumber%3D1");
  auto failed = put_blob(*backend_, random_bytes(2 * part_ + 5, 7));
  ASSERT_FALSE(failed);
  server_->reset_faults();
  auto keys = all_keys(backend_->client());
  EXPECT_EQ(keys.size(), 2u);
  EXPECT_FALSE(any_with_prefix(keys, "tmp/"));
  expect_no_bad_blob();
}

TEST_F(S3FaultTest, ServerKilledMidPartUpload) {
  auto big = random_bytes(5 * part_ + 1, 3);
  Digest digest = Sha256::of(big);
  server_->fault("mode=die&after_bytes=10000&count=1&match=partNumber%3D3");
  auto w = backend_->create_writer();
  ASSERT_TRUE(w);
  Result<> r = (*w)->append(big);
  if (r) r = (*w)->commit(digest);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().code == Errc::kIOError || r.error().code == Errc::kTimeout) << r.error().to_string();
  w->reset();

  ASSERT_TRUE(server_->restart());
  config_ = server_->config();
  reopen();
  auto keys = all_keys(backend_->client());
  EXPECT_FALSE(any_with_prefix(keys, "blobs/"));
  EXPECT_EQ(open_uploads(backend_->client()).size(), 1u) << "the dead server kept the upload";
  ASSERT_TRUE(backend_->recover());
  EXPECT_TRUE(open_uploads(backend_->client()).empty());
  EXPECT_TRUE(all_keys(backend_->client()).empty());
  EXPECT_EQ(backend_->stat(digest).error().code, Errc::kNotFound);
}

TEST_F(S3FaultTest, ServerKilledBetweenCompleteAndCopy) {
  auto big = random_bytes(2 * part_ + 1, 4);
  // For a multipart blob the only PUT to blobs/ is the server-side copy.
  server_->fault("mode=die&count=1&match=PUT%20" + blobs_path());
  auto d = put_blob(*backend_, big);
  ASSERT_FALSE(d);
  ASSERT_TRUE(server_->restart());
  config_ = server_->config();
  reopen();
  auto keys = all_keys(backend_->client());
  EXPECT_FALSE(any_with_prefix(keys, "blobs/"));
  EXPECT_TRUE(any_with_prefix(keys, "tmp/"));  // the completed temporary object
  ASSERT_TRUE(backend_->recover());
  EXPECT_TRUE(all_keys(backend_->client()).empty());
  // Writing it again works.
  auto again = put_blob(*backend_, big);
  ASSERT_TRUE(again) << again.error().to_string();
  expect_no_bad_blob();
}

// The streamed single PutObject of a blob of announced size: retried while
// no body byte has gone (a refusal of "Expect: 100-continue"), a clear final
// error after that, and never a visible object.
TEST_F(S3FaultTest, StreamedPutRefusedBeforeTheBodyIsRetried) {
  auto big = random_bytes(3 * part_ + 1, 11);
  server_->fault("mode=refuse&status=503&count=2&match=PUT%20" + blobs_path());
  auto d = put_blob_sized(*backend_, big, 10007, /*known_digest=*/true);
  ASSERT_TRUE(d) << d.error().to_string();
  EXPECT_EQ(faults_fired(), 2);
  // Without a digest: to tmp/, then the copy.
  auto other = random_bytes(3 * part_ + 2, 12);
  server_->fault("mode=refuse&status=500&count=1&match=PUT%20/" + std::string(kBucket) + "/tmp/");
  auto o = put_blob_sized(*backend_, other);
  ASSERT_TRUE(o) << o.error().to_string();
  EXPECT_EQ(faults_fired(), 3);
  auto back = read_blob(*backend_, *o);
  ASSERT_TRUE(back);
  EXPECT_TRUE(*back == other);
  // Refused every time: a clear error.
  server_->fault("mode=refuse&status=503&count=100&match=PUT%20" + blobs_path());
  auto third = random_bytes(3 * part_ + 3, 13);
  auto t = put_blob_sized(*backend_, third, 10007, true);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, Errc::kIOError) << t.error().to_string();
  EXPECT_NE(t.error().message.find("HTTP 503"), std::string::npos) << t.error().message;
  EXPECT_NE(t.error().message.find("after 3 attempts"), std::string::npos) << t.error().message;
  server_->reset_faults();
  auto keys = all_keys(backend_->client());
  EXPECT_EQ(keys.size(), 2u);
  EXPECT_FALSE(any_with_prefix(keys, "tmp/"));
  expect_no_bad_blob();
}

TEST_F(S3FaultTest, StreamedPutFailingAfterTheBodyGivesAClearError) {
  for (bool known : {true, false}) {
    SCOPED_TRACE(known ? "known digest" : "unknown digest");
    std::string put = known ? "PUT%20" + blobs_path() : "PUT%20/" + std::string(kBucket) + "/tmp/";
    auto big = random_bytes(3 * part_ + 1, known ? 21 : 22);
    // HTTP 500 once the whole body arrived: the body is gone, no retry.
    server_->fault("mode=status&status=500&count=1&match=" + put);
    auto d = put_blob_sized(*backend_, big, 10007, known);
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().code, Errc::kIOError) << d.error().to_string();
    EXPECT_NE(d.error().message.find("HTTP 500"), std::string::npos) << d.error().message;
    EXPECT_NE(d.error().message.find("cannot be resent"), std::string::npos) << d.error().message;
    // A server that takes the body and never answers: the stall detector.
    server_->fault("mode=stall&count=1&match=" + put);
    d = put_blob_sized(*backend_, big, 10007, known);
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().code, Errc::kTimeout) << d.error().to_string();
    // A connection closed in the middle of the body.
    server_->fault("mode=close&count=1&match=" + put);
    d = put_blob_sized(*backend_, big, 10007, known);
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().code, Errc::kIOError) << d.error().to_string();
    server_->reset_faults();
    EXPECT_TRUE(all_keys(backend_->client()).empty());
    // The caller's retry works.
    auto again = put_blob_sized(*backend_, big, 10007, known);
    ASSERT_TRUE(again) << again.error().to_string();
    ASSERT_TRUE(backend_->remove(*again));
  }
}

TEST_F(S3FaultTest, ServerKilledMidStreamedPut) {
  for (bool known : {true, false}) {
    SCOPED_TRACE(known ? "known digest" : "unknown digest");
    auto big = random_bytes(5 * part_ + 1, known ? 31 : 32);
    std::string put = known ? "PUT%20" + blobs_path() : "PUT%20/" + std::string(kBucket) + "/tmp/";
    server_->fault("mode=die&after_bytes=10000&count=1&match=" + put);
    auto d = put_blob_sized(*backend_, big, 10007, known);
    ASSERT_FALSE(d);
    EXPECT_TRUE(d.error().code == Errc::kIOError || d.error().code == Errc::kTimeout) << d.error().to_string();
    ASSERT_TRUE(server_->restart());
    config_ = server_->config();
    reopen();
    ASSERT_TRUE(backend_->recover());
    EXPECT_TRUE(all_keys(backend_->client()).empty());
    EXPECT_EQ(backend_->stat(Sha256::of(big)).error().code, Errc::kNotFound);
  }
}

TEST_F(S3FaultTest, ServerDownGivesAConnectionError) {
  server_->kill();
  auto d = put_blob(*backend_, random_bytes(100, 1));
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, Errc::kIOError);
  EXPECT_NE(d.error().message.find("after 3 attempts"), std::string::npos) << d.error().message;
  EXPECT_FALSE(S3Backend::connect(config_));
}

// Why the client sets x-amz-content-sha256 itself: without it, libcurl 7.88
// signs neither the header nor the body, which fake_s3 (like AWS) refuses.
TEST_F(S3FaultTest, LibcurlWithoutTheContentHashHeaderIsRejected) {
  std::string body = "hello";
  std::string url = server_->endpoint() + "/" + kBucket + "/blobs/x";
  CURL* easy = curl_easy_init();
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:s3");
  curl_easy_setopt(easy, CURLOPT_USERNAME, config_.access_key.c_str());
  curl_easy_setopt(easy, CURLOPT_PASSWORD, config_.secret_key.c_str());
  curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, "PUT");
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, +[](char*, size_t s, size_t n, void*) { return s * n; });
  ASSERT_EQ(curl_easy_perform(easy), CURLE_OK);
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(easy);
  EXPECT_EQ(status, 403);
  EXPECT_TRUE(all_keys(backend_->client()).empty());
}

// The real s3rver, killed between parts of an upload.
TEST(S3rverCrash, KilledMidUploadLeavesNoBlob) {
  auto s = TestServer::start(ServerKind::kS3rver);
  ASSERT_TRUE(s) << s.error().to_string();
  auto& server = *s;
  S3Config config = server->config();
  config.max_attempts = 2;
  auto b = S3Backend::connect(config);
  ASSERT_TRUE(b) << b.error().to_string();
  auto big = random_bytes(6 * config.part_size, 5);
  auto w = (*b)->create_writer();
  ASSERT_TRUE(w);
  ASSERT_TRUE((*w)->append(std::span(big).first(3 * config.part_size)));
  server->kill();
  Result<> r = (*w)->append(std::span(big).subspan(3 * config.part_size));
  if (r) r = (*w)->commit(Sha256::of(big));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kIOError) << r.error().to_string();
  w->reset();

  ASSERT_TRUE(server->restart());
  config = server->config();
  auto b2 = S3Backend::connect(config);
  ASSERT_TRUE(b2) << b2.error().to_string();
  ASSERT_TRUE((*b2)->recover());
  EXPECT_FALSE(any_with_prefix(all_keys((*b2)->client()), "blobs/"));
  EXPECT_TRUE((*b2)->enumerate(std::nullopt, 10)->empty());
}

}  // namespace
}  // namespace blobsync::s3::testing
