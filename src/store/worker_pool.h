// WorkerPool: a fixed set of threads running posted tasks in FIFO order.
//
// The store uses it to overlap the two SHA-256 passes of an ingest (whole
// blob and per-chunk) and the temp-file write. Tasks must not block on other
// tasks of the same pool finishing (the pool may be smaller than the number
// of waiting tasks); ingest code only waits for its own lane from the
// caller's thread.
//
// Thread safety: post() is safe from any thread. The destructor runs every
// task already posted, then joins the threads.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace blobsync {

class WorkerPool {
 public:
  explicit WorkerPool(unsigned threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void post(std::function<void()> task);
  unsigned size() const { return static_cast<unsigned>(threads_.size()); }

 private:
  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace blobsync
