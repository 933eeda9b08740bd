// Transaction: one batch of changes to a Doc. Records the state before, the
// delete set, the types that changed (with map keys) and structs to try to
// merge afterwards. Observers receive it read-only after the changes.
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
  StateVector before_state;
  StateVector after_state;
  DeleteSet delete_set;
  std::vector<ID> merge_structs;
  // type -> changed map keys (nullptr stands for the list part)
  std::unordered_map<Branch*, std::unordered_set<const std::string*>> changed;

  uint64_t before(uint64_t client) const { return sv_get(before_state, client); }
};

}  // namespace blobsync::crdt
