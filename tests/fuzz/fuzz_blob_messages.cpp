// Fuzz target: the blob-channel decoder. Any input must decode to a message or
// an error; a decoded message must re-encode to exactly the input bytes
// (the encoding is canonical) except for HAVE_REPLY bitmaps and non-minimal
// varints, which we normalise by decoding the re-encoding once more.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "protocol/blob_messages.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace blobsync::protocol;
  std::span<const std::uint8_t> frame(data, size);
  std::uint64_t req = 0;
  auto msg = decode_blob_message(frame, &req);
  if (!msg) return 0;
  auto again = encode_blob_message(*msg);
  auto round = decode_blob_message(again);
  if (!round || !(*round == *msg)) std::abort();  // encoder and decoder disagree
  return 0;
}
