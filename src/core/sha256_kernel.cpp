#include "core/sha256_kernel.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace blobsync::sha256_kernel {

#if defined(__x86_64__)

namespace {

// FIPS 180-4, 4.2.2.
alignas(16) constexpr std::uint32_t kRoundConstants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define BLOBSYNC_SHA_TARGET __attribute__((target("sha,sse4.1,ssse3")))

// SHA-NI keeps the eight working variables as two vectors, ABEF and CDGH.
struct Lanes {
  __m128i abef;
  __m128i cdgh;
};

BLOBSYNC_SHA_TARGET inline Lanes load_state(const std::uint32_t* h) {
  __m128i dcba = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h));
  __m128i hgfe = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h + 4));
  __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
  __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
  return {_mm_alignr_epi8(cdab, efgh, 8), _mm_blend_epi16(efgh, cdab, 0xF0)};
}

BLOBSYNC_SHA_TARGET inline void store_state(const Lanes& s, std::uint32_t* h) {
  __m128i feba = _mm_shuffle_epi32(s.abef, 0x1B);
  __m128i dchg = _mm_shuffle_epi32(s.cdgh, 0xB1);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(h), _mm_blend_epi16(feba, dchg, 0xF0));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(h + 4), _mm_alignr_epi8(dchg, feba, 8));
}

// N states, the same blocks: one message schedule, N interleaved round chains.
template <int N>
BLOBSYNC_SHA_TARGET void compress_n(std::uint32_t* const (&states)[N], const std::byte* p, std::size_t nblocks) {
  const __m128i byteswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
  Lanes s[N];
  for (int i = 0; i < N; ++i) s[i] = load_state(states[i]);
  while (nblocks--) {
    Lanes saved[N];
    for (int i = 0; i < N; ++i) saved[i] = s[i];
    // w[j & 3] holds message words 4j..4j+3 (W[t] for the rounds of group j).
    __m128i w[4];
    for (int j = 0; j < 4; ++j)
      w[j] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * j)), byteswap);
#pragma GCC unroll 16
    for (int g = 0; g < 16; ++g) {
      __m128i k = _mm_add_epi32(w[g & 3], _mm_load_si128(reinterpret_cast<const __m128i*>(kRoundConstants + 4 * g)));
      __m128i k_hi = _mm_shuffle_epi32(k, 0x0E);
      for (int i = 0; i < N; ++i) s[i].cdgh = _mm_sha256rnds2_epu32(s[i].cdgh, s[i].abef, k);
      for (int i = 0; i < N; ++i) s[i].abef = _mm_sha256rnds2_epu32(s[i].abef, s[i].cdgh, k_hi);
      // W[16+4g..19+4g] from groups g..g+3, into the register group g used.
      if (g < 12) {
        __m128i t = _mm_add_epi32(_mm_sha256msg1_epu32(w[g & 3], w[(g + 1) & 3]),
                                  _mm_alignr_epi8(w[(g + 3) & 3], w[(g + 2) & 3], 4));
        w[g & 3] = _mm_sha256msg2_epu32(t, w[(g + 3) & 3]);
      }
    }
    for (int i = 0; i < N; ++i) {
      s[i].abef = _mm_add_epi32(s[i].abef, saved[i].abef);
      s[i].cdgh = _mm_add_epi32(s[i].cdgh, saved[i].cdgh);
    }
    p += 64;
  }
  for (int i = 0; i < N; ++i) store_state(s[i], states[i]);
}

bool detect() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  bool ssse3 = (ecx & bit_SSSE3) != 0, sse41 = (ecx & bit_SSE4_1) != 0;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  return ssse3 && sse41 && (ebx & bit_SHA) != 0;
}

}  // namespace

bool available() {
  static const bool yes = detect();
  return yes;
}

void compress(std::uint32_t state[8], const std::byte* blocks, std::size_t nblocks) {
  std::uint32_t* const states[1] = {state};
  compress_n<1>(states, blocks, nblocks);
}

void compress2(std::uint32_t a[8], std::uint32_t b[8], const std::byte* blocks, std::size_t nblocks) {
  std::uint32_t* const states[2] = {a, b};
  compress_n<2>(states, blocks, nblocks);
}

#else  // not x86-64: callers use OpenSSL

bool available() { return false; }
void compress(std::uint32_t*, const std::byte*, std::size_t) {}
void compress2(std::uint32_t*, std::uint32_t*, const std::byte*, std::size_t) {}

#endif

}  // namespace blobsync::sha256_kernel
