#include "crdt/struct_store.h"

#include <algorithm>

#include "crdt/item_ops.h"

namespace blobsync::crdt {

StructStore::~StructStore() {
  for (auto& [client, v] : clients_)
    for (Item* i : v) delete i;
}

StateVector StructStore::state_vector() const {
  StateVector sv;
  for (auto& [client, v] : clients_)
    if (!v.empty()) sv[client] = v.back()->id.clock + v.back()->len;
  return sv;
}

void StructStore::add(Item* item) { clients_[item->id.client].push_back(item); }

size_t StructStore::find_index(const std::vector<Item*>& structs, uint64_t clock) {
  // Interpolation guess first (clocks are dense), then binary search.
  size_t left = 0;
  size_t right = structs.size() - 1;
  Item* mid = structs[right];
  uint64_t midclock = mid->id.clock;
  if (midclock == clock) return right;
  uint64_t total = midclock + mid->len;
  size_t midindex = total ? static_cast<size_t>(static_cast<double>(clock) / static_cast<double>(total) * static_cast<double>(right)) : 0;
  if (midindex > right) midindex = right;
  while (left <= right) {
    mid = structs[midindex];
    midclock = mid->id.clock;
    if (midclock <= clock) {
      if (clock < midclock + mid->len) return midindex;
      left = midindex + 1;
    } else {
      if (midindex == 0) break;
      right = midindex - 1;
    }
    midindex = (left + right) / 2;
  }
  return structs.size();  // not found; callers check bounds before
}

Item* StructStore::get_item(ID id) {
  auto& v = clients_.at(id.client);
  return v[find_index(v, id.clock)];
}

Item* StructStore::get_item_clean_start(Transaction& txn, ID id) {
  auto& v = clients_.at(id.client);
  size_t i = find_index(v, id.clock);
  Item* s = v[i];
  if (s->id.clock < id.clock && !s->is_gc()) return split_item(txn, v, i, id.clock - s->id.clock);
  return s;
}

Item* StructStore::get_item_clean_end(Transaction& txn, ID id) {
  auto& v = clients_.at(id.client);
  size_t i = find_index(v, id.clock);
  Item* s = v[i];
  if (id.clock != s->id.clock + s->len - 1 && !s->is_gc()) split_item(txn, v, i, id.clock - s->id.clock + 1);
  return s;
}

}  // namespace blobsync::crdt
