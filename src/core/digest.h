// Digest: a SHA-256 value, the identity of every blob.
//
// Thread safety: plain value type.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace blobsync {

struct Digest {
  std::array<std::uint8_t, 32> bytes{};

  // 64 lowercase hex characters.
  std::string hex() const;

  auto operator<=>(const Digest&) const = default;
};

// Parses exactly 64 hex digits (either case). Returns false otherwise.
bool parse_hex_digest(std::string_view hex, Digest& out);

}  // namespace blobsync

template <>
struct std::hash<blobsync::Digest> {
  std::size_t operator()(const blobsync::Digest& d) const noexcept {
    std::size_t h;
    static_assert(sizeof(h) <= sizeof(d.bytes));
    __builtin_memcpy(&h, d.bytes.data(), sizeof(h));  // already uniformly distributed
    return h;
  }
};
