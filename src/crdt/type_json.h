// JSON rendering of shared types exactly as JSON.stringify(type.toJSON())
// prints it in yjs (Map -> object in JS key order, Array -> array, Text ->
// string, XML -> its toString()).
//
// Thread safety: read-only; as the owning Doc.
#pragma once

#include <string>

#include "crdt/item.h"

namespace blobsync::crdt {

// Appends the JSON of b; returns false for an untyped branch (undefined).
bool append_branch_json(std::string& out, const Branch* b);
std::string branch_to_json(const Branch* b);
// Appends one JSON object member key in JS property order helpers.
void append_js_object(std::string& out, std::vector<std::pair<std::string, std::string>> members);

}  // namespace blobsync::crdt
