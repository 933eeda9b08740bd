#include "sync/room_manager.h"

#include <atomic>

namespace blobsync::sync {

RoomManager::RoomManager(const SyncConfig& config, RoomStore& store, BlobStore& blobs)
    : config_(config), store_(store), blobs_(blobs) {}

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
  if (stopping_ || !ioc_) return nullptr;
  auto& slot = rooms_[name];
  if (!slot) slot = make_room(RoomEnv{config_, store_, blobs_, *this, owner_.lock()}, name, *ioc_);
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
    for (auto& [name, room] : rooms_) all.push_back(room);
    rooms_.clear();
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
  return rooms_.size();
}

std::vector<std::shared_ptr<Room>> RoomManager::rooms() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<Room>> out;
  for (const auto& [name, room] : rooms_) out.push_back(room);
  return out;
}

}  // namespace blobsync::sync
