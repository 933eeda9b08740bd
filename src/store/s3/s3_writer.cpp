#include "store/s3/s3_writer.h"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

#include "store/s3/s3_layout.h"
#include "store/s3/s3_xml.h"

namespace blobsync::s3 {

namespace {
constexpr int kMaxParts = 10000;  // S3's limit
}

std::string new_tmp_key(std::string_view prefix) {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) {
    std::random_device rd;  // only if OpenSSL's generator is unusable
    for (auto& b : raw) b = static_cast<unsigned char>(rd());
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = tmp_prefix(prefix);
  for (unsigned char b : raw) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

S3Writer::S3Writer(S3Client& client) : client_(client), config_(client.config()) {}

S3Writer::~S3Writer() { abort(); }

Result<> S3Writer::fail_with(Error e) {
  error_ = e;
  abort();
  return std::unexpected(std::move(e));
}

Result<> S3Writer::append(std::span<const std::byte> data) {
  if (error_) return std::unexpected(*error_);
  if (finished_) return fail(Errc::kInternal, "S3 writer: append after commit or abort");
  while (!data.empty()) {
    if (buf_.size() == config_.part_size) {
      // More bytes after a full buffer: this blob is multipart and the buffer is a part.
      if (auto r = flush_part(); !r) return r;
    }
    std::size_t take = std::min<std::size_t>(data.size(), config_.part_size - buf_.size());
    buf_.insert(buf_.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(take));
    part_hash_.update(data.first(take));
    data = data.subspan(take);
    total_ += take;
  }
  return {};
}

Result<> S3Writer::start_multipart() {
  tmp_key_ = new_tmp_key(config_.prefix);
  auto r = client_.execute(S3Request("POST", tmp_key_, {{"uploads", ""}}));
  if (!r) return fail_with(r.error());
  if (!r->ok()) return fail_with(s3_error(*r, "CreateMultipartUpload " + tmp_key_));
  auto id = xml_text(r->body, "UploadId");
  if (!id || id->empty()) {
    return fail_with(Error{Errc::kIOError, "S3 CreateMultipartUpload " + tmp_key_ + ": no UploadId in the answer"});
  }
  upload_id_ = std::move(*id);
  return {};
}

Result<> S3Writer::wait_inflight() {
  if (!inflight_.valid()) return {};
  Result<std::string> etag = inflight_.get();
  if (!etag) return fail_with(etag.error());
  etags_.push_back(std::move(*etag));
  return {};
}

Result<> S3Writer::flush_part() {
  if (upload_id_.empty()) {
    if (auto r = start_multipart(); !r) return r;
  }
  if (auto r = wait_inflight(); !r) return r;
  if (parts_started_ >= kMaxParts) {
    return fail_with(
        Error{Errc::kTooLarge, fmt::format("S3: blob larger than {} parts of {} bytes", kMaxParts, config_.part_size)});
  }
  std::string sha = part_hash_.finish().hex();
  std::swap(buf_, inflight_buf_);
  buf_.clear();
  int number = ++parts_started_;
  inflight_ = std::async(std::launch::async,
                         [this, number, sha = std::move(sha)] { return upload_part(number, inflight_buf_, sha); });
  return {};
}

Result<std::string> S3Writer::upload_part(int number, std::span<const std::byte> data, const std::string& sha256) {
  auto r =
      client_.execute(S3Request("PUT", tmp_key_, {{"partNumber", std::to_string(number)}, {"uploadId", upload_id_}})
                          .with_body(data, sha256)
                          .as_bulk());
  std::string what = fmt::format("UploadPart {} of {}", number, tmp_key_);
  if (!r) return std::unexpected(r.error());
  if (!r->ok()) return std::unexpected(s3_error(*r, what));
  if (r->etag.empty()) return fail(Errc::kIOError, "S3 {}: no ETag in the answer", what);
  return std::move(r->etag);
}

Result<> S3Writer::complete_multipart() {
  std::string xml = "<CompleteMultipartUpload>";
  for (std::size_t i = 0; i < etags_.size(); ++i) {
    xml += fmt::format("<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>", i + 1, xml_escape(etags_[i]));
  }
  xml += "</CompleteMultipartUpload>";
  auto body = std::as_bytes(std::span(xml));
  auto r = client_.execute(S3Request("POST", tmp_key_, {{"uploadId", upload_id_}})
                               .with_headers({"Content-Type: application/xml"})
                               .with_body(body)
                               .as_bulk()
                               .with_error_in_200());
  if (!r) return std::unexpected(r.error());
  if (!r->ok()) {
    // A retried Complete whose first try succeeded finds no upload: that is success if the object is there.
    bool maybe_done = r->attempts > 1 && r->status == 404;
    if (!maybe_done) return std::unexpected(s3_error(*r, "CompleteMultipartUpload " + tmp_key_));
  }
  tmp_completed_ = true;
  upload_id_.clear();
  // Belt and braces before the object can become a blob: the size must be what we sent.
  auto head = client_.execute(S3Request("HEAD", tmp_key_));
  if (!head) return std::unexpected(head.error());
  if (!head->ok()) return std::unexpected(s3_error(*head, "HEAD " + tmp_key_));
  if (head->content_length != total_) {
    return fail(Errc::kCorruption, "S3 {}: completed object has {} bytes, {} were uploaded", tmp_key_,
                head->content_length.value_or(0), total_);
  }
  return {};
}

Result<> S3Writer::copy_to(const std::string& final_key) {
  if (total_ > config_.max_copy_size) return multipart_copy(final_key);
  auto r = client_.execute(S3Request("PUT", final_key)
                               .with_headers({"x-amz-copy-source: " + client_.copy_source(tmp_key_)})
                               .as_bulk()
                               .with_error_in_200());
  if (!r) return std::unexpected(r.error());
  if (!r->ok()) return std::unexpected(s3_error(*r, "CopyObject " + tmp_key_ + " to " + final_key));
  return {};
}

Result<> S3Writer::multipart_copy(const std::string& final_key) {
  auto created = client_.execute(S3Request("POST", final_key, {{"uploads", ""}}));
  if (!created) return std::unexpected(created.error());
  if (!created->ok()) return std::unexpected(s3_error(*created, "CreateMultipartUpload " + final_key));
  std::string id = xml_text(created->body, "UploadId").value_or("");
  if (id.empty()) return fail(Errc::kIOError, "S3 CreateMultipartUpload {}: no UploadId", final_key);

  auto abort_copy = [&](Error e) -> Result<> {
    auto a = client_.execute(S3Request("DELETE", final_key, {{"uploadId", id}}));
    if (!a || (!a->ok() && a->status != 404)) spdlog::warn("S3: could not abort copy upload {} of {}", id, final_key);
    return std::unexpected(std::move(e));
  };
  std::string xml = "<CompleteMultipartUpload>";
  int number = 0;
  for (std::uint64_t at = 0; at < total_; at += config_.max_copy_size) {
    std::uint64_t last = std::min(total_, at + config_.max_copy_size) - 1;
    ++number;
    auto r = client_.execute(S3Request("PUT", final_key, {{"partNumber", std::to_string(number)}, {"uploadId", id}})
                                 .with_headers({"x-amz-copy-source: " + client_.copy_source(tmp_key_),
                                                fmt::format("x-amz-copy-source-range: bytes={}-{}", at, last)})
                                 .as_bulk()
                                 .with_error_in_200());
    if (!r) return abort_copy(r.error());
    if (!r->ok()) return abort_copy(s3_error(*r, fmt::format("UploadPartCopy {} of {}", number, final_key)));
    auto etag = xml_text(r->body, "ETag");
    if (!etag) return abort_copy(Error{Errc::kIOError, "S3 UploadPartCopy: no ETag in the answer"});
    xml += fmt::format("<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>", number, xml_escape(*etag));
  }
  xml += "</CompleteMultipartUpload>";
  auto r = client_.execute(S3Request("POST", final_key, {{"uploadId", id}})
                               .with_headers({"Content-Type: application/xml"})
                               .with_body(std::as_bytes(std::span(xml)))
                               .as_bulk()
                               .with_error_in_200());
  if (!r) return abort_copy(r.error());
  if (!r->ok() && !(r->attempts > 1 && r->status == 404)) {
    return abort_copy(s3_error(*r, "CompleteMultipartUpload " + final_key));
  }
  return {};
}

Result<> S3Writer::commit(const Digest& digest) {
  if (error_) return std::unexpected(*error_);
  if (finished_) return fail(Errc::kInternal, "S3 writer: commit after commit or abort");
  const std::string final_key = blob_key(config_.prefix, digest);

  if (upload_id_.empty()) {
    // One part: dedup check, then a single PutObject that S3 verifies against the digest.
    auto head = client_.execute(S3Request("HEAD", final_key));
    if (!head) return fail_with(head.error());
    if (head->ok() && head->content_length == total_) {
      finished_ = true;
      buf_ = {};
      return {};
    }
    if (!head->ok() && head->status != 404) return fail_with(s3_error(*head, "HEAD " + final_key));
    auto put = client_.execute(S3Request("PUT", final_key).with_body(buf_, digest.hex()).as_bulk());
    if (!put) return fail_with(put.error());
    if (!put->ok()) {
      Error e = s3_error(*put, "PutObject " + final_key);
      if (put->error_code == "XAmzContentSHA256Mismatch" || put->error_code == "BadDigest") e.code = Errc::kCorruption;
      return fail_with(std::move(e));
    }
    finished_ = true;
    buf_ = {};
    return {};
  }

  if (auto r = flush_part(); !r) return r;
  if (auto r = wait_inflight(); !r) return r;
  if (auto r = complete_multipart(); !r) return fail_with(r.error());
  auto head = client_.execute(S3Request("HEAD", final_key));
  if (!head) return fail_with(head.error());
  bool exists = head->ok() && head->content_length == total_;
  if (!exists && !head->ok() && head->status != 404) return fail_with(s3_error(*head, "HEAD " + final_key));
  if (!exists) {
    if (auto r = copy_to(final_key); !r) return fail_with(r.error());
  }
  finished_ = true;  // the blob is committed; what follows is cleanup
  buf_ = {};
  inflight_buf_ = {};
  auto del = client_.execute(S3Request("DELETE", tmp_key_));
  if (!del || (!del->ok() && del->status != 404)) {
    spdlog::warn("S3: could not delete {} after commit ({}); recover() will", tmp_key_,
                 del ? s3_error(*del, "DELETE").message : del.error().message);
  }
  return {};
}

void S3Writer::abort() {
  if (finished_) return;
  finished_ = true;
  if (inflight_.valid()) inflight_.wait();
  if (!upload_id_.empty()) {
    auto r = client_.execute(S3Request("DELETE", tmp_key_, {{"uploadId", upload_id_}}));
    if (!r || (!r->ok() && r->status != 404)) {
      // s3rver cannot abort (405); recover() or a bucket lifecycle rule cleans up.
      spdlog::warn("S3: could not abort multipart upload of {} ({}); recover() will retry", tmp_key_,
                   r ? s3_error(*r, "AbortMultipartUpload").message : r.error().message);
    }
    upload_id_.clear();
  }
  if (tmp_completed_) {
    auto r = client_.execute(S3Request("DELETE", tmp_key_));
    if (!r || (!r->ok() && r->status != 404)) spdlog::warn("S3: could not delete {}; recover() will", tmp_key_);
  }
  buf_ = {};
  inflight_buf_ = {};
}

}  // namespace blobsync::s3
