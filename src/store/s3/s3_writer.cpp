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

S3Writer::S3Writer(S3Client& client, std::optional<Digest> expected, std::optional<std::uint64_t> size)
    : client_(client), config_(client.config()), expected_(expected), size_(size),
      streaming_(size && *size > config_.part_size && *size <= config_.single_put_max) {}

S3Writer::~S3Writer() { abort(); }

Result<> S3Writer::fail_with(Error e) {
  error_ = e;
  abort();
  return std::unexpected(std::move(e));
}

Result<> S3Writer::append(std::span<const std::byte> data) {
  if (error_) return std::unexpected(*error_);
  if (finished_) return fail(Errc::kInternal, "S3 writer: append after commit or abort");
  if (size_ && data.size() > *size_ - total_) {
    return fail_with(Error{Errc::kInvalidArgument,
                           fmt::format("S3 writer: more than the {} bytes announced were appended", *size_)});
  }
  if (streaming_) return append_stream(data);
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

Result<> S3Writer::start_stream() {
  stream_started_ = true;
  if (expected_) {
    upload_key_ = blob_key(config_.prefix, *expected_);
    auto exists = has_full_object(upload_key_, *size_);
    if (!exists) return fail_with(exists.error());
    if (*exists) {
      stream_dedup_ = true;  // stored already: nothing to send
      return {};
    }
    // Signed with the blob digest: a server that checks payloads refuses other bytes.
    upload_ = client_.upload(S3Request("PUT", upload_key_).with_body({}, expected_->hex()), *size_);
  } else {
    upload_key_ = new_tmp_key(config_.prefix);
    upload_ = client_.upload(S3Request("PUT", upload_key_).with_body({}, std::string(kUnsignedPayload)), *size_);
  }
  stream_unfinished_ = true;
  return {};
}

Result<> S3Writer::append_stream(std::span<const std::byte> data) {
  if (data.empty()) return {};
  if (!stream_started_) {
    if (auto r = start_stream(); !r) return r;
  }
  total_ += data.size();
  if (stream_dedup_) return {};
  if (total_ == *size_) {
    // The last byte waits for commit(): until then the server cannot have a complete body.
    last_byte_ = data.back();
    data = data.first(data.size() - 1);
  }
  if (auto r = upload_->write(data); !r) return fail_with(r.error());
  return {};
}

Result<> S3Writer::commit_stream(const std::string& final_key) {
  if (stream_dedup_) return {};
  if (auto r = upload_->write(std::span(&last_byte_, 1)); !r) return r;
  auto put = upload_->finish();
  upload_.reset();
  if (!put) return std::unexpected(put.error());
  if (!put->ok()) {
    Error e = s3_error(*put, "PutObject " + upload_key_);
    if (put->error_code == "XAmzContentSHA256Mismatch" || put->error_code == "BadDigest") e.code = Errc::kCorruption;
    return std::unexpected(std::move(e));  // fail_with -> abort() -> clean_up_stream()
  }
  stream_unfinished_ = false;
  if (expected_) return {};  // blobs/<hex> holds the verified bytes
  tmp_completed_ = true;
  // Belt and braces, as after a multipart upload: the copy takes exactly what was sent.
  auto complete = has_full_object(upload_key_);
  if (!complete) return std::unexpected(complete.error());
  if (!*complete) {
    return fail(Errc::kCorruption, "S3 {}: the stored object does not have the {} bytes sent", upload_key_, total_);
  }
  return publish_tmp(final_key);
}

void S3Writer::clean_up_stream() {
  // An atomic PutObject cut off before its last byte stores nothing. Servers
  // that write in place (s3rver) keep a short object: remove it. A tmp/ key
  // is ours alone; under blobs/ only an object of another size goes (one of
  // the announced size is a verified copy from another writer, since ours
  // never got its last byte).
  if (!expected_) {
    auto r = client_.execute(S3Request("DELETE", upload_key_));
    if (!r || (!r->ok() && r->status != 404)) spdlog::warn("S3: could not delete {}; recover() will", upload_key_);
    return;
  }
  auto head = client_.execute(S3Request("HEAD", upload_key_));
  if (!head || !head->ok() || head->content_length == size_) return;
  auto r = client_.execute(S3Request("DELETE", upload_key_));
  if (!r || (!r->ok() && r->status != 404)) {
    spdlog::error("S3: could not delete the short object {} left by a cut-off upload", upload_key_);
  }
}

Result<> S3Writer::start_multipart() {
  upload_key_ = expected_ ? blob_key(config_.prefix, *expected_) : new_tmp_key(config_.prefix);
  auto r = client_.execute(S3Request("POST", upload_key_, {{"uploads", ""}}));
  if (!r) return fail_with(r.error());
  if (!r->ok()) return fail_with(s3_error(*r, "CreateMultipartUpload " + upload_key_));
  auto id = xml_text(r->body, "UploadId");
  if (!id || id->empty()) {
    return fail_with(Error{Errc::kIOError, "S3 CreateMultipartUpload " + upload_key_ + ": no UploadId in the answer"});
  }
  upload_id_ = std::move(*id);
  return {};
}

Result<> S3Writer::wait_oldest() {
  Part part = std::move(inflight_.front());
  inflight_.pop_front();
  Result<std::string> etag = part.etag.get();
  spare_ = std::move(part.buf);
  if (!etag) return fail_with(etag.error());
  if (etags_.size() < static_cast<std::size_t>(part.number)) etags_.resize(static_cast<std::size_t>(part.number));
  etags_[static_cast<std::size_t>(part.number - 1)] = std::move(*etag);
  return {};
}

Result<> S3Writer::wait_all() {
  while (!inflight_.empty()) {
    if (auto r = wait_oldest(); !r) return r;
  }
  return {};
}

Result<> S3Writer::flush_part() {
  if (upload_id_.empty()) {
    if (auto r = start_multipart(); !r) return r;
  }
  while (inflight_.size() >= static_cast<std::size_t>(config_.upload_parallelism)) {
    if (auto r = wait_oldest(); !r) return r;
  }
  if (parts_started_ >= kMaxParts) {
    return fail_with(
        Error{Errc::kTooLarge, fmt::format("S3: blob larger than {} parts of {} bytes", kMaxParts, config_.part_size)});
  }
  std::string sha = part_hash_.finish().hex();
  Part& part = inflight_.emplace_back();
  part.number = ++parts_started_;
  part.buf = std::exchange(buf_, std::move(spare_));
  buf_.clear();
  // The deque never moves its elements' buffers: the span stays valid until wait_oldest().
  std::span<const std::byte> data(part.buf);
  part.etag = std::async(std::launch::async, [this, number = part.number, data, sha = std::move(sha)] {
    return upload_part(number, data, sha);
  });
  return {};
}

Result<std::string> S3Writer::upload_part(int number, std::span<const std::byte> data, const std::string& sha256) {
  auto r =
      client_.execute(S3Request("PUT", upload_key_, {{"partNumber", std::to_string(number)}, {"uploadId", upload_id_}})
                          .with_body(data, sha256)
                          .as_bulk());
  std::string what = fmt::format("UploadPart {} of {}", number, upload_key_);
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
  auto r = client_.execute(S3Request("POST", upload_key_, {{"uploadId", upload_id_}})
                               .with_headers({"Content-Type: application/xml"})
                               .with_body(body)
                               .as_bulk()
                               .with_error_in_200());
  if (!r) return std::unexpected(r.error());
  if (!r->ok()) {
    // A retried Complete whose first try succeeded finds no upload: that is success if the object is there.
    bool maybe_done = r->attempts > 1 && r->status == 404;
    if (!maybe_done) return std::unexpected(s3_error(*r, "CompleteMultipartUpload " + upload_key_));
  }
  tmp_completed_ = !expected_;
  upload_id_.clear();
  // Belt and braces: the size must be what we sent.
  auto head = client_.execute(S3Request("HEAD", upload_key_));
  if (!head) return std::unexpected(head.error());
  if (!head->ok()) return std::unexpected(s3_error(*head, "HEAD " + upload_key_));
  if (head->content_length != total_) {
    return fail(Errc::kCorruption, "S3 {}: completed object has {} bytes, {} were uploaded", upload_key_,
                head->content_length.value_or(0), total_);
  }
  return {};
}

Result<bool> S3Writer::has_full_object(const std::string& key, std::uint64_t size) {
  auto head = client_.execute(S3Request("HEAD", key));
  if (!head) return std::unexpected(head.error());
  if (head->ok()) return head->content_length == size;
  if (head->status != 404) return std::unexpected(s3_error(*head, "HEAD " + key));
  return false;
}

Result<> S3Writer::publish_tmp(const std::string& final_key) {
  auto exists = has_full_object(final_key);
  if (!exists) return std::unexpected(exists.error());
  if (!*exists) {
    if (auto r = copy_to(final_key); !r) return r;
  }
  tmp_completed_ = false;
  client_.delete_later(upload_key_);  // the blob is committed; the temporary object goes off this path
  return {};
}

Result<> S3Writer::copy_to(const std::string& final_key) {
  if (total_ > config_.max_copy_size) return multipart_copy(final_key);
  auto r = client_.execute(S3Request("PUT", final_key)
                               .with_headers({"x-amz-copy-source: " + client_.copy_source(upload_key_)})
                               .as_bulk()
                               .with_error_in_200());
  if (!r) return std::unexpected(r.error());
  if (!r->ok()) return std::unexpected(s3_error(*r, "CopyObject " + upload_key_ + " to " + final_key));
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
                                 .with_headers({"x-amz-copy-source: " + client_.copy_source(upload_key_),
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
  if (expected_ && digest != *expected_) {
    return fail_with(Error{Errc::kInternal, "S3 writer: commit under a digest other than the expected one"});
  }
  if (size_ && total_ != *size_) {
    return fail_with(Error{Errc::kInvalidArgument,
                           fmt::format("S3 writer: {} bytes appended, {} announced", total_, *size_)});
  }
  const std::string final_key = blob_key(config_.prefix, digest);
  Result<> r = streaming_ && stream_started_ ? commit_stream(final_key)
               : upload_id_.empty()         ? commit_single(final_key, digest)
               : expected_       ? commit_direct(final_key)
                                 : commit_via_tmp(final_key);
  if (!r) return fail_with(r.error());
  finished_ = true;
  buf_ = {};
  spare_ = {};
  return {};
}

Result<> S3Writer::commit_single(const std::string& final_key, const Digest& digest) {
  // Dedup check, then a single PutObject that S3 verifies against the digest.
  auto exists = has_full_object(final_key);
  if (!exists) return std::unexpected(exists.error());
  if (*exists) return {};
  auto put = client_.execute(S3Request("PUT", final_key).with_body(buf_, digest.hex()).as_bulk());
  if (!put) return std::unexpected(put.error());
  if (!put->ok()) {
    Error e = s3_error(*put, "PutObject " + final_key);
    if (put->error_code == "XAmzContentSHA256Mismatch" || put->error_code == "BadDigest") e.code = Errc::kCorruption;
    return std::unexpected(std::move(e));
  }
  return {};
}

Result<> S3Writer::commit_direct(const std::string& final_key) {
  if (auto r = flush_part(); !r) return r;
  if (auto r = wait_all(); !r) return r;
  auto exists = has_full_object(final_key);
  if (!exists) return std::unexpected(exists.error());
  if (*exists) {
    abort_upload();  // dedup: the stored copy stays
    return {};
  }
  if (auto r = complete_multipart(); !r) {
    if (r.error().code == Errc::kCorruption) {
      // The server assembled something else: never leave it visible.
      auto d = client_.execute(S3Request("DELETE", final_key));
      if (!d || (!d->ok() && d->status != 404)) spdlog::error("S3: could not delete bad object {}", final_key);
    }
    return r;
  }
  return {};
}

Result<> S3Writer::commit_via_tmp(const std::string& final_key) {
  if (auto r = flush_part(); !r) return r;
  if (auto r = wait_all(); !r) return r;
  if (auto r = complete_multipart(); !r) return r;
  return publish_tmp(final_key);
}

void S3Writer::abort_upload() {
  if (upload_id_.empty()) return;
  auto r = client_.execute(S3Request("DELETE", upload_key_, {{"uploadId", upload_id_}}));
  if (!r || (!r->ok() && r->status != 404)) {
    // s3rver cannot abort (405); recover() or a bucket lifecycle rule cleans up.
    spdlog::warn("S3: could not abort multipart upload of {} ({}); recover() will retry", upload_key_,
                 r ? s3_error(*r, "AbortMultipartUpload").message : r.error().message);
  }
  upload_id_.clear();
}

void S3Writer::abort() {
  if (finished_) return;
  finished_ = true;
  for (auto& part : inflight_) part.etag.wait();
  inflight_.clear();
  abort_upload();
  if (upload_) upload_->abort();
  upload_.reset();
  if (stream_unfinished_) {
    stream_unfinished_ = false;
    clean_up_stream();
  }
  if (tmp_completed_) {
    auto r = client_.execute(S3Request("DELETE", upload_key_));
    if (!r || (!r->ok() && r->status != 404)) spdlog::warn("S3: could not delete {}; recover() will", upload_key_);
  }
  buf_ = {};
  spare_ = {};
}

}  // namespace blobsync::s3
