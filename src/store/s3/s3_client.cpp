// S3Client: the URLs of a bucket's keys, the backoff, and buffered requests
// (execute(): body and answer in memory, retried as a whole). The curl pool
// and retry rules are in s3_curl.cpp, ranged downloads in s3_download.cpp,
// streamed uploads in s3_upload.cpp, background deletes in s3_deleter.cpp.
#include "store/s3/s3_client.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

#include "store/s3/s3_curl.h"
#include "store/s3/s3_deleter.h"

namespace blobsync::s3 {

Error s3_error(const S3Response& r, std::string_view what) {
  Errc code = Errc::kIOError;
  if (r.status == 404) code = Errc::kNotFound;
  else if (r.status == 401 || r.status == 403) code = Errc::kPermissionDenied;
  else if (r.status >= 400 && r.status < 500 && r.status != 408 && r.status != 429) code = Errc::kInvalidArgument;
  std::string detail = r.error_code.empty() ? "" : " " + r.error_code;
  if (!r.error_message.empty()) detail += ": " + r.error_message;
  return Error{code, fmt::format("S3 {}: HTTP {}{}{}", what, r.status, detail,
                                 r.attempts > 1 ? fmt::format(" (after {} attempts)", r.attempts) : "")};
}

S3Client::S3Client(S3Config config)
    : config_(std::move(config)), impl_(std::make_unique<Impl>(config_)), deleter_(std::make_unique<Deleter>()) {}

S3Client::~S3Client() {
  {
    std::lock_guard lock(deleter_->mu);
    deleter_->stop = true;
    deleter_->cv.notify_all();
  }
  if (deleter_->thread.joinable()) deleter_->thread.join();  // after the pending deletes
}

std::string S3Client::url(std::string_view key, const QueryParams& query) const {
  std::string out;
  if (config_.path_style) {
    out = config_.endpoint + "/" + config_.bucket;
    if (!key.empty()) out += "/" + uri_encode(key, true);
  } else {
    auto scheme_end = config_.endpoint.find("://") + 3;
    out = config_.endpoint.substr(0, scheme_end) + config_.bucket + "." + config_.endpoint.substr(scheme_end) + "/" +
          uri_encode(key, true);
  }
  if (!query.empty()) out += "?" + canonical_query(query);
  return out;
}

std::string S3Client::copy_source(std::string_view key) const {
  return "/" + config_.bucket + "/" + uri_encode(key, true);
}

int S3Client::backoff_ms(int attempt) const {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::int64_t cap = static_cast<std::int64_t>(config_.backoff_base_ms) << std::min(attempt, 20);
  cap = std::min<std::int64_t>(cap, config_.backoff_max_ms);
  return static_cast<int>(std::uniform_int_distribution<std::int64_t>(0, std::max<std::int64_t>(cap, 0))(rng));
}

Result<S3Response> S3Client::execute(const S3Request& req) {
  std::string hash = req.payload_sha256.empty() ? sha256_hex(req.body) : req.payload_sha256;
  std::string url = this->url(req.key, req.query);
  std::string what = req.method + " " + (req.key.empty() ? config_.bucket : req.key);
  for (int attempt = 1;; ++attempt) {
    Slot slot = impl_->acquire();
    Attempt a;
    impl_->setup(slot.easy, url, req.method, hash, req.headers, req.body, req.bulk, a);
    if (req.method != "HEAD") {
      curl_easy_setopt(slot.easy, CURLOPT_WRITEFUNCTION, &on_body);
      curl_easy_setopt(slot.easy, CURLOPT_WRITEDATA, &a);
    }
    CURLcode rc = Impl::run(slot);
    long status = 0;
    curl_easy_getinfo(slot.easy, CURLINFO_RESPONSE_CODE, &status);
    impl_->release(slot);

    if (rc == CURLE_OK) {
      S3Response r = make_response(status, a, attempt, req.error_in_200);
      if (!retryable_response(r) || attempt >= config_.max_attempts) return r;
      int wait = backoff_ms(attempt);
      spdlog::warn("S3 {}: HTTP {} {}; retry {}/{} in {} ms", what, r.status, r.error_code, attempt + 1,
                   config_.max_attempts, wait);
      sleep_ms(wait);
      continue;
    }
    if (!retryable_curl(rc) || attempt >= config_.max_attempts) {
      return std::unexpected(transport_error(rc, a, what, attempt));
    }
    int wait = backoff_ms(attempt);
    spdlog::warn("{}; retry {}/{} in {} ms", transport_error(rc, a, what, attempt).message, attempt + 1,
                 config_.max_attempts, wait);
    sleep_ms(wait);
  }
}

}  // namespace blobsync::s3
