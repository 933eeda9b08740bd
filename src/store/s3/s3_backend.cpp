#include "store/s3/s3_backend.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "store/s3/s3_layout.h"
#include "store/s3/s3_writer.h"
#include "store/s3/s3_xml.h"

namespace blobsync::s3 {

namespace {

class S3Reader : public BlobReader {
 public:
  explicit S3Reader(std::unique_ptr<S3Download> download) : download_(std::move(download)) {}
  Result<std::size_t> read(std::span<std::byte> buf) override { return download_->read(buf); }
  std::uint64_t remaining() const override { return download_->remaining(); }
  // There is no native fd, so nobody consumed bytes behind our back; skip them anyway.
  void advance(std::uint64_t n) override {
    std::byte scratch[16384];
    while (n > 0) {
      auto r = download_->read(std::span(scratch, std::min<std::uint64_t>(n, sizeof scratch)));
      if (!r || *r == 0) return;
      n -= *r;
    }
  }

 private:
  std::unique_ptr<S3Download> download_;
};

// "2026-11-22T00:12:10.000Z" -> seconds since the epoch.
std::optional<std::int64_t> parse_iso8601(std::string_view text) {
  std::tm tm{};
  std::string s(text);
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec) != 6) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(timegm(&tm));
}

bool is_unsupported(const S3Response& r) {
  return r.status == 501 || r.status == 405 || r.error_code == "NotImplemented" || r.error_code == "MethodNotAllowed";
}

}  // namespace

Result<std::unique_ptr<S3Backend>> S3Backend::connect(S3Config config) {
  if (auto r = finish_config(config); !r) return std::unexpected(r.error());
  auto backend = std::unique_ptr<S3Backend>(new S3Backend(std::make_unique<S3Client>(std::move(config))));
  const S3Config& c = backend->client_->config();
  auto probe = backend->client_->execute(
      S3Request("GET", {}, {{"list-type", "2"}, {"max-keys", "1"}, {"prefix", blobs_prefix(c.prefix)}}));
  if (!probe) return std::unexpected(probe.error());
  if (!probe->ok()) {
    Error e = s3_error(*probe, "ListObjectsV2 on " + c.describe());
    if (e.code == Errc::kNotFound) e.code = Errc::kIOError;  // no bucket is not "no blob"
    return std::unexpected(std::move(e));
  }
  return backend;
}

Result<std::unique_ptr<S3Backend>> open_s3_backend(std::string_view url) {
  auto config = parse_s3_url(url);
  if (!config) return std::unexpected(config.error());
  return S3Backend::connect(std::move(*config));
}

Result<> S3Backend::create_bucket() {
  auto r = client_->execute(S3Request("PUT"));
  if (!r) return std::unexpected(r.error());
  if (!r->ok() && r->error_code != "BucketAlreadyOwnedByYou" && r->error_code != "BucketAlreadyExists") {
    return std::unexpected(s3_error(*r, "CreateBucket"));
  }
  return {};
}

Result<std::unique_ptr<BlobWriter>> S3Backend::create_writer(const std::optional<Digest>& expected) {
  return std::make_unique<S3Writer>(*client_, expected, std::nullopt);
}

Result<std::unique_ptr<BlobWriter>> S3Backend::create_writer_sized(const std::optional<Digest>& expected,
                                                                   std::uint64_t size) {
  return std::make_unique<S3Writer>(*client_, expected, size);
}

Result<BackendStat> S3Backend::stat(const Digest& digest) {
  std::string key = blob_key(client_->config().prefix, digest);
  auto r = client_->execute(S3Request("HEAD", key));
  if (!r) return std::unexpected(r.error());
  if (r->status == 404)
    return fail(Errc::kNotFound, "blob sha256:{} is not in {}", digest.hex(), client_->config().describe());
  if (!r->ok()) return std::unexpected(s3_error(*r, "HEAD " + key));
  if (!r->content_length) return fail(Errc::kIOError, "S3 HEAD {}: no Content-Length", key);
  return BackendStat{digest, *r->content_length};
}

Result<std::unique_ptr<BlobReader>> S3Backend::open(const Digest& digest, std::uint64_t offset, std::uint64_t length) {
  auto st = stat(digest);
  if (!st) return std::unexpected(st.error());
  return open_sized(digest, st->size, offset, length);
}

Result<std::unique_ptr<BlobReader>> S3Backend::open_sized(const Digest& digest, std::uint64_t size,
                                                          std::uint64_t offset, std::uint64_t length) {
  if (offset > size) {
    return fail(Errc::kInvalidArgument, "offset {} is past the end of sha256:{} ({} bytes)", offset, digest.hex(), size);
  }
  std::uint64_t n = std::min(length, size - offset);
  return std::make_unique<S3Reader>(client_->download(blob_key(client_->config().prefix, digest), offset, n));
}

Result<> S3Backend::remove(const Digest& digest) {
  std::string key = blob_key(client_->config().prefix, digest);
  auto r = client_->execute(S3Request("DELETE", key));
  if (!r) return std::unexpected(r.error());
  if (!r->ok() && r->status != 404) return std::unexpected(s3_error(*r, "DELETE " + key));
  return {};
}

Result<std::vector<BackendStat>> S3Backend::enumerate(std::optional<Digest> after, std::size_t limit) {
  std::vector<BackendStat> out;
  const std::string prefix = blobs_prefix(client_->config().prefix);
  std::string token;
  while (out.size() < limit) {
    QueryParams q{{"list-type", "2"},
                  {"prefix", prefix},
                  {"max-keys", std::to_string(std::min<std::size_t>(client_->config().list_page_size, limit - out.size()))}};
    if (!token.empty())
      q.emplace_back("continuation-token", token);
    else if (after)
      q.emplace_back("start-after", prefix + after->hex());
    auto r = client_->execute(S3Request("GET", {}, std::move(q)));
    if (!r) return std::unexpected(r.error());
    if (!r->ok()) return std::unexpected(s3_error(*r, "ListObjectsV2 " + prefix));
    for (std::string_view item : xml_elements(r->body, "Contents")) {
      std::string key = xml_text(item, "Key").value_or("");
      std::string size = xml_text(item, "Size").value_or("");
      Digest d;
      std::string_view hex = std::string_view(key).substr(std::min(key.size(), prefix.size()));
      bool lower = hex.find_first_of("ABCDEF") == std::string_view::npos;
      if (!key.starts_with(prefix) || !lower || !parse_hex_digest(hex, d)) continue;  // not ours
      if (after && d <= *after) continue;                                             // servers that ignore start-after
      BackendStat st{d, 0};
      if (std::from_chars(size.data(), size.data() + size.size(), st.size).ec != std::errc()) {
        return fail(Errc::kIOError, "S3 ListObjectsV2: bad <Size> for {}", key);
      }
      out.push_back(st);
      if (out.size() == limit) break;
    }
    if (xml_text(r->body, "IsTruncated").value_or("false") != "true") break;
    token = xml_text(r->body, "NextContinuationToken").value_or("");
    if (token.empty()) return fail(Errc::kIOError, "S3 ListObjectsV2: truncated listing without a continuation token");
  }
  return out;
}

Result<> S3Backend::abort_stale_uploads(std::int64_t now_s) {
  const S3Config& c = client_->config();
  const std::string tmp = tmp_prefix(c.prefix), blobs = blobs_prefix(c.prefix);
  std::string key_marker, id_marker;
  for (;;) {
    QueryParams q{{"uploads", ""}};
    if (!c.prefix.empty()) q.emplace_back("prefix", c.prefix);
    if (!key_marker.empty()) {
      q.emplace_back("key-marker", key_marker);
      q.emplace_back("upload-id-marker", id_marker);
    }
    auto r = client_->execute(S3Request("GET", {}, std::move(q)));
    if (!r) return std::unexpected(r.error());
    if (!r->ok() && is_unsupported(*r)) {
      spdlog::warn("S3: {} cannot list multipart uploads; abandoned ones under {} and {} need a lifecycle rule",
                   c.describe(), tmp, blobs);
      return {};
    }
    if (!r->ok()) return std::unexpected(s3_error(*r, "ListMultipartUploads"));
    for (std::string_view upload : xml_elements(r->body, "Upload")) {
      std::string key = xml_text(upload, "Key").value_or("");
      std::string id = xml_text(upload, "UploadId").value_or("");
      auto initiated = parse_iso8601(xml_text(upload, "Initiated").value_or(""));
      if (key.empty() || id.empty() || !(key.starts_with(tmp) || key.starts_with(blobs))) continue;
      if (c.tmp_grace_s > 0 && (!initiated || now_s - *initiated < c.tmp_grace_s)) continue;
      auto d = client_->execute(S3Request("DELETE", key, {{"uploadId", id}}));
      if (!d) return std::unexpected(d.error());
      if (!d->ok() && d->status != 404) return std::unexpected(s3_error(*d, "AbortMultipartUpload " + key));
      spdlog::info("S3: aborted abandoned multipart upload of {}", key);
    }
    if (xml_text(r->body, "IsTruncated").value_or("false") != "true") return {};
    key_marker = xml_text(r->body, "NextKeyMarker").value_or("");
    id_marker = xml_text(r->body, "NextUploadIdMarker").value_or("");
    if (key_marker.empty()) return {};
  }
}

Result<> S3Backend::delete_stale_tmp_objects(std::int64_t now_s) {
  const S3Config& c = client_->config();
  std::string token;
  for (;;) {
    QueryParams q{{"list-type", "2"}, {"prefix", tmp_prefix(c.prefix)}, {"max-keys", std::to_string(c.list_page_size)}};
    if (!token.empty()) q.emplace_back("continuation-token", token);
    auto r = client_->execute(S3Request("GET", {}, std::move(q)));
    if (!r) return std::unexpected(r.error());
    if (!r->ok()) return std::unexpected(s3_error(*r, "ListObjectsV2 " + tmp_prefix(c.prefix)));
    for (std::string_view item : xml_elements(r->body, "Contents")) {
      std::string key = xml_text(item, "Key").value_or("");
      auto modified = parse_iso8601(xml_text(item, "LastModified").value_or(""));
      if (!key.starts_with(tmp_prefix(c.prefix))) continue;
      if (c.tmp_grace_s > 0 && (!modified || now_s - *modified < c.tmp_grace_s)) continue;
      auto d = client_->execute(S3Request("DELETE", key));
      if (!d) return std::unexpected(d.error());
      if (!d->ok() && d->status != 404) return std::unexpected(s3_error(*d, "DELETE " + key));
      spdlog::info("S3: deleted leftover {}", key);
    }
    if (xml_text(r->body, "IsTruncated").value_or("false") != "true") return {};
    token = xml_text(r->body, "NextContinuationToken").value_or("");
    if (token.empty()) return {};
  }
}

Result<> S3Backend::recover() {
  auto now_s =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  if (auto r = abort_stale_uploads(now_s); !r) return r;
  return delete_stale_tmp_objects(now_s);
}

}  // namespace blobsync::s3
