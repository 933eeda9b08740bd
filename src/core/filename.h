// Filenames that uploads carry (the blob channel's UPLOAD, PUT /blobs
// ?name=): what is kept of one before it is stored, shown (`blobsync stat`)
// or sent back in a Content-Disposition header. Names come from the network,
// so nothing in them may be taken as structure: path separators become '_',
// and control characters (C0, DEL, C1, line/paragraph separators, bidi
// overrides and isolates, which could make a name read as another) and
// invalid UTF-8 are dropped; surrounding spaces go, "." and ".." are no
// name, and the result is cut to kMaxFilenameBytes at a character boundary.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace blobsync {

inline constexpr std::size_t kMaxFilenameBytes = 255;

// The name as kept; "" when nothing is left.
std::string sanitize_filename(std::string_view name);

}  // namespace blobsync
