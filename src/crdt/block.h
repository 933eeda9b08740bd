// Block: one struct of an update as it is on the wire (yjs "struct refs"):
// an Item whose parent is still a root name or an ID, a GC range or a Skip.
// DecodedUpdate is a whole update (per-client struct runs + delete set) in
// this form; the doc-free utilities (merge, diff, v1<->v2) and the Doc's
// update reader both work on it.
//
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "crdt/content.h"
#include "crdt/id.h"
#include "crdt/id_set.h"
#include "crdt/state_vector.h"
#include "crdt/update_coder.h"

namespace blobsync::crdt {

struct Block {
  enum class Kind : uint8_t { kItem, kGC, kSkip };
  enum class ParentKind : uint8_t { kNone, kRoot, kId };

  Kind kind = Kind::kItem;
  bool has_origin = false;
  bool has_right_origin = false;
  bool has_parent_sub = false;
  ParentKind parent_kind = ParentKind::kNone;
  ID id;
  uint64_t len = 0;
  ID origin;
  ID right_origin;
  ID parent_id;
  std::string parent_name;
  std::string parent_sub;
  Content content;

  uint64_t end_clock() const { return id.clock + len; }
  // Drops the first `offset` units (yjs sliceStruct / Item.integrate offset).
  void trim_front(uint64_t offset);
  // Copy of [offset, len) (used by merge/diff).
  Block slice(uint64_t offset) const;
  Block copy() const { return slice(0); }
  // REQUIRES: kind == kItem or kGC/kSkip; writes like yjs Item.write(enc, offset).
  void write(UpdateEncoder& enc, uint64_t offset) const;
};

struct ClientBlocks {
  uint64_t client = 0;
  std::vector<Block> blocks;  // contiguous clocks
};

struct DecodedUpdate {
  std::vector<ClientBlocks> clients;  // in wire order
  DeleteSet ds;
};

// Reads structs and delete set. Validates ranges (no zero-length structs, no
// clock overflow past 2^53, no duplicate client blocks, bounded counts).
Result<DecodedUpdate> decode_update(ByteView data, UpdateFormat fmt = UpdateFormat::kV1);
// Writes clients in descending client order, as yjs does.
Bytes encode_update(const DecodedUpdate& u, UpdateFormat fmt = UpdateFormat::kV1);

}  // namespace blobsync::crdt
