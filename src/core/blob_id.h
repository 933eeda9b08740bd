// BlobId: parsing and printing the two spellings of a blob's SHA-256.
//
//   sha256:<64 lowercase hex>   the BlobRef form of the Epicenter design
//   bafkrei...                  the ATProto blob CID: CIDv1, raw codec (0x55),
//                               sha2-256 multihash, base32-lower multibase
//
// Both name the same Digest; any other string is rejected with a message that
// says what was wrong. Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "core/digest.h"
#include "core/error.h"

namespace blobsync {

// "sha256:" + hex.
std::string to_hash_ref(const Digest& d);
// "bafkrei..." (59 characters).
std::string to_cid(const Digest& d);

// Accepts "sha256:<64 lowercase hex>" or a raw sha2-256 CIDv1 in base32.
Result<Digest> parse_blob_id(std::string_view text);

// Like parse_blob_id, but also accepts 64 bare lowercase hex digits (the
// /blobs/<hash> URL form).
Result<Digest> parse_blob_id_or_hex(std::string_view text);

}  // namespace blobsync
