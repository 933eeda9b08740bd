// BlobHasher: a blob's SHA-256 and the SHA-256 of each of its chunks, in
// one pass over the bytes.
//
// The store needs both digests for every byte it ingests (see chunking.h).
// With SHA-NI (sha256_kernel.h) a chunk fed through update_with_chunk() is
// hashed into both states together, sharing the message schedule; without
// it, BlobHasher falls back to two OpenSSL passes. Bytes fed through update()
// count for the whole-blob digest only (someone else hashes those chunks).
//
// Thread safety: one instance per thread; distinct instances are independent.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "core/digest.h"
#include "core/sha256.h"
#include "core/sha256_kernel.h"

namespace blobsync {

class BlobHasher {
 public:
  // `use_kernel` false forces the OpenSSL path (tests; CPUs without SHA-NI).
  explicit BlobHasher(bool use_kernel = sha256_kernel::available());

  // Feeds `data` to the whole-blob digest only.
  void update(std::span<const std::byte> data);

  // Feeds `chunk` to the whole-blob digest and returns the SHA-256 of `chunk`
  // alone, computed in the same pass. Cheapest when the bytes fed so far are
  // a multiple of 64, as they are at every chunk boundary.
  Digest update_with_chunk(std::span<const std::byte> chunk);

  // The digest of everything fed since construction or the last finish();
  // resets the instance for reuse.
  Digest finish();

  bool uses_kernel() const { return !evp_; }

 private:
  void reset();

  std::uint32_t state_[8];
  std::uint64_t total_ = 0;  // bytes fed
  std::array<std::byte, 64> partial_{};
  std::size_t partial_len_ = 0;
  std::optional<Sha256> evp_;  // set: the OpenSSL path
};

}  // namespace blobsync
