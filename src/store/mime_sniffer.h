// MimeSniffer: names a blob's MIME type from its first bytes, with libmagic
// and a table of strong signatures.
//
// sniff() looks at no more than kSniffBytes (libmagic at no more than
// kQuickSniffBytes of binary content: it is slower on more). libmagic also
// answers from weak patterns (1.3% of random buffers sniff as a DOS
// executable, zlib, MPEG audio...), so an answer counts as `specific` only
// when it is certain: a strong signature backs it (strong_signature.h), or
// the content is text and libmagic named a textual type (HTML, JSON, a
// script: read from their syntax, which random bytes never have). Only a
// specific answer can get an upload refused (store/mime_policy.h).
//
// normalize_mime() is the canonical form the store keeps for declared types:
// lowercase, parameters after ';' dropped, surrounding blanks trimmed; ""
// for anything that is not a plausible type/subtype token.
//
// Thread safety: sniff() is safe from any number of threads (one libmagic
// handle per thread, loaded on first use). If the magic database cannot be
// loaded, libmagic's answer is "" and only the signature table names types.
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
  // specific: the type the content certainly has. Otherwise libmagic's
  // generic answer (text/plain, application/x-empty...), or
  // application/octet-stream in place of a weak guess; "" if libmagic failed.
  std::string mime;
  bool specific = false;
  std::string guess;  // libmagic's own answer, normalised ("" if it failed)
};

// REQUIRES: nothing; data beyond kSniffBytes is ignored.
MimeSniff sniff_mime(std::span<const std::byte> head);

// False when sniff_mime(head) cannot be `specific` (neither text nor a
// strong signature), decided without libmagic (0.3-0.6 ms a call even on a few
// bytes): callers that only want a specific answer skip the sniff.
// REQUIRES: nothing; data beyond kSniffBytes is ignored, as by sniff_mime.
bool may_be_specific(std::span<const std::byte> head);

// True when sniff_mime(head).mime is certainly application/octet-stream,
// decided without libmagic (0.25-0.4 ms a call, whatever the size): no
// strong signature, and bytes libmagic itself calls binary (a NUL in what it
// reads, no byte-order mark), whose only answers are weak guesses and "data",
// both octet-stream here. Except for the few binary rules of libmagic's
// database that answer text/plain (file 5.44: "#usda ", UTF-16 "Version=",
// ini files from "[", ";" or CRLF), whose first bytes are left to libmagic.
// For callers that want the generic answer too (a CLI put declares no type).
bool sniffs_as_octet_stream(std::span<const std::byte> head);

// True for libmagic's "could be anything" answers.
bool is_generic_mime(std::string_view mime);

std::string normalize_mime(std::string_view declared);

}  // namespace blobsync
