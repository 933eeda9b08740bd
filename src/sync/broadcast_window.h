// BroadcastWindow: coalesces a busy room's broadcasts. A broadcast that
// comes at least `window` after the previous one goes out at once (a quiet
// room adds no latency); one that comes sooner is held and goes out with
// everything else held when the window since the previous send ends. Each
// connection then gets one batch (one gather write, sync/ws_session.cpp) per
// window instead of one send per update: at 100 clients x 10 updates/s and
// a 4 ms window, about a quarter of the system calls. Durable updates skip
// the wait (send_now): the room store already spaces its commit groups
// (RoomStore::kCommitSpacing), so what waits here is awareness. A message to one
// connection (a greeting, a sync reply) must not overtake held broadcasts:
// the room calls flush() before sending it, and before a connection joins
// (so it gets nothing from before its greeting).
//
// Thread safety: none; use it on the room's strand only. The timer's
// handler keeps the `owner` given to broadcast() alive (at most `window`).
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "sync/connection.h"

namespace blobsync::sync {

class BroadcastWindow {
 public:
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
  using SendAll = std::function<void(std::span<const SharedBytes>)>;
  // Long enough to gather several updates from a busy room, short against
  // the 10 ms send-to-delivery goal (docs/performance.md).
  static constexpr std::chrono::microseconds kWindow{4000};

  BroadcastWindow(Strand strand, SendAll send_all) : strand_(std::move(strand)), send_all_(std::move(send_all)) {}

  // Sends `msgs` to every connection now, or holds them (see above).
  void broadcast(std::vector<SharedBytes>&& msgs, std::shared_ptr<void> owner);
  // Sends everything held, then `msgs`, now: a commit group's broadcast,
  // already spaced by the store's group commit (sync/room_store.h), so
  // holding it again would only add latency.
  void send_now(std::vector<SharedBytes>&& msgs);
  // Sends everything held now.
  void flush();
  // Drops everything held (the room closed).
  void clear();

 private:
  Strand strand_;
  SendAll send_all_;
  std::vector<SharedBytes> held_;
  std::chrono::steady_clock::time_point last_{};
  std::unique_ptr<boost::asio::steady_timer> timer_;  // made on first use: quiet rooms never hold
  std::uint64_t gen_ = 0;
  bool armed_ = false;
};

}  // namespace blobsync::sync
