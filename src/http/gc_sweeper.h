// GcSweeper: runs RepoStore::gc every `interval` on a background thread
// (blocking work stays off the I/O threads). interval 0 disables it.
//
// Thread safety: construct and destroy from one thread; the destructor stops
// and joins the sweeper (waiting for a sweep in progress).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace blobsync::http {

class RepoStore;
class Metrics;

class GcSweeper {
 public:
  GcSweeper(RepoStore& repo, Metrics& metrics, std::chrono::seconds interval, std::chrono::seconds grace);
  ~GcSweeper();
  GcSweeper(const GcSweeper&) = delete;
  GcSweeper& operator=(const GcSweeper&) = delete;

 private:
  void loop();
  RepoStore& repo_;
  Metrics& metrics_;
  std::chrono::seconds interval_, grace_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace blobsync::http
