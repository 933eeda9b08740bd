// StructStore: every struct of a document, per client in clock order with no
// gaps (yjs StructStore). Owns the Item objects.
//
// A client's structs are a StructList: chunks of at most kChunk pointers in
// a std::map keyed by each chunk's first clock. yjs
// keeps one flat array per client, so splitting one struct at N points cost
// O(N) array moves per split (O(N^2) for one hostile update, issue 18);
// here a split moves at most kChunk pointers and a lookup is O(log n).
// Appending (the common path) stays a push_back into the last chunk.
//
// Thread safety: none; guarded by the owning Doc's contract.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <map>
#include <unordered_map>
#include <vector>

#include "crdt/id.h"
#include "crdt/item.h"
#include "crdt/state_vector.h"

namespace blobsync::crdt {

class Transaction;

class StructList {
 public:
  static constexpr size_t kChunk = 64;
  using Chunks = std::map<uint64_t, std::vector<Item*>>;

  // Bidirectional position; stays valid across changes elsewhere in the
  // list except an insert into its own chunk (which may split the chunk):
  // use the iterator insert_after returns.
  class iterator {
   public:
    using iterator_category = std::bidirectional_iterator_tag;
    using value_type = Item*;
    using difference_type = std::ptrdiff_t;
    using pointer = Item* const*;
    using reference = Item* const&;
    iterator() = default;
    iterator(Chunks::iterator c, size_t i) : c_(c), i_(i) {}
    Item* const& operator*() const { return c_->second[i_]; }
    iterator& operator++() {
      if (++i_ == c_->second.size()) {
        ++c_;
        i_ = 0;
      }
      return *this;
    }
    iterator operator++(int) {
      iterator t = *this;
      ++*this;
      return t;
    }
    iterator& operator--() {
      if (i_ == 0) {
        --c_;
        i_ = c_->second.size();
      }
      --i_;
      return *this;
    }
    iterator operator--(int) {
      iterator t = *this;
      --*this;
      return t;
    }
    bool operator==(const iterator& o) const { return c_ == o.c_ && i_ == o.i_; }

   private:
    friend class StructList;
    Chunks::iterator c_;
    size_t i_ = 0;
  };

  StructList() = default;
  StructList(StructList&&) = default;
  StructList& operator=(StructList&&) = default;

  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  Item* front() const { return chunks_.begin()->second.front(); }
  Item* back() const { return chunks_.rbegin()->second.back(); }
  // Clock after the last struct (the client's state); 0 when empty.
  uint64_t end_clock() const { return empty() ? 0 : back()->id.clock + back()->len; }
  iterator begin() const { return {mut().begin(), 0}; }
  iterator end() const { return {mut().end(), 0}; }

  // REQUIRES: item->id.clock == end_clock().
  void push_back(Item* item);
  // The struct containing clock, or end() if clock >= end_clock().
  iterator find(uint64_t clock) const;
  // Inserts item right after pos; returns its position.
  iterator insert_after(iterator pos, Item* item);
  // Removes the n structs after pos (REQUIRES that many); does not free them.
  void erase_after(iterator pos, size_t n);
  // Number of structs from pos to the end: O(chunks after pos).
  size_t count_from(iterator pos) const;

 private:
  // Iterators of a const list still hand out Item* (as a const vector did).
  Chunks& mut() const { return const_cast<Chunks&>(chunks_); }
  Chunks chunks_;
  size_t size_ = 0;
};

class StructStore {
 public:
  StructStore() = default;
  StructStore(const StructStore&) = delete;
  StructStore& operator=(const StructStore&) = delete;
  ~StructStore();

  uint64_t get_state(uint64_t client) const {
    auto it = clients_.find(client);
    return it == clients_.end() ? 0 : it->second.end_clock();
  }
  StateVector state_vector() const;
  // REQUIRES: item->id.clock == get_state(client). Takes ownership.
  // Records the client's clock in the recording map first, if one is set.
  void add(Item* item);
  // While set, add() records each client's clock before its first add
  // (Transaction::moved); Doc::transact sets and clears it.
  void record_moves(std::unordered_map<uint64_t, uint64_t>* moved) { moved_ = moved; }
  StructList* structs(uint64_t client) {
    auto it = clients_.find(client);
    return it == clients_.end() ? nullptr : &it->second;
  }
  const std::unordered_map<uint64_t, StructList>& clients() const { return clients_; }
  // REQUIRES: id < state of id.client.
  Item* get_item(ID id);
  // Split so an item starts at id / ends at id; return that item.
  Item* get_item_clean_start(Transaction& txn, ID id);
  Item* get_item_clean_end(Transaction& txn, ID id);

 private:
  // Two buckets to start: libstdc++ gives a default-constructed map 13 on
  // its first insert (104 bytes), and most documents have one or two clients.
  std::unordered_map<uint64_t, StructList> clients_ = std::unordered_map<uint64_t, StructList>(2);
  std::unordered_map<uint64_t, uint64_t>* moved_ = nullptr;  // see record_moves()
};

}  // namespace blobsync::crdt
