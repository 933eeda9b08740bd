#include "store/s3/s3_client.h"

#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include "store/s3/s3_xml.h"

namespace blobsync::s3 {

namespace {

constexpr std::size_t kMaxBody = 8u << 20;          // listings and error documents
constexpr long kCurlBufferSize = 256 * 1024;         // fewer callbacks for bulk data
constexpr std::size_t kDownloadBuffer = 1280 * 1024;  // read-ahead per download
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

struct ResponseHeaders {
  std::string etag;
  std::optional<std::uint64_t> content_length;
  std::string content_range;
};

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

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* a = static_cast<Attempt*>(user);
  std::size_t take = std::min(size * n, kMaxBody - std::min(kMaxBody, a->body.size()));
  a->body.append(data, take);
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

}  // namespace

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

// ---------------------------------------------------------------------------

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

  explicit Impl(const S3Config& c) : config(c), sigv4("aws:amz:" + c.region + ":s3") {
    global_init();
    share = curl_share_init();
    curl_share_setopt(share, CURLSHOPT_LOCKFUNC, &Impl::lock);
    curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, &Impl::unlock);
    curl_share_setopt(share, CURLSHOPT_USERDATA, this);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }
  ~Impl() {
    for (Slot& s : pool) destroy(s);
    curl_share_cleanup(share);
  }

  static void lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
    static_cast<Impl*>(user)->share_locks[data].lock();
  }
  static void unlock(CURL*, curl_lock_data data, void* user) { static_cast<Impl*>(user)->share_locks[data].unlock(); }

  static void destroy(Slot& s) {
    curl_easy_cleanup(s.easy);
    curl_multi_cleanup(s.multi);
  }

  Slot acquire() {
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

  void release(Slot s) {
    std::lock_guard lock(pool_mu);
    if (pool.size() < kMaxIdleSlots) {
      pool.push_back(s);
      return;
    }
    destroy(s);
  }

  // Options every request shares. `a` receives headers, the upload source
  // and the error text.
  void setup(CURL* easy, const std::string& url, const std::string& method, std::string_view payload_hash,
             const std::vector<std::string>& extra_headers, std::span<const std::byte> body, bool bulk,
             Attempt& a) {
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

  // Runs the slot's transfer to completion.
  static CURLcode run(Slot& s) {
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
};

// One thread, started at the first delete_later(), working through a queue.
struct S3Client::Deleter {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> queue;
  std::uint64_t queued = 0, done = 0;
  bool stop = false;
  std::thread thread;

  void run(S3Client& client) {
    std::unique_lock lock(mu);
    for (;;) {
      cv.wait(lock, [&] { return stop || !queue.empty(); });
      if (queue.empty()) return;  // stop, nothing pending
      std::string key = std::move(queue.front());
      queue.pop_front();
      lock.unlock();
      auto r = client.execute(S3Request("DELETE", key));
      if (!r || (!r->ok() && r->status != 404)) {
        spdlog::warn("S3: could not delete {} ({}); recover() will", key,
                     r ? s3_error(*r, "DELETE").message : r.error().message);
      }
      lock.lock();
      ++done;
      cv.notify_all();
    }
  }
};

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

void S3Client::delete_later(std::string key) {
  std::lock_guard lock(deleter_->mu);
  deleter_->queue.push_back(std::move(key));
  ++deleter_->queued;
  if (!deleter_->thread.joinable()) deleter_->thread = std::thread([this] { deleter_->run(*this); });
  deleter_->cv.notify_all();
}

void S3Client::drain_deletes() {
  std::unique_lock lock(deleter_->mu);
  std::uint64_t target = deleter_->queued;
  deleter_->cv.wait(lock, [&] { return deleter_->done >= target; });
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

// ---------------------------------------------------------------------------
// S3Download: one ranged GET driven from read(). The write callback fills the
// caller's buffer directly and parks the rest in a bounded read-ahead buffer;
// when that is full it pauses the transfer (CURL_WRITEFUNC_PAUSE) until the
// next read() makes room.

struct S3Download::State {
  S3Client::Impl* impl = nullptr;
  Slot slot;
  bool has_slot = false;
  bool active = false;  // the easy handle is in the multi
  bool paused = false;
  std::unique_ptr<Attempt> attempt = std::make_unique<Attempt>();  // fresh per request
  std::uint64_t fetch_pos = 0;  // absolute offset of the next byte from the network
  std::uint64_t end = 0;
  std::uint64_t attempt_start = 0;
  int failures = 0;  // consecutive attempts that delivered nothing

  bool checked = false;  // status and Content-Range looked at
  long status = 0;
  bool http_error = false;
  bool range_error = false;
  std::string error_body;
  std::optional<Error> fatal;

  std::vector<std::byte> buf = std::vector<std::byte>(kDownloadBuffer);
  std::size_t head = 0, tail = 0;
  std::byte* direct = nullptr;
  std::size_t direct_cap = 0, direct_len = 0;

  ~State() {
    if (has_slot) {
      if (active) curl_multi_remove_handle(slot.multi, slot.easy);
      impl->release(slot);
    }
  }

  static size_t on_data(char* data, size_t size, size_t n, void* user) {
    auto* s = static_cast<State*>(user);
    n *= size;
    if (!s->checked) {
      s->checked = true;
      curl_easy_getinfo(s->slot.easy, CURLINFO_RESPONSE_CODE, &s->status);
      if (s->status == 206) {
        // "bytes 100-199/1000": must start where we asked.
        std::string_view cr = s->attempt->headers.content_range;
        std::uint64_t first = 0;
        auto sp = cr.find(' ');
        if (sp == std::string_view::npos ||
            std::from_chars(cr.data() + sp + 1, cr.data() + cr.size(), first).ec != std::errc() ||
            first != s->fetch_pos) {
          s->range_error = true;
          return 0;
        }
      } else if (s->status == 200) {
        // A server that ignores Range sends the whole object: fine only if that is what we asked for.
        if (s->fetch_pos != 0 || s->attempt->headers.content_length != s->end) {
          s->range_error = true;
          return 0;
        }
      } else {
        s->http_error = true;
      }
    }
    if (s->http_error) {
      if (s->error_body.size() < 65536) s->error_body.append(data, std::min<std::size_t>(n, 65536));
      return n;
    }
    if (n > s->end - s->fetch_pos) {
      s->range_error = true;  // more bytes than the range holds
      return 0;
    }
    std::size_t to_direct = s->direct ? std::min(n, s->direct_cap - s->direct_len) : 0;
    std::size_t rest = n - to_direct;
    std::size_t unread = s->tail - s->head;
    if (rest > 0 && unread + rest > s->buf.size()) {
      if (unread > 0) {
        s->paused = true;
        return CURL_WRITEFUNC_PAUSE;
      }
      s->buf.resize(rest);  // an oversized delivery after a pause; cannot happen with curl's chunking
    }
    std::memcpy(s->direct + s->direct_len, data, to_direct);
    s->direct_len += to_direct;
    if (rest > 0) {
      if (s->tail + rest > s->buf.size()) {
        std::memmove(s->buf.data(), s->buf.data() + s->head, unread);
        s->head = 0;
        s->tail = unread;
      }
      std::memcpy(s->buf.data() + s->tail, data + to_direct, rest);
      s->tail += rest;
    }
    s->fetch_pos += n;
    return n;
  }
};

S3Download::S3Download(S3Client& client, std::string key, std::uint64_t offset, std::uint64_t length)
    : client_(client), key_(std::move(key)), delivered_(offset), end_(offset + length),
      state_(std::make_unique<State>()) {
  state_->impl = client_.impl_.get();
  state_->fetch_pos = offset;
  state_->end = end_;
}

S3Download::~S3Download() = default;

std::unique_ptr<S3Download> S3Client::download(std::string key, std::uint64_t offset, std::uint64_t length) {
  return std::unique_ptr<S3Download>(new S3Download(*this, std::move(key), offset, length));
}

Result<std::size_t> S3Download::read(std::span<std::byte> out) {
  State& s = *state_;
  if (s.fatal) return std::unexpected(*s.fatal);
  if (delivered_ >= end_ || out.empty()) return 0;
  auto drain = [&]() -> std::size_t {
    std::size_t c = std::min(out.size(), s.tail - s.head);
    std::memcpy(out.data(), s.buf.data() + s.head, c);
    s.head += c;
    if (s.head == s.tail) s.head = s.tail = 0;
    return c;
  };
  if (s.tail > s.head) {
    std::size_t c = drain();
    delivered_ += c;
    return c;
  }
  const S3Config& config = client_.config();
  std::string what = "GET " + key_;
  s.direct = out.data();
  s.direct_cap = out.size();
  s.direct_len = 0;
  while (s.direct_len == 0 && s.tail == s.head) {
    if (!s.active) {
      // (Re)start the ranged GET at the first byte not yet received.
      if (!s.has_slot) {
        s.slot = s.impl->acquire();
        s.has_slot = true;
      }
      s.attempt = std::make_unique<Attempt>();
      s.checked = s.http_error = s.range_error = s.paused = false;
      s.error_body.clear();
      s.attempt_start = s.fetch_pos;
      std::vector<std::string> headers{fmt::format("Range: bytes={}-{}", s.fetch_pos, s.end - 1)};
      s.impl->setup(s.slot.easy, client_.url(key_), "GET", kUnsignedPayload, headers, {}, true, *s.attempt);
      curl_easy_setopt(s.slot.easy, CURLOPT_WRITEFUNCTION, &State::on_data);
      curl_easy_setopt(s.slot.easy, CURLOPT_WRITEDATA, &s);
      curl_multi_add_handle(s.slot.multi, s.slot.easy);
      s.active = true;
    }
    if (s.paused) {
      s.paused = false;
      s.attempt->last_progress = std::chrono::steady_clock::now();  // a slow reader is not a stalled server
      curl_easy_pause(s.slot.easy, CURLPAUSE_CONT);  // may deliver at once
      if (s.direct_len > 0 || s.tail > s.head) break;
    }
    int running = 0;
    curl_multi_perform(s.slot.multi, &running);
    std::optional<CURLcode> done;
    int queued = 0;
    while (CURLMsg* m = curl_multi_info_read(s.slot.multi, &queued)) {
      if (m->msg == CURLMSG_DONE) done = m->data.result;
    }
    if (!done) {
      if (s.direct_len == 0 && s.tail == s.head && !s.paused) {
        curl_multi_poll(s.slot.multi, nullptr, 0, 1000, nullptr);
      }
      continue;
    }
    curl_multi_remove_handle(s.slot.multi, s.slot.easy);
    s.active = false;
    CURLcode rc = *done;
    bool progressed = s.fetch_pos > s.attempt_start;
    s.failures = progressed ? 1 : s.failures + 1;
    if (rc == CURLE_OK && !s.http_error && s.fetch_pos == s.end) {
      s.impl->release(s.slot);  // the connection goes back to the pool
      s.has_slot = false;
      break;
    }
    if (s.range_error) {
      s.fatal = Error{Errc::kIOError,
                      fmt::format("S3 {}: the server did not honour Range bytes={}-{} (HTTP {}, Content-Range '{}')",
                                  key_, s.fetch_pos, s.end - 1, s.status, s.attempt->headers.content_range)};
      break;
    }
    std::optional<Error> error;
    bool retry = false;
    if (rc == CURLE_OK && s.http_error) {
      S3Response r;
      r.status = s.status;
      r.body = s.error_body;
      r.attempts = s.failures;
      fill_error_fields(r);
      retry = retryable_response(r);
      error = s3_error(r, what);
    } else if (rc == CURLE_OK) {
      retry = true;  // the body ended early
      error = Error{Errc::kIOError, fmt::format("S3 {}: body ended at byte {} of {}", what, s.fetch_pos, s.end)};
    } else {
      retry = retryable_curl(rc);
      error = transport_error(rc, *s.attempt, what, s.failures);
    }
    if (!retry || s.failures >= config.max_attempts) {
      s.fatal = error;
      break;
    }
    int wait = client_.backoff_ms(s.failures);
    spdlog::warn("{}; resuming at byte {} in {} ms", error->message, s.fetch_pos, wait);
    sleep_ms(wait);
  }
  s.direct = nullptr;
  std::size_t n = s.direct_len;
  if (n == 0 && s.tail > s.head) n = drain();
  if (n == 0 && s.fatal) return std::unexpected(*s.fatal);
  delivered_ += n;
  return n;
}

}  // namespace blobsync::s3

namespace blobsync::s3 {

// ---------------------------------------------------------------------------
// S3Upload: the request runs on its own thread (run()); libcurl's read
// callback blocks until write() offers bytes and copies them straight from
// the caller's span.

struct S3Upload::State {
  S3Client* client = nullptr;
  S3Request request{"PUT"};
  std::string url;
  std::string what;
  std::uint64_t length = 0;

  mutable std::mutex mu;
  std::condition_variable cv;
  std::span<const std::byte> offered;  // what write() is waiting to hand over
  std::size_t offered_pos = 0;
  std::uint64_t written = 0;  // bytes accepted by write() calls
  std::uint64_t taken = 0;    // bytes taken by libcurl (all attempts: only the first may take any)
  Attempt* attempt = nullptr;
  CURLM* multi = nullptr;  // of the running attempt, for curl_multi_wakeup
  bool aborted = false;
  bool done = false;
  std::optional<Result<S3Response>> outcome;
  std::atomic<bool> cancel{false};
  std::thread thread;

  static size_t on_read(char* dst, size_t size, size_t n, void* user) {
    auto* s = static_cast<State*>(user);
    std::unique_lock lock(s->mu);
    s->cv.wait(lock, [&] { return s->aborted || s->offered_pos < s->offered.size(); });
    if (s->aborted) return CURL_READFUNC_ABORT;
    std::size_t c = std::min(size * n, s->offered.size() - s->offered_pos);
    std::memcpy(dst, s->offered.data() + s->offered_pos, c);
    s->offered_pos += c;
    s->taken += c;
    // Waiting for the producer is not a stall of the server.
    if (s->attempt) s->attempt->last_progress = std::chrono::steady_clock::now();
    if (s->offered_pos == s->offered.size()) s->cv.notify_all();
    return c;
  }

  static int on_seek(void* user, curl_off_t offset, int origin) {
    auto* s = static_cast<State*>(user);
    std::lock_guard lock(s->mu);
    // Only a rewind to a start that nothing was taken from yet (a retry on a fresh connection).
    return origin == SEEK_SET && offset == 0 && s->taken == 0 ? CURL_SEEKFUNC_OK : CURL_SEEKFUNC_CANTSEEK;
  }

  Error outcome_error() const {
    if (!outcome) return Error{Errc::kInternal, "S3 " + what + ": request still running"};
    if (!*outcome) return outcome->error();
    const S3Response& r = **outcome;
    if (!r.ok()) return s3_error(r, what);
    return Error{Errc::kIOError, fmt::format("S3 {}: the server answered HTTP {} before the body was complete", what,
                                             r.status)};
  }
};

std::unique_ptr<S3Upload> S3Client::upload(S3Request request, std::uint64_t length) {
  auto st = std::make_unique<S3Upload::State>();
  st->client = this;
  st->url = url(request.key, request.query);
  st->what = request.method + " " + request.key;
  st->length = length;
  request.body = {};
  if (request.payload_sha256.empty()) request.payload_sha256 = std::string(kUnsignedPayload);
  st->request = std::move(request);
  std::unique_ptr<S3Upload> up(new S3Upload(std::move(st)));
  up->state_->thread = std::thread([u = up.get()] { u->run(); });
  return up;
}

S3Upload::S3Upload(std::unique_ptr<State> state) : state_(std::move(state)) {}

S3Upload::~S3Upload() {
  if (!finished_) abort();
}

std::uint64_t S3Upload::sent() const {
  std::lock_guard lock(state_->mu);
  return state_->taken;
}

void S3Upload::run() {
  State& s = *state_;
  S3Client::Impl& impl = *s.client->impl_;
  const S3Config& config = s.client->config();
  const std::string body_gone = " (the streamed body cannot be resent)";
  std::optional<Result<S3Response>> outcome;
  for (int attempt = 1;; ++attempt) {
    Slot slot = impl.acquire();
    Attempt a;
    a.cancel = &s.cancel;
    impl.setup(slot.easy, s.url, "PUT", s.request.payload_sha256, s.request.headers, {}, true, a);
    curl_easy_setopt(slot.easy, CURLOPT_READFUNCTION, &State::on_read);
    curl_easy_setopt(slot.easy, CURLOPT_READDATA, &s);
    curl_easy_setopt(slot.easy, CURLOPT_SEEKFUNCTION, &State::on_seek);
    curl_easy_setopt(slot.easy, CURLOPT_SEEKDATA, &s);
    curl_easy_setopt(slot.easy, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(s.length));
    curl_easy_setopt(slot.easy, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(slot.easy, CURLOPT_WRITEDATA, &a);
    {
      std::lock_guard lock(s.mu);
      s.attempt = &a;
      s.multi = slot.multi;
    }
    CURLcode rc = S3Client::Impl::run(slot);
    long status = 0;
    curl_easy_getinfo(slot.easy, CURLINFO_RESPONSE_CODE, &status);
    bool started = false;
    bool aborted = false;
    {
      std::lock_guard lock(s.mu);
      s.attempt = nullptr;
      s.multi = nullptr;
      started = s.taken > 0;
      aborted = s.aborted;
    }
    impl.release(slot);
    if (aborted) {
      outcome = std::unexpected(Error{Errc::kIOError, "S3 " + s.what + ": aborted"});
      break;
    }
    bool last = attempt >= config.max_attempts || started;
    if (rc == CURLE_OK) {
      S3Response r = make_response(status, a, attempt, s.request.error_in_200);
      if (!retryable_response(r) || last) {
        if (!r.ok() && started && retryable_response(r)) r.error_message += body_gone;
        outcome = std::move(r);
        break;
      }
      spdlog::warn("S3 {}: HTTP {} {} before the body; retry {}/{}", s.what, r.status, r.error_code, attempt + 1,
                   config.max_attempts);
    } else {
      if (!retryable_curl(rc) || last) {
        Error e = transport_error(rc, a, s.what, attempt);
        if (started && retryable_curl(rc)) e.message += body_gone;
        outcome = std::unexpected(std::move(e));
        break;
      }
      spdlog::warn("{}; retry {}/{}", transport_error(rc, a, s.what, attempt).message, attempt + 1,
                   config.max_attempts);
    }
    std::unique_lock lock(s.mu);
    if (s.cv.wait_for(lock, std::chrono::milliseconds(s.client->backoff_ms(attempt)), [&] { return s.aborted; })) {
      outcome = std::unexpected(Error{Errc::kIOError, "S3 " + s.what + ": aborted"});
      break;
    }
  }
  std::lock_guard lock(s.mu);
  s.outcome = std::move(outcome);
  s.done = true;
  s.cv.notify_all();
}

Result<> S3Upload::write(std::span<const std::byte> data) {
  State& s = *state_;
  std::unique_lock lock(s.mu);
  if (s.done) return std::unexpected(s.outcome_error());
  if (s.aborted || finished_) return fail(Errc::kInternal, "S3 {}: write after finish or abort", s.what);
  if (data.size() > s.length - s.written) {
    return fail(Errc::kInvalidArgument, "S3 {}: more than the {} bytes announced", s.what, s.length);
  }
  s.written += data.size();
  if (data.empty()) return {};
  s.offered = data;
  s.offered_pos = 0;
  s.cv.notify_all();
  s.cv.wait(lock, [&] { return s.offered_pos == s.offered.size() || s.done; });
  bool all = s.offered_pos == s.offered.size();
  s.offered = {};
  s.offered_pos = 0;
  if (!all) return std::unexpected(s.outcome_error());
  return {};
}

Result<S3Response> S3Upload::finish() {
  State& s = *state_;
  if (finished_) return fail(Errc::kInternal, "S3 {}: finish after finish or abort", s.what);
  std::uint64_t written = 0;
  bool done = false;
  {
    std::lock_guard lock(s.mu);
    written = s.written;
    done = s.done;
  }
  if (written != s.length && !done) {
    abort();
    return fail(Errc::kInternal, "S3 {}: finish after {} of the {} bytes announced", s.what, written, s.length);
  }
  if (s.thread.joinable()) s.thread.join();
  finished_ = true;
  return std::move(*s.outcome);
}

void S3Upload::abort() {
  State& s = *state_;
  {
    std::lock_guard lock(s.mu);
    s.aborted = true;
    s.cancel = true;
    if (s.multi) curl_multi_wakeup(s.multi);
    s.cv.notify_all();
  }
  if (s.thread.joinable()) s.thread.join();
  finished_ = true;
}

}  // namespace blobsync::s3
