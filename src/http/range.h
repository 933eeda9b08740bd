// HTTP Range requests (RFC 9110 section 14) for blob downloads: one
// "bytes=" range per request (multipart ranges are answered with the whole
// blob, which the RFC allows).
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace blobsync::http {

struct ByteRange {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

enum class RangeResult { kNone, kSatisfiable, kUnsatisfiable };

// kNone: no usable Range header (absent, not "bytes=", malformed or several
// ranges): send 200 with the whole body. kUnsatisfiable: 416.
RangeResult parse_range(std::optional<std::string_view> header, std::uint64_t size, ByteRange& out);

}  // namespace blobsync::http
