#include "mesh/backoff.h"

#include <algorithm>

namespace blobsync::mesh {

Backoff::Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max)
    : initial_(std::max<std::chrono::milliseconds>(initial, std::chrono::milliseconds(1))),
      max_(std::max(max, initial_)),
      rng_(std::random_device{}()) {}

std::chrono::milliseconds Backoff::next() {
  // Doubling saturates well before 2^20 for any sane initial/max.
  std::int64_t d = initial_.count();
  for (unsigned i = 0; i < failures_ && d < max_.count(); ++i) d *= 2;
  d = std::min<std::int64_t>(d, max_.count());
  ++failures_;
  std::uniform_int_distribution<std::int64_t> pick(d / 2, d);
  return std::chrono::milliseconds(pick(rng_));
}

}  // namespace blobsync::mesh
