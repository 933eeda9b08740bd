// MimeSniffer: guesses a blob's MIME type from its first bytes with libmagic.
//
// sniff() looks at no more than kSniffBytes (binary content at no more than
// kQuickSniffBytes: libmagic is slower on more). The result separates a specific
// recognition ("image/png") from libmagic's generic fallbacks
// ("application/octet-stream", "text/plain", "application/x-empty"...), so
// the HTTP MIME policy can tell "this really is a PNG" from "some text".
//
// normalize_mime() is the canonical form the store keeps for declared types:
// lowercase, parameters after ';' dropped, surrounding blanks trimmed; ""
// for anything that is not a plausible type/subtype token.
//
// Thread safety: sniff() is safe from any number of threads (one libmagic
// handle per thread, loaded on first use). If the magic database cannot be
// loaded, sniff() returns {"" , false} and the store falls back to the
// declared type.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace blobsync {

inline constexpr std::size_t kSniffBytes = 64 * 1024;
// What binary content is judged on (see sniff_mime).
inline constexpr std::size_t kQuickSniffBytes = 16 * 1024;

struct MimeSniff {
  std::string mime;       // what libmagic said ("" if it failed)
  bool specific = false;  // false for generic fallbacks and failures
};

// REQUIRES: nothing; data beyond kSniffBytes is ignored.
MimeSniff sniff_mime(std::span<const std::byte> head);

// True for libmagic's "could be anything" answers.
bool is_generic_mime(std::string_view mime);

std::string normalize_mime(std::string_view declared);

}  // namespace blobsync
