// Item and Branch: the document's in-memory structs (yjs Item/GC and
// AbstractType). An Item is one run of inserted content with its YATA
// origins; a GC struct is an Item flagged kGC (no content, never linked).
// A Branch is a shared type: the list of its children (start/left/right) and,
// for map-like use, the per-key chains. Both are owned by their Doc.
//
// Thread safety: none; guarded by the owning Doc's contract.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "crdt/content.h"
#include "crdt/id.h"

namespace blobsync::crdt {

class Doc;
struct Branch;

struct Item {
  enum Flags : uint8_t {
    kGC = 1,
    kHasOrigin = 2,
    kHasRightOrigin = 4,
    kDeleted = 8,
    kKeep = 16,
  };

  ID id;
  uint64_t len = 0;
  Item* left = nullptr;
  Item* right = nullptr;
  ID origin;
  ID right_origin;
  Branch* parent = nullptr;
  const std::string* parent_sub = nullptr;  // key storage lives in parent->map
  Content content;
  uint8_t flags = 0;

  bool is_gc() const { return flags & kGC; }
  bool deleted() const { return flags & (kDeleted | kGC); }
  bool has_origin() const { return flags & kHasOrigin; }
  bool has_right_origin() const { return flags & kHasRightOrigin; }
  bool countable() const { return content.countable(); }
  // Counts toward the parent's length (visible list content).
  bool visible() const { return !deleted() && countable(); }
  ID last_id() const { return ID{id.client, id.clock + len - 1}; }
  void mark_deleted() { flags |= kDeleted; }
};

struct Branch {
  Doc* doc = nullptr;
  TypeRef type_ref = TypeRef::kUnknown;
  std::string node_name;              // XmlElement node name / XmlHook hook name
  Item* item = nullptr;               // the ContentType item; null for roots
  const std::string* root_name = nullptr;
  Item* start = nullptr;
  std::unordered_map<std::string, Item*> map;  // value may be null (never set)
  std::vector<const std::string*> key_order;   // first-integration order (JS Map order)
  uint64_t length = 0;
  bool has_formatting = false;
  // Set when the type's own item was garbage collected: the Branch stays
  // alive for handles but accepts no more edits and its item is gone.
  bool collected = false;
  uint32_t depth = 0;  // nesting depth; bounded to keep recursion safe
  // Position cache for list indexing: `marker` is an item and marker_index
  // the visible length before it. Reset on any change it cannot follow.
  Item* marker = nullptr;
  uint64_t marker_index = 0;

  void reset_marker() { marker = nullptr; }
  // Entry for key, creating an empty one (recording JS insertion order).
  std::pair<const std::string*, Item**> map_slot(const std::string& key);
  Item* map_get(const std::string& key) const {
    auto it = map.find(key);
    return it == map.end() ? nullptr : it->second;
  }
};

}  // namespace blobsync::crdt
