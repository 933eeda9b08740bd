// Root types: a Yjs update never says which type a root is (doc.getMap vs
// getText decide that locally), so tools that print a document must be told
// (--map/--array/--text/--xml) or guess. The guess, used by `ydoc json` and
// `ydoc dump` (docs/crdt.md): a root with any map entry is a Map; else, if its
// children include text content (strings, formats, embeds) a Text; else, if
// they include XML elements or XML text, an XmlFragment; else an Array (also
// for a root whose content was all garbage collected).
//
// Thread safety: as the Doc (one thread at a time).
#pragma once

#include <string>
#include <vector>

#include "core/error.h"

namespace blobsync::crdt {

class Doc;

struct RootTypes {
  std::vector<std::string> maps, arrays, texts, xmls;
};

// Narrows the named roots to the given types, then every other untyped root
// by the guess above. Errors (kInvalidArgument) when a named root already has
// a different type.
Result<> resolve_root_types(Doc& doc, const RootTypes& declared);

}  // namespace blobsync::crdt
