// Dormancy: when an idle WebSocket connection drops its Beast stream and how
// a dormant one is kept alive (sync/ws_session.cpp does the dropping and the
// waking; this is the clock). A plain-TCP connection waiting on its 1-byte
// peek for kAfterMs goes dormant; from then on the registry's sweep plays
// Beast's idle timer: a ping when Beast's would have pinged (half the idle
// timeout after the last bytes in or the last ping), then a time-out when
// the ping got no answer in another half.
//
// Thread safety: due() may be called from any thread (the sweep's); the rest
// on the connection's strand.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>

namespace blobsync::sync {

class Dormancy {
 public:
  // Long enough that a client sending even once a second never pays for a
  // wake-up (a fresh Beast stream), short enough that a crowd of idle
  // connections shrinks within seconds.
  static constexpr std::int64_t kAfterMs = 1000;

  enum class Step { kNone, kSleep, kPing, kTimeOut };

  explicit Dormancy(std::int64_t half_idle_ms) : half_(half_idle_ms) {}

  // The peek started / ended (strand).
  void peek_started(std::int64_t now) {
    peeking_ = true;
    peek_since_ = now;
    at_.store(now + kAfterMs, std::memory_order_relaxed);
  }
  void peek_ended() {
    peeking_ = false;
    at_.store(0, std::memory_order_relaxed);
  }
  // The stream came back, or the connection ended (strand).
  void woke() {
    dormant_ = false;
    at_.store(0, std::memory_order_relaxed);
  }
  bool dormant() const { return dormant_; }

  // Any thread: true once (until the next step re-arms it) when step() has something to do.
  bool due(std::int64_t now) {
    auto at = at_.load(std::memory_order_relaxed);
    return at != 0 && now >= at && at_.compare_exchange_strong(at, 0);
  }

  // What to do now (strand). `rx` and `ping`: when bytes last came in and
  // when a ping last went out (0: never). kSleep: drop the stream now;
  // kPing: write a ping now; kTimeOut: close the socket.
  Step step(std::int64_t now, std::int64_t rx, std::int64_t ping) {
    if (!dormant_) {
      if (!peeking_) return Step::kNone;
      if (now < peek_since_ + kAfterMs) return rearm(peek_since_ + kAfterMs, Step::kNone);
      // Beast's idle timer, carried over: it restarts with each read (about when bytes last came)
      // and with each ping, and counts as answered once bytes came after the ping.
      dormant_ = true;
      pinged_ = ping > rx;
      due_ = std::max(rx, ping) + half_;
      return rearm(due_, Step::kSleep);
    }
    if (now < due_) return rearm(due_, Step::kNone);
    if (pinged_) return Step::kTimeOut;
    pinged_ = true;
    due_ = now + half_;
    return rearm(due_, Step::kPing);
  }

 private:
  Step rearm(std::int64_t at, Step s) {
    at_.store(at, std::memory_order_relaxed);
    return s;
  }
  const std::int64_t half_;
  bool peeking_ = false, dormant_ = false, pinged_ = false;
  std::int64_t peek_since_ = 0, due_ = 0;
  std::atomic<std::int64_t> at_{0};  // when the sweep should call step() (0: never)
};

}  // namespace blobsync::sync
