#include "crdt/map.h"

#include "crdt/doc.h"
#include "crdt/item_ops.h"
#include "crdt/type_json.h"

namespace blobsync::crdt {

static Branch* map_set(Branch* b, const std::string& key, const Prelim& value) {
  if (!b || b->collected) return nullptr;
  Branch* created = nullptr;
  b->doc->transact([&](Transaction& txn) {
    auto [k, slot] = b->map_slot(key);
    Item* left = *slot;
    Content c = prelim_content(txn, b, value);
    if (c.ref() == ContentRef::kType) created = c.x().branch;
    insert_local_item(txn, b, left, nullptr, k, std::move(c));
  });
  return created;
}

void MapRef::set(const std::string& key, Prelim value) { map_set(b_, key, value); }

Branch* MapRef::set_type(const std::string& key, TypeRef type, std::string node_name) {
  return map_set(b_, key, Prelim::type_of(type, std::move(node_name)));
}

void MapRef::remove(const std::string& key) {
  if (!b_ || b_->collected) return;
  Item* it = b_->map_get(key);
  if (!it || it->deleted()) return;
  b_->doc->transact([&](Transaction& txn) { delete_item(txn, it); });
}

const Item* MapRef::get(const std::string& key) const {
  if (!b_) return nullptr;
  Item* it = b_->map_get(key);
  return it && !it->deleted() ? it : nullptr;
}

bool MapRef::has(const std::string& key) const { return get(key) != nullptr; }

std::optional<Any> MapRef::get_value(const std::string& key) const {
  const Item* it = get(key);
  if (!it) return std::nullopt;
  switch (it->content.ref()) {
    case ContentRef::kAny:
    case ContentRef::kJson: return it->content.x().values.back();
    case ContentRef::kBinary: return Any(it->content.x().bytes);
    case ContentRef::kEmbed: return it->content.x().value;
    default: return std::nullopt;
  }
}

std::vector<std::string> MapRef::keys() const {
  std::vector<std::string> out;
  if (!b_) return out;
  for (const std::string* k : b_->key_order) {
    Item* it = b_->map_get(*k);
    if (it && !it->deleted()) out.push_back(*k);
  }
  return out;
}

std::string MapRef::to_json() const { return branch_to_json(b_); }

}  // namespace blobsync::crdt
