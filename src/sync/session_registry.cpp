// SessionRegistry (ws_session.h): the open WebSocket sessions, counted and
// closed at shutdown. Apart from ws_session.cpp, which is Beast's.
#include "sync/ws_session.h"

#include <vector>

namespace blobsync::sync {

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
