#include "crdt/list.h"

#include "crdt/doc.h"
#include "crdt/item_ops.h"

namespace blobsync::crdt {

Item* insert_local_item(Transaction& txn, Branch* parent, Item* left, Item* right, const std::string* parent_sub,
                        Content content) {
  Doc& doc = txn.doc;
  auto* it = new Item();
  it->id = ID{doc.client_id(), doc.store().get_state(doc.client_id())};
  it->len = content.length();
  it->left = left;
  it->right = right;
  if (left) {
    it->origin = left->last_id();
    it->flags |= Item::kHasOrigin;
  }
  if (right) {
    it->right_origin = right->id;
    it->flags |= Item::kHasRightOrigin;
  }
  it->parent = parent;
  it->parent_sub = parent_sub;
  it->content = std::move(content);
  integrate_item(txn, it);
  return it;
}

Content prelim_content(Transaction& txn, Branch* parent, const Prelim& p) {
  if (p.kind == Prelim::Kind::kType) {
    Content c = Content::type(p.type, p.node_name);
    Branch* b = txn.doc.new_branch(p.type, p.node_name);
    b->depth = parent->depth + 1;
    c.x().branch = b;
    return c;
  }
  if (auto* bytes = std::get_if<Bytes>(&p.value.v)) return Content::binary(*bytes);
  return Content::any(AnyArray{p.value});
}

Item* list_left_at(Transaction& txn, Branch* parent, uint64_t index) {
  if (index == 0) return nullptr;
  Item* p = parent->start;
  uint64_t pi = 0;
  if (parent->marker) {
    p = parent->marker;
    pi = parent->marker_index;
    // step left until the item holding char index-1 is at or after p
    while (pi >= index && p->left) {
      p = p->left;
      if (p->visible()) pi -= p->len;
    }
    if (pi >= index) {
      p = parent->start;
      pi = 0;
    }
  }
  for (; p; p = p->right) {
    if (!p->visible()) continue;
    if (index <= pi + p->len) {
      if (index < pi + p->len) {
        auto& structs = *txn.doc.store().structs(p->id.client);
        split_item(txn, structs, structs.find(p->id.clock), index - pi);
      }
      parent->marker = p;
      parent->marker_index = pi;
      return p;
    }
    pi += p->len;
  }
  return nullptr;  // index beyond length; callers check
}

std::vector<Branch*> list_insert_after(Transaction& txn, Branch* parent, Item* left, const std::vector<Prelim>& values) {
  std::vector<Branch*> created;
  Item* right = left ? left->right : parent->start;
  AnyArray pack;
  auto flush = [&] {
    if (pack.empty()) return;
    left = insert_local_item(txn, parent, left, right, nullptr, Content::any(std::move(pack)));
    pack.clear();
  };
  for (auto& v : values) {
    if (v.kind == Prelim::Kind::kAny && !std::holds_alternative<Bytes>(v.value.v)) {
      pack.push_back(v.value);
      continue;
    }
    flush();
    Content c = prelim_content(txn, parent, v);
    if (c.ref() == ContentRef::kType) created.push_back(c.x().branch);
    left = insert_local_item(txn, parent, left, right, nullptr, std::move(c));
  }
  flush();
  parent->reset_marker();  // callers restore a cache entry they know is exact
  return created;
}

void list_delete(Transaction& txn, Branch* parent, uint64_t index, uint64_t len) {
  if (len == 0) return;
  Item* left = list_left_at(txn, parent, index);
  Item* markp = parent->marker;
  uint64_t marki = parent->marker_index;
  Item* n = left ? left->right : parent->start;
  while (len > 0 && n) {
    if (!n->deleted()) {
      if (n->countable()) {
        if (len < n->len) {
          auto& structs = *txn.doc.store().structs(n->id.client);
          split_item(txn, structs, structs.find(n->id.clock), len);
        }
        len -= n->len;
      }
      delete_item(txn, n);
    }
    n = n->right;
  }
  // Items before the deleted range keep their index, so the cache stays
  // exact when it points at or before `left`.
  if (left) {
    parent->marker = markp;
    parent->marker_index = marki;
  } else {
    parent->reset_marker();
  }
}

std::vector<const Item*> list_items(const Branch* parent) {
  std::vector<const Item*> out;
  for (const Item* p = parent->start; p; p = p->right)
    if (p->visible()) out.push_back(p);
  return out;
}

}  // namespace blobsync::crdt
