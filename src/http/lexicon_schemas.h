// The lexicon definitions the record validator (http/lexicon.h) knows: the
// app.bsky.* record lexicons and every definition they reach, as compact JSON
// {"id": "nsid#name", "def": {...}}, one per entry. Generated from the schema
// dictionary of @atproto/api by scripts/gen-lexicons.mjs (lexicon_schemas.cpp).
//
// Thread safety: constant data.
#pragma once

#include <cstddef>

namespace blobsync::http {

extern const char* const kLexiconDefs[];
extern const std::size_t kLexiconDefCount;

}  // namespace blobsync::http
