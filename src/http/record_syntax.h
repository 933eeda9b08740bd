// Syntax checks for the ATProto identifiers that records are addressed by:
// collection NSIDs (e.g. app.bsky.feed.post) and record keys. Handles are
// AccountStore::valid_handle, TIDs is_valid_tid, CIDs parse_blob_id.
//
// Thread safety: pure functions.
#pragma once

#include <string_view>

namespace blobsync::http {

// Three or more dot-separated segments of letters, digits and '-', each
// starting with a letter, 63 characters at most; 317 in all.
bool valid_nsid(std::string_view s);
// 1..512 characters of [A-Za-z0-9._:~-], not "." or "..".
bool valid_rkey(std::string_view s);

}  // namespace blobsync::http
