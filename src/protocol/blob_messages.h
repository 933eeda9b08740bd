// Blob channel messages (WebSocket message types 10-20): the structs, their
// encoder and a bounds-checked decoder. docs/protocol.md is the wire spec;
// this file is its code.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "core/digest.h"
#include "core/error.h"

namespace blobsync::protocol {

enum class BlobMsg : std::uint8_t {
  kUpload = 10,
  kRequest = 11,
  kChunk = 12,
  kHave = 13,
  kMeta = 14,
  kWant = 15,
  kCredit = 16,
  kDone = 17,
  kError = 18,
  kCancel = 19,
  kHaveReply = 20,
};

inline constexpr std::uint8_t kFirstBlobMsg = 10;
inline constexpr std::uint8_t kLastBlobMsg = 20;
inline constexpr std::size_t kMaxBlobFrame = 8u << 20;
inline constexpr std::uint32_t kMaxWindow = 256;
inline constexpr std::uint32_t kDefaultWindow = 16;
// A HAVE asks about at most this many blobs (a holder refuses more with
// BAD_REQUEST): bounded work per message, and no bulk existence oracle.
inline constexpr std::size_t kMaxHaveHashes = 1024;

enum class BlobErrorCode : std::uint32_t {
  kNotFound = 1,
  kBadRequest = 2,
  kTooLarge = 3,
  kUnsupportedType = 4,
  kHashMismatch = 5,
  kForbidden = 6,
  kBusy = 7,
  kInternal = 8,
  kCancelled = 9,
  kQuotaExceeded = 10,  // the connection's room token has used its storage quota
};

struct ChunkRange {
  std::uint64_t first = 0;
  std::uint64_t count = 0;
  bool operator==(const ChunkRange&) const = default;
};

struct UploadMsg {
  std::uint64_t req = 0;
  Digest hash;
  std::uint64_t size = 0;
  std::string mime_type;
  std::string filename;
  std::vector<Digest> chunk_hashes;  // chunk_count(size) entries
  bool operator==(const UploadMsg&) const = default;
};

struct RequestMsg {
  std::uint64_t req = 0;
  Digest hash;
  std::uint32_t window = kDefaultWindow;
  std::vector<ChunkRange> wanted;  // empty: every chunk
  bool operator==(const RequestMsg&) const = default;
};

// `data` points into the decoded frame (no copy); it is valid as long as the
// frame is.
struct ChunkMsg {
  std::uint64_t req = 0;
  std::uint64_t index = 0;
  std::span<const std::uint8_t> data;
  bool operator==(const ChunkMsg& o) const {
    return req == o.req && index == o.index && std::equal(data.begin(), data.end(), o.data.begin(), o.data.end());
  }
};

struct HaveMsg {
  std::uint64_t req = 0;
  std::vector<Digest> hashes;
  bool operator==(const HaveMsg&) const = default;
};

struct MetaMsg {
  std::uint64_t req = 0;
  std::uint64_t size = 0;
  std::string mime_type;
  std::uint64_t chunk_count = 0;
  std::vector<Digest> chunk_hashes;  // of the wanted chunks, in sending order
  bool operator==(const MetaMsg&) const = default;
};

struct WantMsg {
  std::uint64_t req = 0;
  std::uint32_t window = kDefaultWindow;
  std::vector<ChunkRange> missing;  // empty: nothing needed
  bool operator==(const WantMsg&) const = default;
};

struct CreditMsg {
  std::uint64_t req = 0;
  std::uint32_t chunks = 0;
  bool operator==(const CreditMsg&) const = default;
};

struct DoneMsg {
  std::uint64_t req = 0;
  Digest hash;
  bool operator==(const DoneMsg&) const = default;
};

struct ErrorMsg {
  std::uint64_t req = 0;
  BlobErrorCode code = BlobErrorCode::kInternal;
  std::string message;
  bool operator==(const ErrorMsg&) const = default;
};

struct CancelMsg {
  std::uint64_t req = 0;
  bool operator==(const CancelMsg&) const = default;
};

struct HaveReplyMsg {
  std::uint64_t req = 0;
  std::vector<bool> have;  // decoded length is a multiple of 8; callers use the first n
  bool operator==(const HaveReplyMsg&) const = default;
};

using BlobMessage = std::variant<UploadMsg, RequestMsg, ChunkMsg, HaveMsg, MetaMsg, WantMsg, CreditMsg, DoneMsg,
                                 ErrorMsg, CancelMsg, HaveReplyMsg>;

// True if the frame belongs to the blob channel (type 10-20).
bool is_blob_frame(std::span<const std::uint8_t> frame);

// Decodes one frame. Errors (kInvalidArgument) name what was wrong; the
// request id, when it could be read, is stored in *req_out so the caller can
// address its ERROR reply (0 otherwise).
Result<BlobMessage> decode_blob_message(std::span<const std::uint8_t> frame, std::uint64_t* req_out = nullptr);

// Encodes any message into a fresh buffer.
std::vector<std::uint8_t> encode_blob_message(const BlobMessage& msg);

// The bytes of a CHUNK message that precede its data, so a sender can gather
// header and payload without copying the payload.
std::vector<std::uint8_t> encode_chunk_header(std::uint64_t req, std::uint64_t index, std::size_t data_size);

// Validates ranges against a chunk count: ascending, non-overlapping,
// non-empty, inside [0, chunk_count). Returns the number of chunks covered.
Result<std::uint64_t> check_ranges(const std::vector<ChunkRange>& ranges, std::uint64_t chunk_count);

std::string_view blob_error_name(BlobErrorCode code);

}  // namespace blobsync::protocol
