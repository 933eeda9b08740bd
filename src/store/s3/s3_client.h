// S3Client: signed requests to one S3 bucket over libcurl, with timeouts,
// a stall detector and retries.
//
// Signing is libcurl's (CURLOPT_AWS_SIGV4 "aws:amz:REGION:s3"). Two libcurl
// 7.88 pitfalls are handled here, not by callers: every request carries an
// explicit x-amz-content-sha256 (otherwise curl signs sha256("") whatever the
// body), and every URL carries its query already in canonical order and
// encoding (curl signs it verbatim).
//
// Requests are retried on connection errors, stalls (no byte moved for
// stall_timeout_s), HTTP 5xx, 429 and S3 "RequestTimeout", after a full-jitter
// exponential backoff; bodies are in memory so a retry resends them. Any other
// HTTP answer is returned to the caller as an S3Response, which s3_error()
// turns into a blobsync Error.
//
// Each request runs on a pooled (multi, easy) libcurl pair, so connections are
// reused; DNS is shared between pairs.
//
// Thread safety: an S3Client is safe for concurrent use from any number of
// threads. An S3Download is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "store/s3/s3_config.h"
#include "store/s3/sigv4.h"

namespace blobsync::s3 {

inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

struct S3Request {
  S3Request(std::string m, std::string k = {}, QueryParams q = {})
      : method(std::move(m)), key(std::move(k)), query(std::move(q)) {}
  S3Request& with_headers(std::vector<std::string> h) {
    headers = std::move(h);
    return *this;
  }
  S3Request& with_body(std::span<const std::byte> b, std::string sha256 = {}) {
    body = b;
    payload_sha256 = std::move(sha256);
    return *this;
  }
  S3Request& as_bulk() {
    bulk = true;
    return *this;
  }
  S3Request& with_error_in_200() {
    error_in_200 = true;
    return *this;
  }

  std::string method = "GET";  // GET HEAD PUT POST DELETE
  std::string key;             // full object key (prefix included); empty: the bucket
  QueryParams query;
  std::vector<std::string> headers;  // extra "Name: value" lines
  std::span<const std::byte> body;   // must outlive the call (resent on retry)
  // Hex SHA-256 of body; empty means "compute it"; or kUnsignedPayload.
  std::string payload_sha256;
  // Moves bulk data (parts, copies): no whole-request timeout, only the stall detector.
  bool bulk = false;
  // CompleteMultipartUpload and copies may answer 200 with an <Error> body.
  bool error_in_200 = false;
};

struct S3Response {
  long status = 0;
  std::string body;        // at most a few MiB (listings, errors)
  std::string error_code;  // <Code> of an error body ("NoSuchKey"), if any
  std::string error_message;
  std::string etag;  // as sent, quotes included
  std::optional<std::uint64_t> content_length;
  int attempts = 0;

  bool ok() const { return status >= 200 && status < 300 && error_code.empty(); }
};

// kNotFound for 404, kPermissionDenied for 401/403, kInvalidArgument for
// other 4xx, kIOError otherwise; the message names the request and S3's code.
Error s3_error(const S3Response& response, std::string_view what);

class S3Download;
class S3Upload;

class S3Client {
 public:
  // REQUIRES: config passed finish_config().
  explicit S3Client(S3Config config);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  const S3Config& config() const { return config_; }

  // Errors (transport only, after the last attempt): kTimeout for stalls and
  // timeouts, kIOError for connection failures. HTTP errors come back as a
  // response; see s3_error().
  Result<S3Response> execute(const S3Request& request);

  // Streams [offset, offset + length) of `key`: one ranged GET, resumed from
  // the first missing byte after a connection error or stall. Memory is
  // bounded (about 1.5 MiB) whatever the length. The first request is sent
  // by the first read().
  std::unique_ptr<S3Download> download(std::string key, std::uint64_t offset, std::uint64_t length);

  // Starts `request` (a PUT; its body field is ignored) with a body of
  // exactly `length` bytes that the caller produces while it is sent, through
  // S3Upload::write(). See S3Upload.
  std::unique_ptr<S3Upload> upload(S3Request request, std::uint64_t length);

  // Deletes `key` on a background thread, off the caller's path (temporary
  // objects after their copy). Best effort: a failure is logged and left to
  // S3Backend::recover(). The destructor waits for pending deletes.
  void delete_later(std::string key);
  // Waits until every delete_later() issued so far has run (tests).
  void drain_deletes();

  // The URL of key (empty: the bucket) with a canonical query.
  std::string url(std::string_view key, const QueryParams& query = {}) const;
  // x-amz-copy-source value for key: "/bucket/key", encoded.
  std::string copy_source(std::string_view key) const;

  // Backoff before attempt `attempt` (>= 1): uniform in [0, min(max, base * 2^attempt)].
  int backoff_ms(int attempt) const;

  struct Impl;

 private:
  friend class S3Download;
  friend class S3Upload;
  struct Deleter;
  S3Config config_;
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<Deleter> deleter_;  // stopped first by the destructor
};

class S3Download {
 public:
  ~S3Download();
  // Reads up to buf.size() bytes; 0 at the end of the range. Errors:
  // kNotFound, kTimeout, kIOError (e.g. the server ignored the range or
  // returned fewer bytes than asked after every retry).
  Result<std::size_t> read(std::span<std::byte> buf);
  std::uint64_t remaining() const { return end_ - delivered_; }

 private:
  friend class S3Client;
  struct State;
  S3Download(S3Client& client, std::string key, std::uint64_t offset, std::uint64_t length);

  S3Client& client_;
  std::string key_;
  std::uint64_t delivered_;  // absolute offset of the next byte read() returns
  std::uint64_t end_;
  std::unique_ptr<State> state_;
};

// A request whose body is streamed from the caller: one PutObject of a blob
// while it is being ingested. The request runs on a thread of its own;
// write() blocks until libcurl has taken the bytes (its read callback copies
// them straight from the caller's span into the socket buffer: no copy of
// ours, bounded memory whatever the length). Nothing of the body is kept, so
// the request is retried (as execute() does: connection errors, 5xx, 429...)
// only while no body byte has been taken yet (libcurl sends "Expect:
// 100-continue", so a server that refuses the request does so before the
// body); a failure after that is final. The stall detector does not count
// time spent waiting for write() (a slow producer is not a stalled server).
//
// Thread safety: one producer thread at a time (write/finish/abort).
class S3Upload {
 public:
  ~S3Upload();  // abort() unless finish() was called
  S3Upload(const S3Upload&) = delete;
  S3Upload& operator=(const S3Upload&) = delete;

  // Blocks until every byte of data has been taken by the connection.
  // Errors: the request's (kIOError, kTimeout, an HTTP error answered before
  // the body was complete); kInvalidArgument past `length` bytes. After an
  // error every call fails.
  Result<> write(std::span<const std::byte> data);
  // REQUIRES: exactly `length` bytes were written. Waits for the answer:
  // transport errors as errors, HTTP answers (also errors) as a response.
  Result<S3Response> finish();
  // Cuts the request off: if the body is not complete the server never
  // receives its last byte (a PutObject then stores nothing). Waits for the
  // request's thread. Safe to call more than once.
  void abort();

  // Body bytes taken by the connection so far.
  std::uint64_t sent() const;

 private:
  friend class S3Client;
  struct State;
  explicit S3Upload(std::unique_ptr<State> state);
  void run();
  std::unique_ptr<State> state_;
  bool finished_ = false;
};

}  // namespace blobsync::s3
