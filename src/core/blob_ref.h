// BlobRef: the pointer to a blob that apps keep in their Yjs documents
// (Epicenter design): {hash, size, mimeType, filename, chunkCount}.
//
//   {"hash":"sha256:<hex>","size":307200,"mimeType":"image/jpeg",
//    "filename":"photo.jpg","chunkCount":2}
//
// Thread safety: plain value type.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/digest.h"
#include "core/error.h"

namespace blobsync {

struct BlobRef {
  Digest hash;
  std::uint64_t size = 0;
  std::string mime_type;
  std::string filename;  // may be empty
  std::uint64_t chunk_count = 0;

  bool operator==(const BlobRef&) const = default;
};

// Compact JSON, keys in the order above.
std::string to_json(const BlobRef& ref);

// Strict: all five keys present with the right JSON types, hash in sha256:
// form, chunkCount consistent with size. Unknown keys are ignored.
Result<BlobRef> blob_ref_from_json(std::string_view json);

}  // namespace blobsync
