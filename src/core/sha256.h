// Sha256: streaming SHA-256 through OpenSSL EVP (uses SHA-NI where present).
//
// Thread safety: one instance per thread; distinct instances are independent.
#pragma once

#include <cstddef>
#include <memory>
#include <span>

#include "core/digest.h"

namespace blobsync {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::span<const std::byte> data);
  void update(const void* data, std::size_t len);
  // Returns the digest and resets the instance for reuse.
  Digest finish();

  static Digest of(std::span<const std::byte> data);
  static Digest of(const void* data, std::size_t len);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace blobsync
