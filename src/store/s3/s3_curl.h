// S3 curl layer (internal to store/s3): the pool of (multi, easy) libcurl
// pairs every S3Client request runs on, the options they share (SigV4,
// timeouts, the stall detector), one attempt's buffers, and the retry rules
// (which transport errors and HTTP answers are retried, and the errors they
// become). Included only by the s3_*.cpp files that send requests.
//
// Thread safety: S3Client::Impl is safe for concurrent use (the pool and the
// shared DNS/TLS cache are locked); a Slot and an Attempt belong to one
// request at a time.
#pragma once

#include <curl/curl.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "store/s3/s3_client.h"

namespace blobsync::s3 {

struct ResponseHeaders {
  std::string etag;
  std::optional<std::uint64_t> content_length;
  std::string content_range;
};

// One attempt's buffers; must outlive the transfer that points into it.
struct Attempt {
  ResponseHeaders headers;
  std::string body;
  std::span<const std::byte> upload;
  std::size_t upload_pos = 0;
  curl_slist* header_list = nullptr;
  std::array<char, CURL_ERROR_SIZE> errbuf{};
  // Stall detector: when the byte counters last moved.
  std::chrono::steady_clock::time_point last_progress = std::chrono::steady_clock::now();
  curl_off_t last_bytes = -1;
  int stall_timeout_s = 0;
  bool stalled = false;
  // Set by another thread to cut the transfer off (S3Upload::abort).
  const std::atomic<bool>* cancel = nullptr;

  Attempt() = default;
  Attempt(const Attempt&) = delete;
  Attempt& operator=(const Attempt&) = delete;
  ~Attempt() { curl_slist_free_all(header_list); }
};

// libcurl write callback that keeps the first few MiB of a body (listings,
// error documents) in the Attempt.
size_t on_body(char* data, size_t size, size_t n, void* user);

bool retryable_curl(CURLcode rc);
bool retryable_response(const S3Response& r);
Error transport_error(CURLcode rc, const Attempt& a, std::string_view what, int attempts);
// Fills error_code and error_message from an <Error> body, if it is one.
void fill_error_fields(S3Response& r);
S3Response make_response(long status, Attempt& a, int attempt, bool error_in_200);
void sleep_ms(int ms);

struct Slot {
  CURLM* multi = nullptr;
  CURL* easy = nullptr;
};

struct S3Client::Impl {
  const S3Config& config;
  std::string sigv4;
  CURLSH* share = nullptr;
  std::array<std::mutex, CURL_LOCK_DATA_LAST> share_locks;
  std::mutex pool_mu;
  std::vector<Slot> pool;

  explicit Impl(const S3Config& c);
  ~Impl();

  static void lock(CURL*, curl_lock_data data, curl_lock_access, void* user);
  static void unlock(CURL*, curl_lock_data data, void* user);
  static void destroy(Slot& s);

  Slot acquire();
  void release(Slot s);

  // Options every request shares. `a` receives headers, the upload source
  // and the error text.
  void setup(CURL* easy, const std::string& url, const std::string& method, std::string_view payload_hash,
             const std::vector<std::string>& extra_headers, std::span<const std::byte> body, bool bulk,
             Attempt& a);

  // Runs the slot's transfer to completion.
  static CURLcode run(Slot& s);
};

}  // namespace blobsync::s3
