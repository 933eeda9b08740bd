// StructStore: every struct of a document, per client in clock order with no
// gaps (yjs StructStore). Owns the Item objects.
//
// Thread safety: none; guarded by the owning Doc's contract.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "crdt/id.h"
#include "crdt/item.h"
#include "crdt/state_vector.h"

namespace blobsync::crdt {

class Transaction;

class StructStore {
 public:
  StructStore() = default;
  StructStore(const StructStore&) = delete;
  StructStore& operator=(const StructStore&) = delete;
  ~StructStore();

  uint64_t get_state(uint64_t client) const {
    auto it = clients_.find(client);
    if (it == clients_.end() || it->second.empty()) return 0;
    Item* last = it->second.back();
    return last->id.clock + last->len;
  }
  StateVector state_vector() const;
  // REQUIRES: item->id.clock == get_state(client). Takes ownership.
  void add(Item* item);
  // Index of the struct containing clock; REQUIRES clock < state.
  static size_t find_index(const std::vector<Item*>& structs, uint64_t clock);
  std::vector<Item*>* structs(uint64_t client) {
    auto it = clients_.find(client);
    return it == clients_.end() ? nullptr : &it->second;
  }
  const std::unordered_map<uint64_t, std::vector<Item*>>& clients() const { return clients_; }
  // REQUIRES: id < state of id.client.
  Item* get_item(ID id);
  // Split so an item starts at id / ends at id; return that item.
  Item* get_item_clean_start(Transaction& txn, ID id);
  Item* get_item_clean_end(Transaction& txn, ID id);

 private:
  std::unordered_map<uint64_t, std::vector<Item*>> clients_;
};

}  // namespace blobsync::crdt
