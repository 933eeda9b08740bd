#include "crdt/struct_store.h"

#include <algorithm>

#include "crdt/item_ops.h"
#include "crdt/work_meter.h"

namespace blobsync::crdt {

void StructList::push_back(Item* item) {
  if (chunks_.empty() || chunks_.rbegin()->second.size() >= kChunk) {
    std::vector<Item*> v;
    v.reserve(chunks_.empty() ? 4 : kChunk);  // one-struct clients stay small
    v.push_back(item);
    chunks_.emplace_hint(chunks_.end(), item->id.clock, std::move(v));
  } else {
    chunks_.rbegin()->second.push_back(item);
  }
  ++size_;
}

StructList::iterator StructList::find(uint64_t clock) const {
  if (clock >= end_clock()) return end();
  auto c = std::prev(mut().end());
  if (c->first > clock) {  // the common lookup is near the end
    c = mut().upper_bound(clock);
    if (c == mut().begin()) return end();  // before the first struct (clocks start at 0)
    --c;
  }
  const auto& v = c->second;
  // Last struct starting at or before clock (chunk keys are first clocks).
  auto it = std::upper_bound(v.begin(), v.end(), clock, [](uint64_t k, const Item* s) { return k < s->id.clock; });
  return {c, static_cast<size_t>(it - v.begin()) - 1};
}

StructList::iterator StructList::insert_after(iterator pos, Item* item) {
  auto c = pos.c_;
  size_t i = pos.i_ + 1;
  ++size_;
  if (c->second.size() >= kChunk) {
    // Full: move the upper half to a new chunk first (no reallocation).
    auto& v = c->second;
    size_t half = v.size() / 2;
    std::vector<Item*> upper;
    upper.reserve(kChunk);
    upper.assign(v.begin() + static_cast<ptrdiff_t>(half), v.end());
    v.resize(half);
    work_add(half);
    auto next = chunks_.emplace_hint(std::next(c), upper.front()->id.clock, std::move(upper));
    if (i > half) {
      c = next;
      i -= half;
    }
  }
  auto& v = c->second;
  work_add(v.size() - i + 1);  // the tail of one chunk moves
  v.insert(v.begin() + static_cast<ptrdiff_t>(i), item);
  return {c, i};
}

void StructList::erase_after(iterator pos, size_t n) {
  auto c = pos.c_;
  size_t start = pos.i_ + 1;
  size_ -= n;
  while (n > 0) {
    if (start == c->second.size()) {
      ++c;
      start = 0;
    }
    auto& v = c->second;
    size_t k = std::min(n, v.size() - start);
    work_add(v.size() - start);
    v.erase(v.begin() + static_cast<ptrdiff_t>(start), v.begin() + static_cast<ptrdiff_t>(start + k));
    n -= k;
    if (v.empty()) {
      c = std::prev(chunks_.erase(c));  // never pos's chunk: pos stays
      start = c->second.size();
    } else if (start == 0) {
      // The chunk's first struct changed: re-key it (n is 0 here).
      auto node = chunks_.extract(c);
      node.key() = node.mapped().front()->id.clock;
      chunks_.insert(std::move(node));
    }
  }
}

size_t StructList::count_from(iterator pos) const {
  if (pos.c_ == chunks_.end()) return 0;
  size_t n = pos.c_->second.size() - pos.i_;
  for (auto c = std::next(pos.c_); c != chunks_.end(); ++c) n += c->second.size();
  return n;
}

StructStore::~StructStore() {
  for (auto& [client, v] : clients_)
    for (Item* i : v) delete i;
}

StateVector StructStore::state_vector() const {
  StateVector sv;
  for (auto& [client, v] : clients_)
    if (!v.empty()) sv[client] = v.end_clock();
  return sv;
}

void StructStore::add(Item* item) {
  auto& list = clients_[item->id.client];
  if (moved_) moved_->try_emplace(item->id.client, list.end_clock());
  list.push_back(item);
}

Item* StructStore::get_item(ID id) { return *clients_.at(id.client).find(id.clock); }

Item* StructStore::get_item_clean_start(Transaction& txn, ID id) {
  auto& v = clients_.at(id.client);
  auto it = v.find(id.clock);
  Item* s = *it;
  if (s->id.clock < id.clock && !s->is_gc()) return *split_item(txn, v, it, id.clock - s->id.clock);
  return s;
}

Item* StructStore::get_item_clean_end(Transaction& txn, ID id) {
  auto& v = clients_.at(id.client);
  auto it = v.find(id.clock);
  Item* s = *it;
  if (id.clock != s->id.clock + s->len - 1 && !s->is_gc()) split_item(txn, v, it, id.clock - s->id.clock + 1);
  return s;
}

}  // namespace blobsync::crdt
