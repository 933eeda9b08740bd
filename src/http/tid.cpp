#include "http/tid.h"

#include <chrono>
#include <mutex>
#include <random>

namespace blobsync::http {

namespace {
constexpr char kS32[] = "234567abcdefghijklmnopqrstuvwxyz";
}

std::string encode_tid(std::uint64_t value) {
  std::string out(13, '2');
  for (int i = 12; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = kS32[value & 31];
    value >>= 5;
  }
  return out;
}

std::string next_tid() {
  static std::mutex mu;
  static std::uint64_t last = 0;
  static const std::uint64_t clock_id = std::random_device{}() & 1023;
  auto us = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  std::lock_guard lock(mu);
  if (us <= last) us = last + 1;
  last = us;
  return encode_tid(((us & ((1ull << 53) - 1)) << 10) | clock_id);
}

bool is_valid_tid(std::string_view s) {
  if (s.size() != 13) return false;
  // First character limits the top bit to 0.
  if (std::string_view("234567abcdefghij").find(s[0]) == std::string_view::npos) return false;
  for (char c : s)
    if (std::string_view(kS32).find(c) == std::string_view::npos) return false;
  return true;
}

}  // namespace blobsync::http
