// GcSweeper: runs BlobLifecycle::sweep every `interval` on a background
// thread (blocking work stays off the I/O threads). interval 0 disables it.
//
// Test hook: BLOBSYNC_TEST_CRASH_AT=<step> ("decided", "withdrawn",
// "unindexed"; store/blob_lifecycle.h) ends the process with exit code
// 86 right after that step of the first collection, as a crash would, so
// tests can restart the server and check that nothing was lost.
//
// Thread safety: construct and destroy from one thread; the destructor stops
// and joins the sweeper (waiting for a sweep in progress).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace blobsync {
class BlobLifecycle;
}

namespace blobsync::http {

class Metrics;

// The on_step hook BLOBSYNC_TEST_CRASH_AT asks for (empty if unset).
std::function<void(std::string_view)> crash_at_step_from_env();

class GcSweeper {
 public:
  GcSweeper(BlobLifecycle& lifecycle, Metrics& metrics, std::chrono::seconds interval, std::chrono::seconds grace);
  ~GcSweeper();
  GcSweeper(const GcSweeper&) = delete;
  GcSweeper& operator=(const GcSweeper&) = delete;

 private:
  void loop();
  BlobLifecycle& lifecycle_;
  Metrics& metrics_;
  std::chrono::seconds interval_, grace_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::atomic<bool> stopping_{false};  // the same, read by a sweep in progress
  std::thread thread_;
};

}  // namespace blobsync::http
