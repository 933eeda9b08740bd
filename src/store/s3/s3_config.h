// S3Config: where an S3 blob backend keeps its objects and how it talks to them.
//
// Parsed from a store URL (the --store flag or the [store] TOML table):
//
//   s3://[ACCESS_KEY:SECRET_KEY@]BUCKET[/PREFIX]?endpoint=http://host:port
//        &region=R&path_style=1&part_size=8MiB&...
//
// Credentials not in the URL come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
// and AWS_SESSION_TOKEN; the region from region=, else AWS_REGION, else
// us-east-1. Without endpoint= the backend talks to AWS
// (https://s3.REGION.amazonaws.com, virtual-hosted style); with one, path
// style is the default since most self-hosted servers need it. Unknown query
// parameters are errors, so a typo never silently falls back to a default.
// See docs/s3.md for the full list.
//
// Thread safety: plain value type; parse_s3_url is a pure function of its
// arguments.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace blobsync::s3 {

struct S3Config {
  std::string bucket;
  std::string prefix;    // "" or ends with '/': keys are PREFIX "blobs/<hex>"
  std::string endpoint;  // scheme://host[:port], no path
  std::string region = "us-east-1";
  bool path_style = false;  // http://host/BUCKET/key rather than http://BUCKET.host/key
  std::string access_key;
  std::string secret_key;
  std::string session_token;  // sent as x-amz-security-token when set

  // Blobs up to this size are buffered and sent in one PutObject after they
  // were verified; larger ones of unannounced size go up as a multipart
  // upload in parts of this size (S3: 5 MiB..5 GiB; tests use less, which
  // s3rver and fake_s3 accept). Memory per writer: upload_parallelism + 1
  // parts.
  std::uint64_t part_size = 8ull << 20;
  // Blobs whose size the caller announces (BlobBackend::create_writer_sized)
  // and that are larger than part_size but at most this go up as one
  // PutObject streamed while the blob is ingested (no buffering, no
  // per-part hashing, no server-side assembly). 0 disables it. At most
  // 5 GiB (S3's PutObject limit). The cap bounds what a failure costs: a
  // streamed body cannot be resent, so a PUT that fails after its first
  // byte fails the ingest (multipart retries a part).
  std::uint64_t single_put_max = 1ull << 30;
  // Parts of one multipart upload in flight at once (one connection each):
  // one stream rarely fills a link, a few do.
  int upload_parallelism = 3;
  // Objects above this are copied with UploadPartCopy instead of CopyObject
  // (S3's CopyObject limit is 5 GiB); also the size of each copied part.
  std::uint64_t max_copy_size = 5ull << 30;

  int connect_timeout_ms = 5000;
  // Whole-request budget for requests that move no bulk data (HEAD, DELETE,
  // listings, multipart control). Bulk transfers only have the stall detector.
  int request_timeout_ms = 30000;
  // Stall detector: a transfer that moves no byte for this long is aborted
  // (and retried). Also covers servers that accept and never answer.
  int stall_timeout_s = 15;
  // Attempts per request (1 = no retry) on connection errors, stalls, 5xx and
  // 429, with full-jitter exponential backoff from backoff_base_ms.
  int max_attempts = 4;
  int backoff_base_ms = 100;
  int backoff_max_ms = 5000;
  // recover() only removes temporary objects and multipart uploads older than
  // this, so servers sharing a bucket do not abort each other's uploads.
  std::int64_t tmp_grace_s = 24 * 3600;
  // Keys per ListObjectsV2 page (S3 caps it at 1000); tests lower it.
  int list_page_size = 1000;

  // "s3://bucket/prefix at http://host:port (region r, path style)"; no secrets.
  std::string describe() const;
};

using GetEnv = std::function<std::optional<std::string>(const char* name)>;

// The process environment.
std::optional<std::string> process_env(const char* name);

// Errors: kInvalidArgument naming the offending part of the URL.
Result<S3Config> parse_s3_url(std::string_view url, const GetEnv& getenv = process_env);

// Fills credentials and region left empty from the environment and checks the
// config. parse_s3_url calls it; call it yourself for configs built in code.
// Errors: kInvalidArgument (no bucket, no credentials, bad values).
Result<> finish_config(S3Config& config, const GetEnv& getenv = process_env);

}  // namespace blobsync::s3
