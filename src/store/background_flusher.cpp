#include "store/background_flusher.h"

#include "store/env.h"

namespace blobsync {

BackgroundFlusher::BackgroundFlusher(Env* env) : env_(env), thread_([this] { run(); }) {}

BackgroundFlusher::~BackgroundFlusher() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

std::future<Result<>> BackgroundFlusher::start(int fd) {
  Job job{fd, {}};
  auto future = job.done.get_future();
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
  return future;
}

void BackgroundFlusher::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and every started flush done
    Job job = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    job.done.set_value(env_->fdatasync(job.fd));
    lock.lock();
  }
}

}  // namespace blobsync
