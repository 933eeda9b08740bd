// S3Client::Deleter (internal to store/s3): deletes keys on one background
// thread, started at the first S3Client::delete_later(), working through a
// queue; best effort (a failure is logged and left to S3Backend::recover()).
//
// Thread safety: every member is guarded by mu; run() is the thread's body.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "store/s3/s3_client.h"

namespace blobsync::s3 {

struct S3Client::Deleter {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> queue;
  std::uint64_t queued = 0, done = 0;
  bool stop = false;
  std::thread thread;

  // Runs the queue until stop is set and nothing is pending.
  void run(S3Client& client);
};

}  // namespace blobsync::s3
