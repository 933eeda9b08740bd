// Fuzz target: the HTTP Range header parser. Input: 8 bytes of blob size
// (little-endian; fewer bytes mean a 1000-byte blob), then the header value.
// Any header must give kNone, kUnsatisfiable or a range inside the blob.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "http/range.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace blobsync::http;
  std::uint64_t blob_size = 1000;
  if (size >= 8) {
    blob_size = 0;
    for (int i = 7; i >= 0; --i) blob_size = blob_size << 8 | data[i];
    data += 8;
    size -= 8;
  }
  std::string_view header(reinterpret_cast<const char*>(data), size);
  ByteRange out{12345, 678};
  switch (parse_range(header, blob_size, out)) {
    case RangeResult::kSatisfiable:
      if (out.length == 0 || out.offset >= blob_size || out.length > blob_size - out.offset) std::abort();
      break;
    case RangeResult::kNone:
    case RangeResult::kUnsatisfiable:
      if (out.offset != 12345 || out.length != 678) std::abort();  // untouched unless satisfiable
      break;
  }
  if (parse_range(std::nullopt, blob_size, out) != RangeResult::kNone) std::abort();
  return 0;
}
