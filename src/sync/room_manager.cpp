#include "sync/room_manager.h"

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>

namespace blobsync::sync {

namespace {
std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

// The sweep timer's handler may run on an I/O thread while the manager is
// being destroyed on another: it holds `mu` while it uses the manager, and
// the destructor clears `manager` under it.
struct RoomManager::SweepGuard {
  std::mutex mu;
  RoomManager* manager = nullptr;
};

RoomManager::RoomManager(const SyncConfig& config, RoomStore& store, BlobStore& blobs, BlobLifecycle* lifecycle)
    : config_(config),
      store_(store),
      blobs_(blobs),
      lifecycle_(lifecycle),
      sweep_guard_(std::make_shared<SweepGuard>()),
      new_rooms_(config.max_new_rooms_per_address, std::chrono::seconds(60)) {
  sweep_guard_->manager = this;
}

RoomManager::~RoomManager() {
  {
    std::lock_guard guard(sweep_guard_->mu);
    sweep_guard_->manager = nullptr;
  }
  std::lock_guard lock(mu_);
  if (sweep_timer_) sweep_timer_->cancel();
}

void RoomManager::set_io_context(boost::asio::io_context& ioc) {
  std::lock_guard lock(mu_);
  ioc_ = &ioc;
}

bool RoomManager::has_io_context() const {
  std::lock_guard lock(mu_);
  return ioc_ != nullptr;
}

std::shared_ptr<Room> RoomManager::acquire(const std::string& name) {
  std::lock_guard lock(mu_);
  return acquire_locked(name, nullptr, nullptr);
}

std::shared_ptr<Room> RoomManager::acquire(const std::string& name, const std::string& address, Refusal* refused) {
  std::lock_guard lock(mu_);
  return acquire_locked(name, &address, refused);
}

std::shared_ptr<Room> RoomManager::acquire_locked(const std::string& name, const std::string* address,
                                                  Refusal* refused) {
  if (stopping_ || !ioc_) return nullptr;
  if (address && !rooms_.contains(name) && !parked_.contains(name)) {
    // A new room in memory: the per-address rate first (a refused client
    // must not evict anyone's parked room), then the total.
    if (auto wait = new_rooms_.take(*address)) {
      if (refused)
        *refused = {1013, "too many new rooms from this address; try again in " + std::to_string(wait->count()) + " s"};
      return nullptr;
    }
    if (config_.max_rooms != 0 && rooms_.size() + parked_.size() >= config_.max_rooms) {
      if (parked_.empty()) {
        if (refused) *refused = {1013, "too many rooms open on this server; try again later"};
        return nullptr;
      }
      // Parked rooms are durable: forgetting one costs its next join a load.
      auto it = parked_.upper_bound(sweep_cursor_);
      if (it == parked_.end()) it = parked_.begin();
      sweep_cursor_ = it->first;
      parked_.erase(it);
    }
  }
  auto& slot = rooms_[name];
  if (!slot) {
    std::optional<StoredRoom> preloaded;
    if (auto it = parked_.find(name); it != parked_.end()) {
      preloaded = std::move(it->second).to_stored();
      parked_.erase(it);
      ++unparks_;
    }
    slot = make_room(RoomDeps{config_, store_, blobs_, lifecycle_, *this, owner_.lock()}, name, *ioc_, std::move(preloaded));
    sweep_parked_locked();
  }
  slot->users.fetch_add(1);
  return slot;
}

void RoomManager::release(const std::shared_ptr<Room>& room) {
  if (room) room->users.fetch_sub(1);
}

void RoomManager::with_room(const std::string& name, std::function<void(Room&, std::function<void()>)> fn) {
  auto room = acquire(name);
  if (!room) return;
  Room& r = *room;
  fn(r, [this, room] { release(room); });
}

bool RoomManager::try_unload(Room* room) {
  std::lock_guard lock(mu_);
  auto it = rooms_.find(room->name());
  if (it == rooms_.end() || it->second.get() != room) return true;  // already gone
  if (room->users.load() != 0) return false;
  rooms_.erase(it);
  return true;
}

bool RoomManager::try_park(Room* room, ParkedRoom parked) {
  std::lock_guard lock(mu_);
  auto it = rooms_.find(room->name());
  if (stopping_ || it == rooms_.end() || it->second.get() != room || room->users.load() != 0) return false;
  parked.parked_ms = steady_ms();
  parked.state.shrink_to_fit();
  parked_.insert_or_assign(it->first, std::move(parked));
  rooms_.erase(it);
  ++parks_;
  sweep_parked_locked();
  arm_sweep_locked();
  return true;
}

void RoomManager::arm_sweep_locked() {
  if (sweep_armed_ || stopping_ || !ioc_ || parked_.empty()) return;
  auto oldest = std::min_element(parked_.begin(), parked_.end(), [](const auto& a, const auto& b) {
                  return a.second.parked_ms < b.second.parked_ms;
                })->second.parked_ms;
  if (!sweep_timer_) sweep_timer_ = std::make_unique<boost::asio::steady_timer>(*ioc_);
  auto due = std::max<std::int64_t>(oldest + config_.room_idle_timeout.count() - steady_ms(), 0);
  sweep_armed_ = true;
  sweep_timer_->expires_after(std::chrono::milliseconds(due));
  sweep_timer_->async_wait([weak = std::weak_ptr<SweepGuard>(sweep_guard_)](const boost::system::error_code& ec) {
    if (ec) return;
    auto guard = weak.lock();
    if (!guard) return;
    std::size_t forgotten = 0;
    {
      std::lock_guard g(guard->mu);
      bool drained = false;
      if (guard->manager) forgotten = guard->manager->sweep_expired(drained);
      // What the rooms' loads left in the store's page cache (up to its cache_size) goes too; the
      // store trims its thread's arena after (room_store.h).
      if (forgotten && (drained || forgotten >= kReleaseAfter)) guard->manager->store_.release_memory();
    }
    // Each forgotten room freed its encoded state, usually after its
    // connection and its Room went: give those pages back too (glibc keeps
    // freed memory between live chunks resident otherwise).
    if (forgotten) malloc_trim(0);
  });
}

std::size_t RoomManager::sweep_expired(bool& drained) {
  std::lock_guard lock(mu_);
  sweep_armed_ = false;
  if (stopping_) return 0;
  auto now = steady_ms();
  auto limit = config_.room_idle_timeout.count();
  std::size_t n = std::erase_if(parked_, [&](const auto& p) { return now - p.second.parked_ms >= limit; });
  drained = parked_.empty();
  arm_sweep_locked();
  return n;
}

void RoomManager::sweep_parked_locked() {
  auto now = steady_ms();
  auto limit = config_.room_idle_timeout.count();
  auto it = parked_.upper_bound(sweep_cursor_);
  for (int i = 0; i < 2 && !parked_.empty(); ++i) {
    if (it == parked_.end()) it = parked_.begin();
    sweep_cursor_ = it->first;
    if (now - it->second.parked_ms >= limit) it = parked_.erase(it);
    else ++it;
  }
}

void RoomManager::forget(Room* room) {
  std::lock_guard lock(mu_);
  auto it = rooms_.find(room->name());
  if (it != rooms_.end() && it->second.get() == room) rooms_.erase(it);
}

void RoomManager::stop(bool withdraw_all, std::function<void()> done) {
  std::vector<std::shared_ptr<Room>> all;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    sweep_timer_.reset();  // cancels its wait: no work left behind for the io_context
    for (auto& [name, room] : rooms_) all.push_back(room);
    rooms_.clear();
    parked_.clear();  // durable already
  }
  if (all.empty()) {
    if (done) done();
    return;
  }
  auto left = std::make_shared<std::atomic<std::size_t>>(all.size());
  auto shared_done = std::make_shared<std::function<void()>>(std::move(done));
  for (auto& room : all)
    room->shutdown(withdraw_all, [left, shared_done] {
      if (left->fetch_sub(1) == 1 && *shared_done) (*shared_done)();
    });
}

std::size_t RoomManager::loaded() const {
  std::lock_guard lock(mu_);
  return rooms_.size() + parked_.size();
}

std::size_t RoomManager::parked() const {
  std::lock_guard lock(mu_);
  return parked_.size();
}

std::uint64_t RoomManager::parks() const {
  std::lock_guard lock(mu_);
  return parks_;
}

std::uint64_t RoomManager::unparks() const {
  std::lock_guard lock(mu_);
  return unparks_;
}

std::vector<std::string> RoomManager::names() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  out.reserve(rooms_.size() + parked_.size());
  for (const auto& [name, room] : rooms_) out.push_back(name);
  for (const auto& [name, p] : parked_) out.push_back(name);
  return out;
}

std::vector<std::shared_ptr<Room>> RoomManager::rooms() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<Room>> out;
  for (const auto& [name, room] : rooms_) out.push_back(room);
  return out;
}

}  // namespace blobsync::sync
