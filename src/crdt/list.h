// Shared list machinery for Array, Text and XML children (yjs AbstractType
// typeList* functions): index lookup with a position cache, local item
// creation, generic insert and delete.
//
// Thread safety: none; REQUIRES an active transaction on the owning Doc.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "crdt/any.h"
#include "crdt/content.h"
#include "crdt/item.h"

namespace blobsync::crdt {

class Transaction;

// A value to insert into an Array or Map: plain data, or a new nested type.
struct Prelim {
  enum class Kind : uint8_t { kAny, kType };
  Kind kind = Kind::kAny;
  Any value;
  TypeRef type = TypeRef::kArray;
  std::string node_name;  // XmlElement / XmlHook

  Prelim(Any v) : value(std::move(v)) {}  // NOLINT: implicit by design
  static Prelim type_of(TypeRef t, std::string name = {}) {
    Prelim p(Any{});
    p.kind = Kind::kType;
    p.type = t;
    p.node_name = std::move(name);
    return p;
  }
};

// Creates and integrates a local item between left and right.
Item* insert_local_item(Transaction& txn, Branch* parent, Item* left, Item* right, const std::string* parent_sub,
                        Content content);
// Content for a prelim value (binary data becomes ContentBinary).
Content prelim_content(Transaction& txn, Branch* parent, const Prelim& p);
// The item that ends exactly at visible position index (splitting if
// needed); null for index 0. REQUIRES index <= parent->length.
Item* list_left_at(Transaction& txn, Branch* parent, uint64_t index);
// Inserts values after `left` (null: at the start), packing runs of plain
// values into one ContentAny. Returns the created nested branches.
std::vector<Branch*> list_insert_after(Transaction& txn, Branch* parent, Item* left, const std::vector<Prelim>& values);
// REQUIRES index + len <= parent->length.
void list_delete(Transaction& txn, Branch* parent, uint64_t index, uint64_t len);
// Visible values of a list in order (Type contents as null placeholders are
// not included; use items for those).
std::vector<const Item*> list_items(const Branch* parent);

}  // namespace blobsync::crdt
