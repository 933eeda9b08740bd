// Structural invariants of a Doc, used by hostile-input and fuzz tests: a
// document that accepted (part of) an update must still be internally
// consistent and re-encode to something that loads to the same state.
#pragma once

#include <string>

#include "crdt/doc.h"

namespace doccheck {

// Returns an empty string if the doc is valid, else a description.
inline std::string check(blobsync::crdt::Doc& doc) {
  using namespace blobsync::crdt;
  for (auto& [client, structs] : doc.store().clients()) {
    uint64_t clock = 0;
    for (Item* it : structs) {
      if (it->id.client != client || it->id.clock != clock) return "gap or overlap in struct store";
      if (it->len == 0) return "zero-length struct";
      clock += it->len;
      if (!it->is_gc() && !it->parent) return "item without parent";
    }
  }
  // list links and lengths of every typed root
  for (const std::string* name : doc.root_names()) {
    Branch* b = doc.root(*name);
    uint64_t len = 0;
    Item* prev = nullptr;
    size_t guard = 0;
    for (Item* p = b->start; p; p = p->right) {
      if (p->left != prev) return "broken left link in " + *name;
      if (p->visible()) len += p->len;
      prev = p;
      if (++guard > 100000000) return "cycle in list";
    }
    if (len != b->length) return "length mismatch in " + *name;
  }
  Bytes state = doc.encode_state_as_update();
  Doc copy(doc.client_id() + 1);
  if (auto r = copy.apply_update(state); !r) return "re-encoded state does not load: " + r.error().message;
  if (copy.encode_state_as_update() != state) return "re-encoded state is not stable";
  return {};
}

}  // namespace doccheck
