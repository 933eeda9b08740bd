// Comparing secrets (tokens, passwords' stand-ins) without a timing oracle.
//
// secrets_equal hashes both sides (SHA-256) and compares the digests with
// CRYPTO_memcmp, so the time taken depends neither on where the first
// difference is nor on whether the lengths match (only, negligibly, on the
// lengths themselves). bearer_token extracts the credential of an
// `Authorization: Bearer <token>` header value.
//
// Thread safety: pure functions.
#pragma once

#include <string_view>

namespace blobsync {

bool secrets_equal(std::string_view a, std::string_view b);

// "Bearer x" (scheme case-insensitive, surrounding spaces ignored) -> "x";
// any other scheme or an empty value -> "".
std::string_view bearer_token(std::string_view authorization);

}  // namespace blobsync
