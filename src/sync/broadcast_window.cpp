// A room's broadcast coalescing (see broadcast_window.h).
#include "sync/broadcast_window.h"

namespace blobsync::sync {

void BroadcastWindow::broadcast(std::vector<SharedBytes>&& msgs, std::shared_ptr<void> owner) {
  auto now = std::chrono::steady_clock::now();
  if (held_.empty() && now - last_ >= kWindow) {
    last_ = now;
    send_all_(msgs);
    return;
  }
  if (held_.empty()) held_ = std::move(msgs);
  else held_.insert(held_.end(), std::make_move_iterator(msgs.begin()), std::make_move_iterator(msgs.end()));
  if (armed_) return;
  armed_ = true;
  if (!timer_) timer_ = std::make_unique<boost::asio::steady_timer>(strand_);
  timer_->expires_at(last_ + kWindow);
  // The generation tells a stale expiry (one already queued when flush()
  // cancelled it) from the current one.
  timer_->async_wait([this, gen = ++gen_, owner = std::move(owner)](boost::system::error_code ec) {
    if (ec || gen != gen_ || !armed_) return;  // cancelled: clear() or flush() ran
    armed_ = false;
    flush();
  });
}

void BroadcastWindow::send_now(std::vector<SharedBytes>&& msgs) {
  if (!held_.empty()) {
    held_.insert(held_.end(), std::make_move_iterator(msgs.begin()), std::make_move_iterator(msgs.end()));
    return flush();
  }
  last_ = std::chrono::steady_clock::now();
  send_all_(msgs);
}

void BroadcastWindow::flush() {
  if (armed_) {
    armed_ = false;
    timer_->cancel();
  }
  if (held_.empty()) return;
  last_ = std::chrono::steady_clock::now();
  auto msgs = std::exchange(held_, {});
  send_all_(msgs);
}

void BroadcastWindow::clear() {
  held_ = {};
  if (armed_) {
    armed_ = false;
    timer_->cancel();
  }
}

}  // namespace blobsync::sync
