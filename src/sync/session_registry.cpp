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

ConnId SessionRegistry::add(std::weak_ptr<Connection> conn) {
  std::lock_guard lock(mu_);
  ConnId id = next_++;
  conns_.emplace(id, std::move(conn));
  return id;
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
