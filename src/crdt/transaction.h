// Transaction: one batch of changes to a Doc. Records the clock before of
// each client it moved, the delete set, the types that changed (with map
// keys) and structs to try to merge afterwards. Observers receive it
// read-only after the changes.
//
// Thread safety: lives only inside Doc::transact on the calling thread.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "crdt/id_set.h"
#include "crdt/state_vector.h"

namespace blobsync::crdt {

class Doc;
struct Branch;

class Transaction {
 public:
  Transaction(Doc& doc, const void* origin, bool local);

  Doc& doc;
  const void* origin;
  bool local;
  // Each client whose clock this transaction moved, with its clock before
  // (recorded by StructStore::add): not a whole state vector, which would
  // cost a map of every client twice per transaction (a room of 100
  // writers: about 8% of its server's CPU).
  std::unordered_map<uint64_t, uint64_t> moved;
  DeleteSet delete_set;
  std::vector<ID> merge_structs;
  // type -> changed map keys (nullptr stands for the list part)
  std::unordered_map<Branch*, std::unordered_set<const std::string*>> changed;

  // The client's clock when the transaction began.
  uint64_t before(uint64_t client) const;
};

}  // namespace blobsync::crdt
