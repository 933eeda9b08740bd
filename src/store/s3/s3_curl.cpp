// The S3 curl layer: the pool of (multi, easy) libcurl pairs requests run
// on, the options they share (SigV4 signing, timeouts, the stall detector),
// the callbacks that fill an Attempt, and the retry rules. See s3_curl.h.
#include "store/s3/s3_curl.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <thread>

#include "store/s3/s3_xml.h"

namespace blobsync::s3 {

namespace {

constexpr std::size_t kMaxBody = 8u << 20;          // listings and error documents
constexpr long kCurlBufferSize = 256 * 1024;         // fewer callbacks for bulk data
constexpr std::size_t kMaxIdleSlots = 32;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* h = static_cast<ResponseHeaders*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    *h = {};  // a new response (after "100 Continue")
    return size * n;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string_view name = trim(line.substr(0, colon));
  std::string_view value = trim(line.substr(colon + 1));
  if (iequals(name, "etag")) {
    h->etag = std::string(value);
  } else if (iequals(name, "content-length")) {
    std::uint64_t v = 0;
    if (std::from_chars(value.data(), value.data() + value.size(), v).ec == std::errc()) h->content_length = v;
  } else if (iequals(name, "content-range")) {
    h->content_range = std::string(value);
  }
  return size * n;
}

size_t on_read(char* dst, size_t size, size_t n, void* user) {
  auto* a = static_cast<Attempt*>(user);
  std::size_t c = std::min(size * n, a->upload.size() - a->upload_pos);
  std::memcpy(dst, a->upload.data() + a->upload_pos, c);
  a->upload_pos += c;
  return c;
}

int on_seek(void* user, curl_off_t offset, int origin) {
  auto* a = static_cast<Attempt*>(user);
  if (origin != SEEK_SET || offset < 0 || static_cast<std::uint64_t>(offset) > a->upload.size()) {
    return CURL_SEEKFUNC_CANTSEEK;
  }
  a->upload_pos = static_cast<std::size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

// libcurl's own LOW_SPEED check averages over a 5 s window, so it fires
// several seconds late after a burst; this one fires stall_timeout_s after
// the last byte moved in either direction.
int on_progress(void* user, curl_off_t, curl_off_t dlnow, curl_off_t, curl_off_t ulnow) {
  auto* a = static_cast<Attempt*>(user);
  if (a->cancel && a->cancel->load()) return 1;
  auto now = std::chrono::steady_clock::now();
  if (dlnow + ulnow != a->last_bytes) {
    a->last_bytes = dlnow + ulnow;
    a->last_progress = now;
    return 0;
  }
  if (now - a->last_progress >= std::chrono::seconds(a->stall_timeout_s)) {
    a->stalled = true;
    return 1;  // CURLE_ABORTED_BY_CALLBACK
  }
  return 0;
}

}  // namespace

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* a = static_cast<Attempt*>(user);
  std::size_t take = std::min(size * n, kMaxBody - std::min(kMaxBody, a->body.size()));
  a->body.append(data, take);
  return size * n;
}

bool retryable_curl(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_ABORTED_BY_CALLBACK:  // only the stall detector aborts
      return true;
    default:
      return false;
  }
}

bool retryable_response(const S3Response& r) {
  if (r.status == 500 || r.status == 502 || r.status == 503 || r.status == 504 || r.status == 429) return true;
  return r.error_code == "RequestTimeout" || r.error_code == "SlowDown" || r.error_code == "InternalError" ||
         r.error_code == "ServiceUnavailable";
}

Error transport_error(CURLcode rc, const Attempt& a, std::string_view what, int attempts) {
  std::string detail = a.stalled ? fmt::format("stalled: no byte moved for {} s", a.stall_timeout_s)
                       : a.errbuf[0] ? std::string(a.errbuf.data())
                                     : std::string(curl_easy_strerror(rc));
  Errc code = rc == CURLE_OPERATION_TIMEDOUT || a.stalled ? Errc::kTimeout : Errc::kIOError;
  return Error{code, fmt::format("S3 {}: {} (after {} attempt{})", what, detail, attempts, attempts == 1 ? "" : "s")};
}

void fill_error_fields(S3Response& r) {
  if (r.body.find("<Error") == std::string::npos) return;
  r.error_code = xml_text(r.body, "Code").value_or("");
  r.error_message = xml_text(r.body, "Message").value_or("");
}

S3Response make_response(long status, Attempt& a, int attempt, bool error_in_200) {
  S3Response r;
  r.status = status;
  r.body = std::move(a.body);
  r.etag = std::move(a.headers.etag);
  r.content_length = a.headers.content_length;
  r.attempts = attempt;
  if (status >= 300 || error_in_200) fill_error_fields(r);
  return r;
}

void sleep_ms(int ms) {
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

S3Client::Impl::Impl(const S3Config& c) : config(c), sigv4("aws:amz:" + c.region + ":s3") {
  global_init();
  share = curl_share_init();
  curl_share_setopt(share, CURLSHOPT_LOCKFUNC, &Impl::lock);
  curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, &Impl::unlock);
  curl_share_setopt(share, CURLSHOPT_USERDATA, this);
  curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
}

S3Client::Impl::~Impl() {
  for (Slot& s : pool) destroy(s);
  curl_share_cleanup(share);
}

void S3Client::Impl::lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
  static_cast<Impl*>(user)->share_locks[data].lock();
}

void S3Client::Impl::unlock(CURL*, curl_lock_data data, void* user) {
  static_cast<Impl*>(user)->share_locks[data].unlock();
}

void S3Client::Impl::destroy(Slot& s) {
  curl_easy_cleanup(s.easy);
  curl_multi_cleanup(s.multi);
}

Slot S3Client::Impl::acquire() {
  {
    std::lock_guard lock(pool_mu);
    if (!pool.empty()) {
      Slot s = pool.back();
      pool.pop_back();
      return s;
    }
  }
  return Slot{curl_multi_init(), curl_easy_init()};
}

void S3Client::Impl::release(Slot s) {
  std::lock_guard lock(pool_mu);
  if (pool.size() < kMaxIdleSlots) {
    pool.push_back(s);
    return;
  }
  destroy(s);
}

void S3Client::Impl::setup(CURL* easy, const std::string& url, const std::string& method,
                           std::string_view payload_hash, const std::vector<std::string>& extra_headers,
                           std::span<const std::byte> body, bool bulk, Attempt& a) {
  curl_easy_reset(easy);
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_SHARE, share);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  curl_easy_setopt(easy, CURLOPT_AWS_SIGV4, sigv4.c_str());
  curl_easy_setopt(easy, CURLOPT_USERNAME, config.access_key.c_str());
  curl_easy_setopt(easy, CURLOPT_PASSWORD, config.secret_key.c_str());
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config.connect_timeout_ms));
  if (!bulk) curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(config.request_timeout_ms));
  a.stall_timeout_s = config.stall_timeout_s;
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, &on_progress);
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &a);
  curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, kCurlBufferSize);
  curl_easy_setopt(easy, CURLOPT_UPLOAD_BUFFERSIZE, kCurlBufferSize);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, a.errbuf.data());
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &a.headers);

  // Without this header libcurl 7.88 signs sha256("") for any body.
  std::string sha = "x-amz-content-sha256: " + std::string(payload_hash);
  a.header_list = curl_slist_append(a.header_list, sha.c_str());
  // No "Expect:" override: libcurl 7.88 would sign the removed header and S3 would refuse the signature.
  if (!config.session_token.empty()) {
    std::string token = "x-amz-security-token: " + config.session_token;
    a.header_list = curl_slist_append(a.header_list, token.c_str());
  }
  for (const auto& h : extra_headers) a.header_list = curl_slist_append(a.header_list, h.c_str());
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, a.header_list);

  if (method == "HEAD") {
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  } else if (method == "PUT" || method == "POST") {
    a.upload = body;
    a.upload_pos = 0;
    curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(easy, CURLOPT_READFUNCTION, &on_read);
    curl_easy_setopt(easy, CURLOPT_READDATA, &a);
    curl_easy_setopt(easy, CURLOPT_SEEKFUNCTION, &on_seek);
    curl_easy_setopt(easy, CURLOPT_SEEKDATA, &a);
    curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body.size()));
    if (method == "POST") curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, "POST");
  } else if (method != "GET") {
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
}

CURLcode S3Client::Impl::run(Slot& s) {
  curl_multi_add_handle(s.multi, s.easy);
  CURLcode result = CURLE_OK;
  for (;;) {
    int running = 0;
    if (curl_multi_perform(s.multi, &running) != CURLM_OK) {
      result = CURLE_FAILED_INIT;
      break;
    }
    bool done = false;
    int queued = 0;
    while (CURLMsg* m = curl_multi_info_read(s.multi, &queued)) {
      if (m->msg == CURLMSG_DONE) {
        result = m->data.result;
        done = true;
      }
    }
    if (done) break;
    curl_multi_poll(s.multi, nullptr, 0, 1000, nullptr);
  }
  curl_multi_remove_handle(s.multi, s.easy);
  return result;
}

}  // namespace blobsync::s3
