#include <unordered_set>

#include "crdt/doc.h"
#include "crdt/item_ops.h"
#include "crdt/struct_store.h"
#include "crdt/transaction.h"
#include "crdt/work_meter.h"

namespace blobsync::crdt {

std::pair<const std::string*, Item**> Branch::map_slot(const std::string& key) {
  auto [it, inserted] = map.try_emplace(key, nullptr);
  if (inserted) key_order.push_back(&it->first);
  return {&it->first, &it->second};
}

void add_changed_type(Transaction& txn, Branch* type, const std::string* parent_sub) {
  if (type->collected) return;
  Item* item = type->item;
  if (item == nullptr || (item->id.clock < txn.before(item->id.client) && !item->deleted())) {
    txn.changed[type].insert(parent_sub);
  }
}

StructList::iterator split_item(Transaction& txn, StructList& structs, StructList::iterator pos, uint64_t diff) {
  Item* left = *pos;
  auto* right = new Item();
  right->id = ID{left->id.client, left->id.clock + diff};
  right->len = left->len - diff;
  right->left = left;
  right->right = left->right;
  right->origin = ID{left->id.client, left->id.clock + diff - 1};
  right->right_origin = left->right_origin;
  right->flags = static_cast<uint8_t>(Item::kHasOrigin | (left->flags & (Item::kHasRightOrigin | Item::kDeleted | Item::kKeep)));
  right->parent = left->parent;
  right->parent_sub = left->parent_sub;
  right->content = left->content.splice(diff);
  left->right = right;
  if (right->right) right->right->left = right;
  txn.merge_structs.push_back(right->id);
  if (right->parent_sub && !right->right && right->parent) *right->parent->map_slot(*right->parent_sub).second = right;
  left->len = diff;
  return structs.insert_after(pos, right);
}

bool try_merge(Item* left, Item* right) {
  if (left->is_gc() || right->is_gc()) {
    if (!(left->is_gc() && right->is_gc())) return false;
    left->len += right->len;
    return true;
  }
  ContentRef r = left->content.ref();
  if (r != right->content.ref()) return false;
  if (r != ContentRef::kString && r != ContentRef::kAny && r != ContentRef::kJson && r != ContentRef::kDeleted)
    return false;
  if (!right->has_origin() || right->origin != left->last_id()) return false;
  if (left->right != right) return false;
  if (left->has_right_origin() != right->has_right_origin()) return false;
  if (left->has_right_origin() && left->right_origin != right->right_origin) return false;
  if (left->id.client != right->id.client || left->id.clock + left->len != right->id.clock) return false;
  if (left->deleted() != right->deleted()) return false;
  Branch* parent = left->parent;
  if (parent && parent->marker == right) {
    // right is about to be freed; keep the cache pointing at the merged item
    parent->marker = left;
    if (left->visible()) parent->marker_index -= left->len;
  }
  if (right->flags & Item::kKeep) left->flags |= Item::kKeep;
  left->content.merge_with(right->content);
  left->right = right->right;
  if (left->right) left->right->left = left;
  left->len += right->len;
  return true;
}

// yjs compareIDs: both absent, or both present and equal.
static bool same_origin(bool a_has, ID a, bool b_has, ID b) { return a_has == b_has && (!a_has || a == b); }

void integrate_item(Transaction& txn, Item* self) {
  StructStore& store = txn.doc.store();
  Branch* parent = self->parent;
  if (!parent) {
    // no parent: integrate a GC struct instead
    self->flags = Item::kGC;
    self->content = Content::deleted(self->len);
    self->left = self->right = nullptr;
    self->parent_sub = nullptr;
    store.add(self);
    return;
  }
  if ((!self->left && (!self->right || self->right->left != nullptr)) || (self->left && self->left->right != self->right)) {
    Item* left = self->left;
    Item* o;
    if (left) {
      o = left->right;
    } else if (self->parent_sub) {
      o = parent->map_get(*self->parent_sub);
      while (o && o->left) {
        o = o->left;
        work_add(1);
      }
    } else {
      o = parent->start;
    }
    std::unordered_set<Item*> conflicting;
    std::unordered_set<Item*> before_origin;
    while (o && o != self->right) {
      work_add(1);
      before_origin.insert(o);
      conflicting.insert(o);
      if (same_origin(self->has_origin(), self->origin, o->has_origin(), o->origin)) {
        if (o->id.client < self->id.client) {
          left = o;
          conflicting.clear();
        } else if (same_origin(self->has_right_origin(), self->right_origin, o->has_right_origin(), o->right_origin)) {
          break;
        }
      } else if (o->has_origin()) {
        Item* oo = nullptr;
        if (o->origin.clock < store.get_state(o->origin.client)) oo = store.get_item(o->origin);
        if (oo && before_origin.count(oo)) {
          if (!conflicting.count(oo)) {
            left = o;
            conflicting.clear();
          }
        } else {
          break;
        }
      } else {
        break;
      }
      o = o->right;
    }
    self->left = left;
  }
  if (self->left) {
    self->right = self->left->right;
    self->left->right = self;
  } else {
    Item* r;
    if (self->parent_sub) {
      r = parent->map_get(*self->parent_sub);
      while (r && r->left) {
        r = r->left;
        work_add(1);
      }
    } else {
      r = parent->start;
      parent->start = self;
    }
    self->right = r;
  }
  if (self->right) {
    self->right->left = self;
  } else if (self->parent_sub) {
    *parent->map_slot(*self->parent_sub).second = self;
    if (self->left) delete_item(txn, self->left);
  }
  if (!self->parent_sub && self->countable() && !self->deleted()) parent->length += self->len;
  store.add(self);
  // content.integrate
  if (self->content.ref() == ContentRef::kType) {
    Branch* b = self->content.x().branch;
    if (b) {
      b->item = self;
      b->doc = &txn.doc;
    }
  } else if (self->content.ref() == ContentRef::kFormat) {
    parent->has_formatting = true;
  }
  parent->reset_marker();
  add_changed_type(txn, parent, self->parent_sub);
  if (parent->collected || (parent->item && parent->item->deleted()) || (self->parent_sub && self->right)) delete_item(txn, self);
}

void delete_item(Transaction& txn, Item* root) {
  // Iterative so that deeply nested types cannot overflow the stack.
  std::vector<Item*> todo{root};
  while (!todo.empty()) {
    Item* item = todo.back();
    todo.pop_back();
    if (item->deleted()) continue;
    Branch* parent = item->parent;
    if (item->countable() && !item->parent_sub) parent->length -= item->len;
    item->mark_deleted();
    txn.delete_set.add(item->id.client, item->id.clock, item->len);
    parent->reset_marker();
    add_changed_type(txn, parent, item->parent_sub);
    if (item->content.ref() == ContentRef::kType) {
      Branch* t = item->content.x().branch;
      if (!t) continue;
      for (Item* c = t->start; c; c = c->right) {
        if (!c->deleted())
          todo.push_back(c);
        else if (c->id.clock < txn.before(c->id.client))
          txn.merge_structs.push_back(c->id);
      }
      for (auto& [k, c] : t->map) {
        if (!c) continue;
        if (!c->deleted())
          todo.push_back(c);
        else if (c->id.clock < txn.before(c->id.client))
          txn.merge_structs.push_back(c->id);
      }
      txn.changed.erase(t);
    }
  }
}

void gc_item(Item* root, bool root_parent_gcd) {
  std::vector<std::pair<Item*, bool>> todo{{root, root_parent_gcd}};
  while (!todo.empty()) {
    auto [item, parent_gcd] = todo.back();
    todo.pop_back();
    if (item->is_gc()) continue;
    if (item->content.ref() == ContentRef::kType) {
      Branch* t = item->content.x().branch;
      if (t) {
        t->collected = true;
        t->item = nullptr;
        for (Item* c = t->start; c; c = c->right) todo.emplace_back(c, true);
        t->start = nullptr;
        for (auto& [k, c] : t->map)
          for (Item* x = c; x; x = x->left) todo.emplace_back(x, true);
        t->map.clear();
        t->key_order.clear();
        t->length = 0;
        t->reset_marker();
      }
    }
    if (parent_gcd) {
      item->flags = Item::kGC;
      item->content = Content::deleted(item->len);
      item->parent_sub = nullptr;
    } else {
      item->content = Content::deleted(item->len);
    }
  }
}

}  // namespace blobsync::crdt
