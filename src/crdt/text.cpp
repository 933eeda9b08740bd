#include "crdt/text.h"

#include <map>

#include "crdt/doc.h"
#include "crdt/item_ops.h"
#include "crdt/type_json.h"

namespace blobsync::crdt {

namespace {

bool is_primitive(const Any& a) {
  return !std::holds_alternative<AnyArray>(a.v) && !std::holds_alternative<AnyObject>(a.v) &&
         !std::holds_alternative<Bytes>(a.v);
}

// yjs equalAttrs: identity for primitives, flat equality for objects.
bool equal_attrs(const std::optional<Any>& a, const Any& b) {
  if (!a) return false;
  return *a == b;
}

using Attrs = std::vector<std::pair<std::string, Any>>;  // insertion ordered

const Any* attrs_get(const Attrs& m, const std::string& k) {
  for (auto& [key, v] : m)
    if (key == k) return &v;
  return nullptr;
}
void attrs_set(Attrs& m, const std::string& k, Any v) {
  for (auto& [key, val] : m)
    if (key == k) {
      val = std::move(v);
      return;
    }
  m.emplace_back(k, std::move(v));
}
void attrs_erase(Attrs& m, const std::string& k) {
  std::erase_if(m, [&](auto& p) { return p.first == k; });
}
Any attr_or_null(const Attrs& m, const std::string& k) {
  const Any* v = attrs_get(m, k);
  return v ? *v : Any(Null{});
}

void update_current(Attrs& cur, const Content& f) {
  if (f.x().value.is_null())
    attrs_erase(cur, f.x().key);
  else
    attrs_set(cur, f.x().key, f.x().value);
}

struct Pos {
  Item* left = nullptr;
  Item* right = nullptr;
  uint64_t index = 0;
  Attrs attrs;

  void forward() {
    if (right->content.ref() == ContentRef::kFormat) {
      if (!right->deleted()) update_current(attrs, right->content);
    } else if (!right->deleted()) {
      index += right->len;
    }
    left = right;
    right = right->right;
  }
};

void split_at(Transaction& txn, Item* it, uint64_t diff) {
  auto& structs = *txn.doc.store().structs(it->id.client);
  split_item(txn, structs, structs.find(it->id.clock), diff);
}

Pos find_position(Transaction& txn, Branch* b, uint64_t index, bool use_marker) {
  Pos pos;
  if (use_marker && !b->has_formatting) {
    // No format items: the cached lookup gives the same position.
    pos.left = list_left_at(txn, b, index);
    pos.right = pos.left ? pos.left->right : b->start;
    pos.index = index;
    return pos;
  }
  pos.right = b->start;
  uint64_t count = index;
  while (pos.right && count > 0) {
    Item* r = pos.right;
    if (r->content.ref() == ContentRef::kFormat) {
      if (!r->deleted()) update_current(pos.attrs, r->content);
    } else if (!r->deleted()) {
      if (count < r->len) split_at(txn, r, count);
      pos.index += r->len;
      count -= r->len;
    }
    pos.left = r;
    pos.right = r->right;
  }
  return pos;
}

void minimize_attribute_changes(Pos& pos, const Attrs& attributes) {
  while (pos.right) {
    Item* r = pos.right;
    if (r->deleted() ||
        (r->content.ref() == ContentRef::kFormat && attr_or_null(attributes, r->content.x().key) == r->content.x().value)) {
      pos.forward();
    } else {
      break;
    }
  }
}

void insert_at(Transaction& txn, Branch* b, Pos& pos, Content c) {
  Item* it = insert_local_item(txn, b, pos.left, pos.right, nullptr, std::move(c));
  pos.right = it;
  pos.forward();
}

Attrs insert_attributes(Transaction& txn, Branch* b, Pos& pos, const Attrs& attributes) {
  Attrs negated;
  for (auto& [key, val] : attributes) {
    Any cur = attr_or_null(pos.attrs, key);
    if (!(cur == val)) {
      attrs_set(negated, key, cur);
      insert_at(txn, b, pos, Content::format(key, val));
    }
  }
  return negated;
}

void insert_negated_attributes(Transaction& txn, Branch* b, Pos& pos, Attrs& negated) {
  while (pos.right) {
    Item* r = pos.right;
    bool skip = r->deleted();
    if (!skip && r->content.ref() == ContentRef::kFormat) {
      const Any* n = attrs_get(negated, r->content.x().key);
      skip = n && equal_attrs(*n, r->content.x().value);
    }
    if (!skip) break;
    if (!r->deleted()) attrs_erase(negated, r->content.x().key);
    pos.forward();
  }
  for (auto& [key, val] : negated) insert_at(txn, b, pos, Content::format(key, val));
}

void insert_content(Transaction& txn, Branch* b, Pos& pos, Content c, Attrs attributes) {
  for (auto& [k, v] : pos.attrs)
    if (!attrs_get(attributes, k)) attrs_set(attributes, k, Null{});
  minimize_attribute_changes(pos, attributes);
  Attrs negated = insert_attributes(txn, b, pos, attributes);
  insert_at(txn, b, pos, std::move(c));
  insert_negated_attributes(txn, b, pos, negated);
}

// Removes format markers made redundant by a deletion (yjs
// cleanupFormattingGap); only the local side does this.
void cleanup_formatting_gap(Transaction& txn, Item* start, Item* curr, const Attrs& start_attrs, Attrs& curr_attrs) {
  Item* end = start;
  std::map<std::string, Item*> end_formats;
  while (end && (!end->countable() || end->deleted())) {
    if (!end->deleted() && end->content.ref() == ContentRef::kFormat) end_formats[end->content.x().key] = end;
    end = end->right;
  }
  bool reached_curr = false;
  while (start != end) {
    if (curr == start) reached_curr = true;
    if (!start->deleted() && start->content.ref() == ContentRef::kFormat) {
      const std::string key = start->content.x().key;
      const Any value = start->content.x().value;
      Any start_val = attr_or_null(start_attrs, key);
      auto ef = end_formats.find(key);
      bool same = is_primitive(start_val) && start_val == value;
      if ((ef == end_formats.end() || ef->second != start) || same) {
        delete_item(txn, start);
        Any cv = attr_or_null(curr_attrs, key);
        if (!reached_curr && is_primitive(cv) && cv == value && !same) {
          if (start_val.is_null())
            attrs_erase(curr_attrs, key);
          else
            attrs_set(curr_attrs, key, start_val);
        }
      }
      if (!reached_curr && !start->deleted()) update_current(curr_attrs, start->content);
    }
    start = start->right;
  }
}

Attrs to_attrs(const std::optional<AnyObject>& a) {
  Attrs out;
  if (a)
    for (auto& [k, v] : *a) out.emplace_back(k, v);
  return out;
}

bool insert_generic(Branch* b, uint64_t index, Content c, const std::optional<AnyObject>& attributes) {
  if (!b || b->collected || index > b->length || c.length() == 0) return false;
  b->doc->transact([&](Transaction& txn) {
    Pos pos = find_position(txn, b, index, !attributes);
    Item* marker = b->marker;
    uint64_t mi = b->marker_index;
    Item* first_left = pos.left;
    Attrs attrs = attributes ? to_attrs(attributes) : pos.attrs;
    insert_content(txn, b, pos, std::move(c), std::move(attrs));
    if (first_left && marker == first_left) {
      b->marker = marker;
      b->marker_index = mi;
    }
  });
  return true;
}

}  // namespace

bool TextRef::insert(uint64_t index, std::u16string_view text, const std::optional<AnyObject>& attributes) {
  if (text.empty()) return b_ && index <= b_->length;
  return insert_generic(b_, index, Content::string(std::u16string(text)), attributes);
}

bool TextRef::insert_utf8(uint64_t index, std::string_view text, const std::optional<AnyObject>& attributes) {
  if (!valid_utf8(text)) return false;
  return insert(index, utf8_to_utf16(text), attributes);
}

bool TextRef::insert_embed(uint64_t index, Any embed, const std::optional<AnyObject>& attributes) {
  return insert_generic(b_, index, Content::embed(std::move(embed)), attributes);
}

Branch* TextRef::insert_type(uint64_t index, TypeRef type, std::string node_name) {
  if (!b_ || b_->collected || index > b_->length) return nullptr;
  Branch* created = nullptr;
  b_->doc->transact([&](Transaction& txn) {
    Pos pos = find_position(txn, b_, index, false);
    Content c = prelim_content(txn, b_, Prelim::type_of(type, std::move(node_name)));
    created = c.x().branch;
    Attrs attrs = pos.attrs;
    insert_content(txn, b_, pos, std::move(c), std::move(attrs));
  });
  return created;
}

bool TextRef::format(uint64_t index, uint64_t len, const AnyObject& attributes) {
  if (!b_ || b_->collected || index > b_->length) return false;
  if (len == 0) return true;
  b_->doc->transact([&](Transaction& txn) {
    Pos pos = find_position(txn, b_, index, false);
    if (!pos.right) return;
    Attrs attrs = to_attrs(attributes);
    minimize_attribute_changes(pos, attrs);
    Attrs negated = insert_attributes(txn, b_, pos, attrs);
    uint64_t length = len;
    while (pos.right && (length > 0 || (!negated.empty() && (pos.right->deleted() || pos.right->content.ref() == ContentRef::kFormat)))) {
      Item* r = pos.right;
      if (!r->deleted()) {
        if (r->content.ref() == ContentRef::kFormat) {
          const std::string key = r->content.x().key;
          const Any value = r->content.x().value;
          if (const Any* attr = attrs_get(attrs, key)) {
            if (*attr == value) {
              attrs_erase(negated, key);
            } else {
              if (length == 0) break;
              attrs_set(negated, key, value);
            }
            delete_item(txn, r);
          } else {
            attrs_set(pos.attrs, key, value);
          }
        } else {
          if (length < r->len) split_at(txn, r, length);
          length -= r->len;
        }
      }
      pos.forward();
    }
    if (length > 0) insert_at(txn, b_, pos, Content::string(std::u16string(length, u'\n')));
    insert_negated_attributes(txn, b_, pos, negated);
  });
  return true;
}

bool TextRef::remove(uint64_t index, uint64_t len) {
  if (!b_ || b_->collected || index + len > b_->length) return false;
  if (len == 0) return true;
  b_->doc->transact([&](Transaction& txn) {
    Pos pos = find_position(txn, b_, index, true);
    Item* marker = b_->marker;
    uint64_t mi = b_->marker_index;
    Item* first_left = pos.left;
    Attrs start_attrs = pos.attrs;
    Item* start = pos.right;
    uint64_t length = len;
    while (length > 0 && pos.right) {
      Item* r = pos.right;
      if (!r->deleted()) {
        ContentRef ref = r->content.ref();
        if (ref == ContentRef::kType || ref == ContentRef::kEmbed || ref == ContentRef::kString) {
          if (length < r->len) split_at(txn, r, length);
          length -= r->len;
          delete_item(txn, r);
        }
      }
      pos.forward();
    }
    if (start && b_->has_formatting) cleanup_formatting_gap(txn, start, pos.right, start_attrs, pos.attrs);
    if (first_left && marker == first_left) {
      b_->marker = marker;
      b_->marker_index = mi;
    }
  });
  return true;
}

std::u16string TextRef::to_u16string() const {
  std::u16string s;
  if (!b_) return s;
  for (const Item* p = b_->start; p; p = p->right)
    if (!p->deleted() && p->content.ref() == ContentRef::kString) p->content.append_str(s);
  return s;
}

std::string TextRef::to_string() const { return utf16_to_utf8(to_u16string()); }

std::vector<DeltaOp> TextRef::to_delta() const {
  std::vector<DeltaOp> ops;
  if (!b_) return ops;
  Attrs cur;
  auto attrs_obj = [&] {
    AnyObject o;
    for (auto& [k, v] : cur) object_set(o, k, v);
    return o;
  };
  DeltaOp pending;
  bool has_pending = false;
  auto pack = [&] {
    if (has_pending) ops.push_back(std::move(pending));
    pending = DeltaOp();
    has_pending = false;
  };
  for (const Item* p = b_->start; p; p = p->right) {
    if (p->deleted()) continue;
    switch (p->content.ref()) {
      case ContentRef::kString:
        if (!has_pending) {
          pending.attributes = attrs_obj();
          has_pending = true;
        }
        p->content.append_str(pending.text);
        break;
      case ContentRef::kEmbed:
      case ContentRef::kType: {
        pack();
        DeltaOp op;
        if (p->content.ref() == ContentRef::kEmbed)
          op.embed = p->content.x().value;
        else
          op.type = p->content.x().branch;
        op.attributes = attrs_obj();
        ops.push_back(std::move(op));
        break;
      }
      case ContentRef::kFormat:
        pack();
        update_current(cur, p->content);
        break;
      default: break;
    }
  }
  pack();
  return ops;
}

std::string TextRef::to_json() const { return branch_to_json(b_); }

}  // namespace blobsync::crdt
