// S3Client's background deleter: delete_later() queues a key, one thread
// works through the queue, drain_deletes() waits for it. See s3_deleter.h.
#include "store/s3/s3_deleter.h"

#include <spdlog/spdlog.h>

namespace blobsync::s3 {

void S3Client::Deleter::run(S3Client& client) {
  std::unique_lock lock(mu);
  for (;;) {
    cv.wait(lock, [&] { return stop || !queue.empty(); });
    if (queue.empty()) return;  // stop, nothing pending
    std::string key = std::move(queue.front());
    queue.pop_front();
    lock.unlock();
    auto r = client.execute(S3Request("DELETE", key));
    if (!r || (!r->ok() && r->status != 404)) {
      spdlog::warn("S3: could not delete {} ({}); recover() will", key,
                   r ? s3_error(*r, "DELETE").message : r.error().message);
    }
    lock.lock();
    ++done;
    cv.notify_all();
  }
}

void S3Client::delete_later(std::string key) {
  std::lock_guard lock(deleter_->mu);
  deleter_->queue.push_back(std::move(key));
  ++deleter_->queued;
  if (!deleter_->thread.joinable()) deleter_->thread = std::thread([this] { deleter_->run(*this); });
  deleter_->cv.notify_all();
}

void S3Client::drain_deletes() {
  std::unique_lock lock(deleter_->mu);
  std::uint64_t target = deleter_->queued;
  deleter_->cv.wait(lock, [&] { return deleter_->done >= target; });
}

}  // namespace blobsync::s3
