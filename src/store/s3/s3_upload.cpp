// S3Upload: one request (a PutObject) whose body the caller streams through
// write() while it is sent; the request runs on a thread of its own and is
// retried only while no body byte has been taken.
#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "store/s3/s3_client.h"
#include "store/s3/s3_curl.h"

namespace blobsync::s3 {

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
