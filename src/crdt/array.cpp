#include "crdt/array.h"

#include "crdt/doc.h"
#include "crdt/type_json.h"

namespace blobsync::crdt {

static std::vector<Branch*> array_insert(Branch* b, uint64_t index, const std::vector<Prelim>& values, bool* ok) {
  std::vector<Branch*> created;
  *ok = b && !b->collected && index <= b->length;
  if (!*ok || values.empty()) return created;
  b->doc->transact([&](Transaction& txn) {
    Item* left = list_left_at(txn, b, index);
    Item* marker = b->marker;
    uint64_t mi = b->marker_index;
    created = list_insert_after(txn, b, left, values);
    if (left) {
      b->marker = marker;
      b->marker_index = mi;
    }
  });
  return created;
}

bool ArrayRef::insert(uint64_t index, const std::vector<Prelim>& values) {
  bool ok;
  array_insert(b_, index, values, &ok);
  return ok;
}

Branch* ArrayRef::insert_type(uint64_t index, TypeRef type, std::string node_name) {
  bool ok;
  auto created = array_insert(b_, index, {Prelim::type_of(type, std::move(node_name))}, &ok);
  return created.empty() ? nullptr : created[0];
}

bool ArrayRef::remove(uint64_t index, uint64_t len) {
  if (!b_ || b_->collected || index + len > b_->length || len == 0) return false;
  b_->doc->transact([&](Transaction& txn) { list_delete(txn, b_, index, len); });
  return true;
}

std::string ArrayRef::to_json() const { return branch_to_json(b_); }

}  // namespace blobsync::crdt
