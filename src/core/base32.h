// RFC 4648 base32, lowercase alphabet, no padding: the multibase 'b' encoding
// used by ATProto CIDs.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace blobsync::base32 {

std::string encode_lower(std::span<const std::uint8_t> data);

// Accepts only lowercase a-z2-7 with no padding; trailing bits must be zero.
std::optional<std::vector<std::uint8_t>> decode_lower(std::string_view text);

}  // namespace blobsync::base32
