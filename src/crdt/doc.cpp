#include "crdt/doc.h"

#include <algorithm>
#include <random>

#include "crdt/item_ops.h"
#include "crdt/updates.h"

namespace blobsync::crdt {

namespace {
constexpr uint32_t kMaxTypeDepth = 1000;
}

uint64_t random_client_id() {
  static thread_local std::mt19937 rng{std::random_device{}()};
  return rng();
}

Transaction::Transaction(Doc& d, const void* o, bool l) : doc(d), origin(o), local(l) {}

uint64_t Transaction::before(uint64_t client) const {
  auto it = moved.find(client);
  return it != moved.end() ? it->second : doc.store().get_state(client);  // unmoved: as it was
}

Doc::Doc(uint64_t client_id, bool gc) : client_id_(client_id), gc_(gc) {}
Doc::~Doc() = default;

Branch* Doc::new_branch(TypeRef type, std::string node_name) {
  auto b = std::make_unique<Branch>();
  b->doc = this;
  b->type_ref = type;
  b->node_name = std::move(node_name);
  branches_.push_back(std::move(b));
  return branches_.back().get();
}

Branch* Doc::get(const std::string& name, TypeRef type) {
  auto it = share_.find(name);
  if (it == share_.end()) {
    auto b = std::make_unique<Branch>();
    b->doc = this;
    b->type_ref = type;
    it = share_.emplace(name, std::move(b)).first;
    it->second->root_name = &it->first;
    root_order_.push_back(&it->first);
    return it->second.get();
  }
  Branch* b = it->second.get();
  if (b->type_ref == TypeRef::kUnknown) b->type_ref = type;
  if (type != TypeRef::kUnknown && b->type_ref != type) return nullptr;
  return b;
}

Branch* Doc::root(const std::string& name) const {
  auto it = share_.find(name);
  return it == share_.end() ? nullptr : it->second.get();
}

int Doc::on_update(UpdateFn fn) {
  update_fns_.emplace_back(next_handle_, std::move(fn));
  return next_handle_++;
}
int Doc::on_update_v2(UpdateFn fn) {
  update_v2_fns_.emplace_back(next_handle_, std::move(fn));
  return next_handle_++;
}
int Doc::on_after_transaction(TxnFn fn) {
  txn_fns_.emplace_back(next_handle_, std::move(fn));
  return next_handle_++;
}
void Doc::off(int handle) {
  std::erase_if(update_fns_, [&](auto& p) { return p.first == handle; });
  std::erase_if(update_v2_fns_, [&](auto& p) { return p.first == handle; });
  std::erase_if(txn_fns_, [&](auto& p) { return p.first == handle; });
}

void Doc::transact(const std::function<void(Transaction&)>& f, const void* origin, bool local) {
  if (txn_) {
    f(*txn_);
    return;
  }
  Transaction t(*this, origin, local);
  store_.record_moves(&t.moved);
  txn_ = &t;
  f(t);
  cleanup(t);
}

// yjs tryToMergeWithLefts: merges the struct at pos into its left
// neighbours as far as possible; returns how many structs were removed and
// sets pos to the struct that absorbed them.
static size_t merge_with_lefts(StructList& structs, StructList::iterator& pos) {
  auto i = pos;
  size_t merged = 0;
  while (i != structs.begin()) {
    auto l = std::prev(i);
    Item* left = *l;
    Item* right = *i;
    if (left->deleted() == right->deleted() && left->is_gc() == right->is_gc() && try_merge(left, right)) {
      if (!right->is_gc() && right->parent_sub && right->parent && right->parent->map_get(*right->parent_sub) == right)
        *right->parent->map_slot(*right->parent_sub).second = left;
      i = l;
      ++merged;
      continue;
    }
    break;
  }
  if (merged) {
    auto k = i;
    for (size_t n = 0; n < merged; ++n) delete *++k;
    structs.erase_after(i, merged);
  }
  pos = i;
  return merged;
}

void Doc::cleanup(Transaction& txn) {
  txn.delete_set.sort_and_merge();
  store_.record_moves(nullptr);
  // What moved (the after-state, taken before observers run), as yjs writes
  // it: clients in descending order, each from its clock before.
  std::vector<std::pair<uint64_t, uint64_t>> moved;
  for (auto& [client, before] : txn.moved)
    if (store_.get_state(client) > before) moved.emplace_back(client, before);
  std::sort(moved.begin(), moved.end(), [](auto& a, auto& b) { return a.first > b.first; });
  txn_ = nullptr;  // observers may start new transactions
  for (auto& [h, fn] : std::vector(txn_fns_)) fn(txn);
  auto& ds = txn.delete_set;
  if (gc_) {
    for (auto& [client, ranges] : ds.clients()) {
      auto* structs = store_.structs(client);
      if (!structs) continue;
      for (auto it = ranges.rbegin(); it != ranges.rend(); ++it) {
        uint64_t end = it->clock + it->len;
        for (auto si = structs->find(it->clock); si != structs->end(); ++si) {
          Item* s = *si;
          if (s->id.clock >= end) break;
          if (!s->is_gc() && s->deleted() && !(s->flags & Item::kKeep)) gc_item(s, false);
        }
      }
    }
  }
  for (auto& [client, ranges] : ds.clients()) {
    auto* structs = store_.structs(client);
    if (!structs) continue;
    for (auto it = ranges.rbegin(); it != ranges.rend(); ++it) {
      // From the struct after the range's last one, leftwards into the range.
      auto si = structs->find(it->clock + it->len - 1);
      if (si == structs->end())
        si = std::prev(structs->end());
      else if (std::next(si) != structs->end())
        ++si;
      while (si != structs->begin() && (*si)->id.clock >= it->clock) {
        merge_with_lefts(*structs, si);
        if (si == structs->begin()) break;
        --si;
      }
    }
  }
  for (auto& [client, before] : moved) {
    auto& structs = *store_.structs(client);
    // New structs (and the one holding `before`), right to left; the first
    // struct has nothing to merge into.
    uint64_t first = before == 0 ? 0 : (*structs.find(before))->id.clock;
    for (auto si = std::prev(structs.end()); si != structs.begin() && (*si)->id.clock >= first;) {
      merge_with_lefts(structs, si);
      if (si == structs.begin()) break;
      --si;
    }
  }
  for (size_t k = txn.merge_structs.size(); k-- > 0;) {
    ID id = txn.merge_structs[k];
    auto* structs = store_.structs(id.client);
    if (!structs || structs->empty()) continue;
    auto pos = structs->find(id.clock);
    if (pos == structs->end()) continue;
    auto next = std::next(pos);
    if (next != structs->end() && merge_with_lefts(*structs, next) > 1) continue;
    if (pos != structs->begin()) merge_with_lefts(*structs, pos);
  }
  // Someone else wrote with our client id: pick a new one (as yjs does).
  if (!txn.local && std::any_of(moved.begin(), moved.end(), [&](auto& m) { return m.first == client_id_; }))
    client_id_ = random_client_id();
  bool changed = !ds.empty() || !moved.empty();
  if (changed && (!update_fns_.empty() || !update_v2_fns_.empty())) {
    auto emit = [&](UpdateFormat fmt, auto& fns) {
      if (fns.empty()) return;
      auto enc = make_encoder(fmt);
      write_structs(*enc, moved);
      ds.write(*enc);
      Bytes u = enc->finish();
      for (auto& [h, fn] : std::vector(fns)) fn(u, txn);
    };
    emit(UpdateFormat::kV1, update_fns_);
    emit(UpdateFormat::kV2, update_v2_fns_);
  }
}

static void write_item(UpdateEncoder& enc, const Item* it, uint64_t offset) {
  if (it->is_gc()) {
    enc.write_info(0);
    enc.write_len(it->len - offset);
    return;
  }
  bool ho = offset > 0 || it->has_origin();
  ID o = offset > 0 ? ID{it->id.client, it->id.clock + offset - 1} : it->origin;
  bool hro = it->has_right_origin();
  uint8_t info = static_cast<uint8_t>((static_cast<uint8_t>(it->content.ref()) & 0x1f) | (ho ? 0x80 : 0) | (hro ? 0x40 : 0) |
                                      (it->parent_sub ? 0x20 : 0));
  enc.write_info(info);
  if (ho) enc.write_left_id(o);
  if (hro) enc.write_right_id(it->right_origin);
  if (!ho && !hro) {
    const Branch* p = it->parent;
    if (p->item == nullptr) {
      enc.write_parent_info(true);
      enc.write_string8(p->root_name ? *p->root_name : std::string());
    } else {
      enc.write_parent_info(false);
      enc.write_left_id(p->item->id);
    }
    if (it->parent_sub) enc.write_string8(*it->parent_sub);
  }
  it->content.write(enc, offset);
}

void Doc::write_structs(UpdateEncoder& enc, const StateVector& sv) const {
  std::vector<std::pair<uint64_t, uint64_t>> sm;
  for (auto& [client, structs] : store_.clients()) {
    if (structs.empty()) continue;
    uint64_t state = structs.end_clock();
    uint64_t clock = sv_get(sv, client);
    if (state > clock) sm.emplace_back(client, clock);
  }
  std::sort(sm.begin(), sm.end(), [](auto& a, auto& b) { return a.first > b.first; });
  write_structs(enc, sm);
}

void Doc::write_structs(UpdateEncoder& enc, const std::vector<std::pair<uint64_t, uint64_t>>& sm) const {
  enc.rest().write_var_uint(sm.size());
  for (auto& [client, c] : sm) {
    auto& structs = store_.clients().at(client);
    uint64_t clock = std::max(c, structs.front()->id.clock);
    auto start = structs.find(clock);
    enc.rest().write_var_uint(structs.count_from(start));
    enc.write_client(client);
    enc.rest().write_var_uint(clock);
    write_item(enc, *start, clock - (*start)->id.clock);
    for (auto i = std::next(start); i != structs.end(); ++i) write_item(enc, *i, 0);
  }
}

DeleteSet Doc::delete_set() const {
  DeleteSet ds;
  for (auto& [client, structs] : store_.clients()) {
    for (auto i = structs.begin(); i != structs.end();) {
      Item* s = *i++;
      if (!s->deleted()) continue;
      uint64_t clock = s->id.clock;
      uint64_t len = s->len;
      for (; i != structs.end() && (*i)->deleted(); ++i) len += (*i)->len;
      ds.add(client, clock, len);
    }
  }
  return ds;
}

Bytes Doc::encode_state_as_update(const StateVector& sv, UpdateFormat fmt) const {
  auto enc = make_encoder(fmt);
  write_structs(*enc, sv);
  delete_set().write(*enc);
  Bytes out = enc->finish();
  if (!pending_ && pending_ds_.empty()) return out;
  std::vector<DecodedUpdate> parts;
  auto self = decode_update(out, fmt);
  if (!self) return out;
  parts.push_back(std::move(*self));
  if (!pending_ds_.empty()) {
    DecodedUpdate d;
    d.ds = pending_ds_;
    parts.push_back(std::move(d));
  }
  if (pending_) parts.push_back(diff_update(pending_->update, sv));
  return encode_update(merge_updates(parts), fmt);
}

Result<Bytes> Doc::encode_state_as_update_for(ByteView encoded_sv, UpdateFormat fmt) const {
  StateVector sv;
  if (!encoded_sv.empty()) {
    auto r = decode_state_vector(encoded_sv);
    if (!r) return std::unexpected(r.error());
    sv = std::move(*r);
  }
  return encode_state_as_update(sv, fmt);
}

namespace {

struct Resolved {
  Item* left = nullptr;
  Item* right = nullptr;
  Branch* parent = nullptr;
  const std::string* parent_sub = nullptr;
};

}  // namespace

// Port of yjs integrateStructs: integrates blocks client by client (highest
// client first), following dependencies across clients with a stack; what
// cannot be integrated yet is returned in `rest`.
void Doc::integrate_structs(Transaction& txn, DecodedUpdate& u, std::optional<Pending>& rest_out, bool* error) {
  struct Target {
    size_t i = 0;
    std::vector<Block>* refs = nullptr;
  };
  std::map<uint64_t, Target> targets;
  for (auto& c : u.clients)
    if (!c.blocks.empty()) targets[c.client] = Target{0, &c.blocks};
  std::vector<uint64_t> ids;
  for (auto& [c, t] : targets) ids.push_back(c);  // ascending
  if (ids.empty()) return;

  DecodedUpdate rest;
  StateVector missing_sv;
  auto update_missing = [&](uint64_t client, uint64_t clock) {
    auto it = missing_sv.find(client);
    if (it == missing_sv.end() || it->second > clock) missing_sv[client] = clock;
  };
  auto next_target = [&]() -> Target* {
    while (!ids.empty()) {
      Target& t = targets[ids.back()];
      if (t.i < t.refs->size()) return &t;
      ids.pop_back();
    }
    return nullptr;
  };
  Target* cur = next_target();
  if (!cur) return;
  std::vector<Block*> stack;
  Block* head = &(*cur->refs)[cur->i++];
  std::unordered_map<uint64_t, uint64_t> state;
  auto get_state = [&](uint64_t client) {
    auto it = state.find(client);
    if (it != state.end()) return it->second;
    uint64_t s = store_.get_state(client);
    state[client] = s;
    return s;
  };
  // Pointers into the refs vectors stay valid: exhausted/dead targets are
  // marked by i == size, never cleared.
  auto add_stack_to_rest = [&]() {
    for (Block* b : stack) {
      uint64_t client = b->id.client;
      auto it = targets.find(client);
      if (it == targets.end()) continue;
      Target& t = it->second;
      if (t.i == t.refs->size() && t.i > 0 && (*t.refs)[t.i - 1].kind == Block::Kind::kSkip &&
          (*t.refs)[t.i - 1].len == 0) {
        continue;  // already moved to rest (dead marker)
      }
      ClientBlocks cb;
      cb.client = client;
      size_t from = t.i > 0 ? t.i - 1 : 0;
      for (size_t k = from; k < t.refs->size(); ++k) cb.blocks.push_back(std::move((*t.refs)[k]));
      for (size_t k = from; k < t.refs->size(); ++k) {
        (*t.refs)[k].kind = Block::Kind::kSkip;
        (*t.refs)[k].len = 0;
      }
      t.i = t.refs->size();
      std::erase_if(rest.clients, [&](auto& x) { return x.client == client; });
      rest.clients.push_back(std::move(cb));
      std::erase(ids, client);
    }
    stack.clear();
  };

  auto get_missing = [&](Block& b, Resolved& r) -> std::optional<uint64_t> {
    auto check = [&](ID ref) -> std::optional<uint64_t> {
      if (ref.clock >= store_.get_state(ref.client)) return ref.client;
      return std::nullopt;
    };
    if (b.kind != Block::Kind::kItem) return std::nullopt;
    if (b.has_origin && b.origin.client != b.id.client)
      if (auto m = check(b.origin)) return m;
    if (b.has_right_origin && b.right_origin.client != b.id.client)
      if (auto m = check(b.right_origin)) return m;
    if (b.parent_kind == Block::ParentKind::kId && b.parent_id.client != b.id.client)
      if (auto m = check(b.parent_id)) return m;
    // Same-client references must already exist (they precede the item).
    if ((b.has_origin && b.origin.clock >= store_.get_state(b.origin.client)) ||
        (b.has_right_origin && b.right_origin.clock >= store_.get_state(b.right_origin.client)) ||
        (b.parent_kind == Block::ParentKind::kId && b.parent_id.clock >= store_.get_state(b.parent_id.client))) {
      *error = true;
      b.kind = Block::Kind::kSkip;  // drop it
      return std::nullopt;
    }
    if (b.has_origin) {
      r.left = store_.get_item_clean_end(txn, b.origin);
      b.origin = r.left->last_id();
    }
    if (b.has_right_origin) {
      r.right = store_.get_item_clean_start(txn, b.right_origin);
      b.right_origin = r.right->id;
    }
    if ((r.left && r.left->is_gc()) || (r.right && r.right->is_gc())) {
      r.parent = nullptr;
    } else if (b.parent_kind == Block::ParentKind::kNone) {
      Item* src = r.left ? r.left : r.right;
      if (src) {
        r.parent = src->parent;
        r.parent_sub = src->parent_sub;
      }
    } else if (b.parent_kind == Block::ParentKind::kRoot) {
      r.parent = get(b.parent_name, TypeRef::kUnknown);
    } else {
      Item* p = store_.get_item(b.parent_id);
      if (p->is_gc() || p->content.ref() != ContentRef::kType || !p->content.x().branch) {
        r.parent = nullptr;
      } else {
        r.parent = p->content.x().branch;
      }
    }
    if (r.parent && (r.parent->collected || r.parent->depth >= kMaxTypeDepth)) r.parent = nullptr;
    if (r.parent && b.parent_kind != Block::ParentKind::kNone && b.has_parent_sub)
      r.parent_sub = r.parent->map_slot(b.parent_sub).first;
    return std::nullopt;
  };

  auto integrate = [&](Block& b, uint64_t offset, Resolved& r) {
    auto* it = new Item();
    it->id = b.id;
    it->len = b.len;
    if (b.kind == Block::Kind::kGC) {
      it->flags = Item::kGC;
      it->id.clock += offset;
      it->len -= offset;
      store_.add(it);
      return;
    }
    it->left = r.left;
    it->right = r.right;
    it->origin = b.origin;
    it->right_origin = b.right_origin;
    it->flags = static_cast<uint8_t>((b.has_origin ? Item::kHasOrigin : 0) | (b.has_right_origin ? Item::kHasRightOrigin : 0));
    it->parent = r.parent;
    it->parent_sub = r.parent ? r.parent_sub : nullptr;
    it->content = std::move(b.content);
    if (offset > 0) {
      it->id.clock += offset;
      it->left = store_.get_item_clean_end(txn, ID{it->id.client, it->id.clock - 1});
      it->origin = it->left->last_id();
      it->flags |= Item::kHasOrigin;
      it->content = it->content.splice(offset);
      it->len -= offset;
    }
    if (it->parent && it->content.ref() == ContentRef::kType) {
      auto& x = it->content.x();
      Branch* nb = new_branch(x.type_ref, x.key);
      nb->depth = it->parent->depth + 1;
      x.branch = nb;
    }
    integrate_item(txn, it);
  };

  while (true) {
    if (head->kind != Block::Kind::kSkip) {
      uint64_t local = get_state(head->id.client);
      if (local < head->id.clock) {
        stack.push_back(head);
        update_missing(head->id.client, head->id.clock - 1);
        add_stack_to_rest();
      } else {
        Resolved r;
        auto missing = get_missing(*head, r);
        if (missing) {
          stack.push_back(head);
          auto it = targets.find(*missing);
          if (it == targets.end() || it->second.i >= it->second.refs->size()) {
            update_missing(*missing, store_.get_state(*missing));
            add_stack_to_rest();
          } else {
            head = &(*it->second.refs)[it->second.i++];
            continue;
          }
        } else if (head->kind != Block::Kind::kSkip) {
          uint64_t offset = local - head->id.clock;
          if (offset == 0 || offset < head->len) {
            integrate(*head, offset, r);
            state[head->id.client] = head->id.clock + head->len;
          }
        }
      }
    }
    if (!stack.empty()) {
      head = stack.back();
      stack.pop_back();
    } else if (cur && cur->i < cur->refs->size()) {
      head = &(*cur->refs)[cur->i++];
    } else {
      cur = next_target();
      if (!cur) break;
      head = &(*cur->refs)[cur->i++];
    }
  }
  if (!rest.clients.empty()) rest_out = Pending{std::move(rest), std::move(missing_sv)};
}

}  // namespace blobsync::crdt

#include "crdt/array.h"
#include "crdt/map.h"
#include "crdt/text.h"
#include "crdt/xml.h"

namespace blobsync::crdt {
MapRef Doc::get_map(const std::string& name) { return MapRef(get(name, TypeRef::kMap)); }
ArrayRef Doc::get_array(const std::string& name) { return ArrayRef(get(name, TypeRef::kArray)); }
TextRef Doc::get_text(const std::string& name) { return TextRef(get(name, TypeRef::kText)); }
XmlFragmentRef Doc::get_xml_fragment(const std::string& name) { return XmlFragmentRef(get(name, TypeRef::kXmlFragment)); }
}  // namespace blobsync::crdt
