// Progress: a one-line progress bar on stderr, drawn only when stderr is a
// terminal and the transfer is large enough to be worth watching.
//
// Thread safety: one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace blobsync {

class Progress {
 public:
  // total 0 = unknown.
  Progress(std::string label, std::uint64_t total);
  ~Progress();
  void update(std::uint64_t done);
  void finish();

 private:
  std::string label_;
  std::uint64_t total_;
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace blobsync
