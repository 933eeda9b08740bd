// Content-Disposition for downloads that ask for one (GET /blobs/<hash>
// ?download=1): RFC 6266 `attachment` with both forms of the name, an ASCII
// `filename="..."` for old clients and `filename*=UTF-8''...` (RFC 5987
// percent-encoding) that current ones prefer. Names are stored sanitized
// (core/filename.h); this still guards the header itself: nothing of the
// name can end the header line, close the quoted string or inject a
// parameter.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace blobsync::http {

// `name` (UTF-8; may be empty: `fallback` is used) ->
// attachment; filename="ascii fallback"; filename*=UTF-8''percent-encoded
std::string attachment_disposition(std::string_view name, std::string_view fallback);

}  // namespace blobsync::http
