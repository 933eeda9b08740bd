// S3Download: one ranged GET of a key, streamed into the caller's buffers
// through read(), resumed from the first missing byte after a connection
// error or stall, with a bounded read-ahead buffer.
#include <curl/curl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "store/s3/s3_client.h"
#include "store/s3/s3_curl.h"

namespace blobsync::s3 {

namespace {
constexpr std::size_t kDownloadBuffer = 1280 * 1024;  // read-ahead per download
}  // namespace

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
