// ArrayRef: editing API of a Y.Array (yjs YArray): insert, push, delete.
//
// Thread safety: as the owning Doc (single thread at a time).
#pragma once

#include <string>
#include <vector>

#include "crdt/list.h"

namespace blobsync::crdt {

class ArrayRef {
 public:
  explicit ArrayRef(Branch* b = nullptr) : b_(b) {}
  Branch* branch() const { return b_; }
  explicit operator bool() const { return b_ != nullptr; }
  uint64_t length() const { return b_ ? b_->length : 0; }

  // REQUIRES index <= length(); out-of-range calls are ignored (false).
  bool insert(uint64_t index, const std::vector<Prelim>& values);
  bool push(const std::vector<Prelim>& values) { return insert(length(), values); }
  Branch* insert_type(uint64_t index, TypeRef type, std::string node_name = {});
  bool remove(uint64_t index, uint64_t len = 1);
  std::string to_json() const;

 private:
  Branch* b_;
};

}  // namespace blobsync::crdt
