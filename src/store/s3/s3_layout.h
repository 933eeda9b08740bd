// S3 key layout of the blob backend (PREFIX is S3Config::prefix, may be ""):
//
//   PREFIX blobs/<64 lowercase hex>   committed blobs; bytes always match the name
//   PREFIX tmp/<32 hex>               multipart uploads and completed objects of
//                                     writes in progress; never read as blobs
//
// Lowercase hex sorts like the digest bytes, so ListObjectsV2 (UTF-8 binary
// key order) enumerates blobs in digest order.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "core/digest.h"

namespace blobsync::s3 {

inline std::string blobs_prefix(std::string_view prefix) { return std::string(prefix) + "blobs/"; }
inline std::string tmp_prefix(std::string_view prefix) { return std::string(prefix) + "tmp/"; }
inline std::string blob_key(std::string_view prefix, const Digest& d) { return blobs_prefix(prefix) + d.hex(); }

// PREFIX tmp/<32 random hex>.
std::string new_tmp_key(std::string_view prefix);

}  // namespace blobsync::s3
