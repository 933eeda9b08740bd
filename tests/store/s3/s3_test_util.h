// Helpers shared by the S3 integration tests.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/sha256.h"
#include "store/s3/s3_backend.h"
#include "store/s3/s3_xml.h"
#include "test_servers.h"

namespace blobsync::s3::testing {

// A test run against each kind of server: starts it (moto is skipped where
// not installed) and connects backend_ with config_.
class ServerTest : public ::testing::TestWithParam<ServerKind> {
 protected:
  void SetUp() override {
    if (GetParam() == ServerKind::kMoto && !moto_available()) GTEST_SKIP() << "moto_server is not installed";
    auto s = TestServer::start(GetParam());
    ASSERT_TRUE(s) << s.error().to_string();
    server_ = std::move(*s);
    config_ = server_->config();
    reopen();
  }

  void reopen() {
    auto b = S3Backend::connect(config_);
    ASSERT_TRUE(b) << b.error().to_string();
    backend_ = std::move(*b);
  }

  std::unique_ptr<TestServer> server_;
  S3Config config_;
  std::unique_ptr<S3Backend> backend_;
};

inline std::vector<std::byte> random_bytes(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::byte> out(n);
  for (std::size_t i = 0; i < n; i += 8) {
    std::uint64_t v = rng();
    for (std::size_t j = 0; j < 8 && i + j < n; ++j) out[i + j] = static_cast<std::byte>(v >> (8 * j));
  }
  return out;
}

// Writes data through a writer in pieces of `piece` bytes and commits it.
// known_digest: the writer is told the digest up front (the direct path).
// Writes `data` in `piece`s through `w` (a writer just created) and commits it.
template <class Writer>
Result<Digest> write_all(Writer w, const std::vector<std::byte>& data, std::size_t piece) {
  if (!w) return std::unexpected(w.error());
  for (std::size_t at = 0; at < data.size(); at += piece) {
    auto r = (*w)->append(std::span(data).subspan(at, std::min(piece, data.size() - at)));
    if (!r) return std::unexpected(r.error());
  }
  Digest d = Sha256::of(data);
  if (auto r = (*w)->commit(d); !r) return std::unexpected(r.error());
  return d;
}

inline Result<Digest> put_blob(BlobBackend& backend, const std::vector<std::byte>& data, std::size_t piece = 10007,
                               bool known_digest = false) {
  return write_all(known_digest ? backend.create_writer(Sha256::of(data)) : backend.create_writer(), data, piece);
}

// As put_blob, through a writer told the size up front (create_writer_sized).
inline Result<Digest> put_blob_sized(BlobBackend& backend, const std::vector<std::byte>& data,
                                     std::size_t piece = 10007, bool known_digest = false) {
  std::optional<Digest> expected;
  if (known_digest) expected = Sha256::of(data);
  return write_all(backend.create_writer_sized(expected, data.size()), data, piece);
}

inline Result<std::vector<std::byte>> read_blob(BlobBackend& backend, const Digest& d, std::uint64_t offset = 0,
                                                std::uint64_t length = kToEnd, std::size_t buf_size = 65536) {
  auto reader = backend.open(d, offset, length);
  if (!reader) return std::unexpected(reader.error());
  std::vector<std::byte> out;
  std::vector<std::byte> buf(buf_size);
  for (;;) {
    auto n = (*reader)->read(buf);
    if (!n) return std::unexpected(n.error());
    if (*n == 0) break;
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
  }
  if ((*reader)->remaining() != 0) return fail(Errc::kInternal, "reader ended with bytes remaining");
  return out;
}

// Every key in the bucket (all prefixes), via raw ListObjectsV2, once the
// client's background deletes of temporary objects have run.
inline std::vector<std::string> all_keys(S3Client& client) {
  client.drain_deletes();
  std::vector<std::string> keys;
  std::string token;
  for (;;) {
    QueryParams q{{"list-type", "2"}};
    if (!token.empty()) q.emplace_back("continuation-token", token);
    auto r = client.execute(S3Request("GET", {}, q));
    EXPECT_TRUE(r && r->ok());
    if (!r || !r->ok()) return keys;
    for (auto item : xml_elements(r->body, "Contents")) keys.push_back(xml_text(item, "Key").value_or(""));
    if (xml_text(r->body, "IsTruncated").value_or("") != "true") break;
    token = xml_text(r->body, "NextContinuationToken").value_or("");
  }
  return keys;
}

// Keys of multipart uploads in progress (empty if the server cannot list them).
inline std::vector<std::string> open_uploads(S3Client& client) {
  std::vector<std::string> keys;
  auto r = client.execute(S3Request("GET", {}, {{"uploads", ""}}));
  if (!r || !r->ok()) return keys;
  for (auto item : xml_elements(r->body, "Upload")) keys.push_back(xml_text(item, "Key").value_or(""));
  return keys;
}

inline bool any_with_prefix(const std::vector<std::string>& keys, std::string_view prefix) {
  return std::any_of(keys.begin(), keys.end(), [&](const std::string& k) { return k.starts_with(prefix); });
}

}  // namespace blobsync::s3::testing
