// Backoff: jittered exponential backoff for retries that must never give up
// (a peer that was down for hours is picked up again without a restart,
// perkeep#292). The n-th delay is uniform in [d/2, d] with
// d = min(max, initial * 2^n), so servers that lost the same peer do not
// retry in lockstep.
//
// Thread safety: not thread-safe; one owner.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace blobsync::mesh {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max);

  // The delay before the next attempt; each call counts one more failure.
  std::chrono::milliseconds next();
  // After a success: the next failure starts from `initial` again.
  void reset() { failures_ = 0; }
  unsigned failures() const { return failures_; }

 private:
  std::chrono::milliseconds initial_, max_;
  unsigned failures_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace blobsync::mesh
