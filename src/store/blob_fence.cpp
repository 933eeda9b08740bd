#include "store/blob_fence.h"

namespace blobsync {

Result<std::shared_ptr<BlobFence>> BlobFence::open(SqlDb& db) {
  auto lock = db.open_lock("blob-fence");
  if (!lock) return std::unexpected(lock.error());
  return std::shared_ptr<BlobFence>(new BlobFence(std::move(*lock)));
}

BlobFence::Guard& BlobFence::Guard::operator=(Guard&& o) noexcept {
  if (this != &o) {
    release();
    fence_ = std::exchange(o.fence_, nullptr);
    exclusive_ = o.exclusive_;
  }
  return *this;
}

void BlobFence::Guard::release() {
  if (!fence_) return;
  if (exclusive_) fence_->release_exclusive();
  else fence_->release_shared();
  fence_ = nullptr;
}

Result<BlobFence::Guard> BlobFence::shared() {
  std::unique_lock l(mu_);
  cv_.wait(l, [&] { return !exclusive_held_ && exclusive_waiting_ == 0 && !os_busy_; });
  if (shared_ == 0) {
    // The first shared holder in this process takes the OS-level lock for all.
    os_busy_ = true;
    l.unlock();
    auto r = os_lock_->lock(false);
    l.lock();
    os_busy_ = false;
    if (!r) {
      cv_.notify_all();
      return fail(r.error().code, "cannot take the blob fence: {}", r.error().message);
    }
  }
  ++shared_;
  cv_.notify_all();
  return Guard(this, false);
}

Result<BlobFence::Guard> BlobFence::exclusive() {
  std::unique_lock l(mu_);
  ++exclusive_waiting_;
  cv_.wait(l, [&] { return shared_ == 0 && !exclusive_held_ && !os_busy_; });
  --exclusive_waiting_;
  exclusive_held_ = true;
  l.unlock();
  auto r = os_lock_->lock(true);
  if (!r) {
    l.lock();
    exclusive_held_ = false;
    cv_.notify_all();
    return fail(r.error().code, "cannot take the blob fence: {}", r.error().message);
  }
  return Guard(this, true);
}

void BlobFence::release_shared() {
  std::unique_lock l(mu_);
  if (--shared_ == 0) {
    os_busy_ = true;
    l.unlock();
    os_lock_->unlock();
    l.lock();
    os_busy_ = false;
  }
  cv_.notify_all();
}

void BlobFence::release_exclusive() {
  os_lock_->unlock();  // only this thread touches the OS lock while exclusive_held_
  std::lock_guard l(mu_);
  exclusive_held_ = false;
  cv_.notify_all();
}

}  // namespace blobsync
