// Operations on Items inside a transaction (yjs Item.js): split, merge,
// integrate (YATA), delete and garbage collection.
//
// Thread safety: none; REQUIRES an active transaction on the owning Doc.
#pragma once

#include <cstdint>
#include <vector>

#include "crdt/item.h"
#include "crdt/struct_store.h"

namespace blobsync::crdt {

class Transaction;

// Splits the struct at pos at diff; the right part is inserted after it and
// its position returned (pos itself may be invalid afterwards: the left part
// is at std::prev of the result). REQUIRES 0 < diff < len.
StructList::iterator split_item(Transaction& txn, StructList& structs, StructList::iterator pos, uint64_t diff);
// Merges right into left if yjs would (same client, contiguous, same origins,
// mergeable content). The caller removes and frees right on success.
bool try_merge(Item* left, Item* right);
// YATA integration. REQUIRES left/right/parent/origins set (or parent null
// to integrate as GC); the item is owned by the store afterwards.
void integrate_item(Transaction& txn, Item* item);
void delete_item(Transaction& txn, Item* item);
// Replaces deleted content by Deleted (or turns the item into a GC struct
// when its parent was collected), recursively for types.
void gc_item(Item* item, bool parent_gcd);
// Visible length change bookkeeping for the parent branch.
void add_changed_type(Transaction& txn, Branch* type, const std::string* parent_sub);

}  // namespace blobsync::crdt
