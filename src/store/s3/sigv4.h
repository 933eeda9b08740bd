// SigV4: the pieces of AWS Signature Version 4 that an S3 client needs.
//
// libcurl (CURLOPT_AWS_SIGV4) signs the requests blobsync sends, but Debian
// 12's libcurl 7.88.1 signs the query string exactly as written, so every
// URL must already carry the canonical query (sorted, AWS-encoded, "name=" for
// bare names): canonical_query() builds it. The full signer below is the
// reference the tests check against the published AWS examples, and the
// definition of what libcurl must produce.
//
// Thread safety: pure functions.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace blobsync::s3 {

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// AWS URI encoding: every byte except A-Z a-z 0-9 - _ . ~ becomes %XX
// (uppercase hex); '/' is kept when keep_slash (paths) and encoded otherwise.
std::string uri_encode(std::string_view text, bool keep_slash);

// "a=1&b=&c=x%2Fy": names and values encoded, sorted by name then value.
std::string canonical_query(const QueryParams& params);

// Lowercase hex SHA-256 of data ("e3b0c442..." for nothing).
std::string sha256_hex(std::span<const std::byte> data);

struct SigV4Key {
  std::string access_key;
  std::string secret_key;
  std::string region;
  std::string service = "s3";
};

struct SigV4Request {
  std::string method;           // "GET"
  std::string canonical_uri;    // already encoded: uri_encode(path, true)
  std::string canonical_query;  // canonical_query(...)
  // Every header here is signed (names in any case, values as sent). Host,
  // x-amz-date and x-amz-content-sha256 must be among them for S3.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload_hash;  // hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
};

struct SigV4Result {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;  // "host;range;x-amz-date"
  std::string signature;       // 64 hex
  std::string authorization;   // the Authorization header value
};

// REQUIRES: amz_date is "YYYYMMDDTHHMMSSZ".
SigV4Result sign(const SigV4Request& request, const SigV4Key& key, std::string_view amz_date);

}  // namespace blobsync::s3
