// RoomInbox: what a room's connections hand it (messages, leaves), kept in
// arrival order and handled on the room's strand in turns of bounded length.
// Rooms run on the HTTP server's I/O threads, and a connection's message runs
// its room inline on the reading thread when the room is free
// (docs/architecture.md, "Where rooms run"); a turn handles at most
// kMaxPerTurn entries and stops after kTurnBudget, then the room posts its
// next turn behind the io_context's other work, so a flooded room cannot hold
// an I/O thread while other rooms' connections wait.
//
// Thread safety: push() from any thread; take_turn() only on the room's
// strand (one turn at a time: push() asks for a turn only when none is due).
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <vector>

namespace blobsync::sync {

template <class Entry>
class RoomInbox {
 public:
  static constexpr std::size_t kMaxPerTurn = 32;
  static constexpr std::chrono::microseconds kTurnBudget{1000};

  // Queues `e`; true if the caller must schedule a turn (none is scheduled).
  bool push(Entry e) {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(e));
    if (scheduled_) return false;
    scheduled_ = true;
    return true;
  }

  // Hands entries to fn in order until the inbox is empty (false) or the
  // turn is used up (true: schedule the next turn).
  template <class F>
  bool take_turn(F&& fn) {
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t n = 0;; ++n) {
      if (head_ == taken_.size()) {
        std::lock_guard lock(mu_);
        if (queue_.empty()) {
          scheduled_ = false;
          taken_ = std::vector<Entry>();  // an idle room keeps no storage
          queue_ = std::vector<Entry>();
          head_ = 0;
          return false;
        }
        taken_.clear();
        taken_.swap(queue_);
        head_ = 0;
      }
      if (n == kMaxPerTurn || (n > 0 && std::chrono::steady_clock::now() - start >= kTurnBudget)) return true;
      Entry e = std::move(taken_[head_++]);
      fn(e);
    }
  }

 private:
  std::mutex mu_;
  std::vector<Entry> queue_;  // guarded by mu_
  bool scheduled_ = false;    // guarded by mu_: a turn is posted or running
  std::vector<Entry> taken_;  // the strand's: entries of the current turns
  std::size_t head_ = 0;      // the strand's: next entry of taken_
};

}  // namespace blobsync::sync
