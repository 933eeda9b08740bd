// Sha256Kernel: the SHA-256 compression function on x86 SHA extensions
// (SHA-NI), for one state or for two states fed the same blocks.
//
// Why not only OpenSSL: the store needs two digests over every byte it
// ingests, the whole blob's and the 256 KiB chunk's. OpenSSL hashes one stream
// at a time, so that costs two full passes. Both digests see the same 64-byte
// blocks (chunk boundaries are multiples of 64), so the message schedule can
// be computed once and the two round chains interleaved: SHA-NI's rounds are
// latency-bound, so both digests cost about 1.1x one OpenSSL pass, against
// 1.4-1.5x for two passes (bench/hash_bench, run by bench/put.sh). Everything else (Sha256, HMAC, TLS)
// stays on OpenSSL; sha256_kernel_test checks these functions against it.
//
// Thread safety: pure functions on caller-owned state.
#pragma once

#include <cstddef>
#include <cstdint>

namespace blobsync::sha256_kernel {

// The SHA-256 initial state (FIPS 180-4, 5.3.3).
inline constexpr std::uint32_t kInitialState[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

// True when this CPU has SHA-NI (and the SSSE3/SSE4.1 it needs). Checked once.
bool available();

// Runs the compression function over `nblocks` 64-byte blocks.
// REQUIRES: available().
void compress(std::uint32_t state[8], const std::byte* blocks, std::size_t nblocks);

// As compress() on `a` and on `b` with the same blocks, in one pass.
// REQUIRES: available(); a and b do not overlap.
void compress2(std::uint32_t a[8], std::uint32_t b[8], const std::byte* blocks, std::size_t nblocks);

}  // namespace blobsync::sha256_kernel
