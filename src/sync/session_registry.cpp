// SessionRegistry (ws_session.h): the open WebSocket sessions, counted and
// closed at shutdown, and release_freed_memory(). Apart from ws_session.cpp,
// which is Beast's.
#include "sync/ws_session.h"

#include <malloc.h>

#include <atomic>
#include <vector>

namespace blobsync::sync {

// A burst of connections frees a 16 KiB HTTP read buffer per connection
// between the small objects the sessions keep; glibc keeps those holes
// resident. Every 256 upgrades, hand free pages back to the kernel.
void release_freed_memory() {
  static std::atomic<unsigned> upgrades{0};
  if (upgrades.fetch_add(1, std::memory_order_relaxed) % 256 == 255) malloc_trim(0);
}

SessionRegistry::~SessionRegistry() { stop_sweep(); }

void SessionRegistry::stop_sweep() {
  std::jthread sweeper;
  {
    std::lock_guard lock(mu_);
    sweep_stopped_ = true;
    sweeper = std::move(sweeper_);
  }
  if (sweeper.joinable()) {
    sweeper.request_stop();
    sweeper.join();
  }
}

ConnId SessionRegistry::add(std::weak_ptr<Connection> conn) {
  std::lock_guard lock(mu_);
  ConnId id = next_++;
  conns_.emplace(id, std::move(conn));
  if (!sweep_stopped_ && !sweeper_.joinable()) sweeper_ = std::jthread([this](std::stop_token stop) { sweep_loop(stop); });
  return id;
}

// The sessions are copied out first: a session may end (and be destroyed here) while it is swept.
void SessionRegistry::sweep_loop(std::stop_token stop) {
  std::vector<std::weak_ptr<Connection>> all;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (wake_.wait_for(lock, stop, kSweepPeriod, [] { return false; }), stop.stop_requested()) return;
      all.clear();
      all.reserve(conns_.size());
      for (auto& [id, weak] : conns_) all.push_back(weak);
    }
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now().time_since_epoch())
                   .count();
    for (auto& weak : all)
      if (auto c = weak.lock()) c->sweep(now);
    all.clear();
    // Connections going dormant free ~2.8 KB each between the objects that stay: as after a burst
    // of upgrades (release_freed_memory()), hand free pages back once 256 more went to sleep.
    auto d = dormant_.load(std::memory_order_relaxed);
    if (d >= trimmed_at_ + 256) {
      malloc_trim(0);
      trimmed_at_ = d;
    } else if (d < trimmed_at_) {
      trimmed_at_ = d;
    }
  }
}

void SessionRegistry::remove(ConnId id) {
  std::lock_guard lock(mu_);
  conns_.erase(id);
}

std::size_t SessionRegistry::size() const {
  std::lock_guard lock(mu_);
  return conns_.size();
}

void SessionRegistry::close_all(std::uint16_t code, std::string_view reason) {
  std::vector<std::shared_ptr<Connection>> all;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, weak] : conns_)
      if (auto c = weak.lock()) all.push_back(std::move(c));
  }
  for (auto& c : all) c->close(code, reason);
}

}  // namespace blobsync::sync
