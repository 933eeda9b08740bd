// Doc: applying remote updates (see doc.h): structs are integrated by
// Doc::integrate_structs (doc.cpp); what waits for missing dependencies is
// kept pending, bounded by PendingLimits, and retried when they arrive.
#include <fmt/format.h>

#include "crdt/doc.h"
#include "crdt/item_ops.h"
#include "crdt/updates.h"
#include "crdt/work_meter.h"

namespace blobsync::crdt {

Result<void> Doc::apply_update(ByteView update, const void* origin, UpdateFormat fmt) {
  auto u = decode_update(update, fmt);
  if (!u) return std::unexpected(u.error());
  return apply_decoded(std::move(*u), origin);
}

Result<void> Doc::apply_decoded(DecodedUpdate update, const void* origin) {
  std::string err;
  bool over_limit = false;
  transact([&](Transaction& txn) { apply_in_txn(txn, std::move(update), &err, &over_limit); }, origin, false);
  if (over_limit) return fail(Errc::kTooLarge, "update refused: {}", err);
  if (!err.empty()) return fail(Errc::kInvalidArgument, "invalid update: {}", err);
  return {};
}

static size_t block_count(const DecodedUpdate& u) {
  size_t n = 0;
  for (auto& c : u.clients) n += c.blocks.size();
  return n;
}

static size_t range_count(const DeleteSet& ds) {
  size_t n = 0;
  for (auto& [client, ranges] : ds.clients()) n += ranges.size();
  return n;
}

void Doc::apply_in_txn(Transaction& txn, DecodedUpdate u, std::string* err, bool* over_limit) {
  txn.local = false;
  // yjs creates a root when it reads a struct naming it, in wire order, and
  // integrates afterwards in client order; roots are created here the same
  // way, so to_json lists them in the order yjs does.
  const std::string* last_root = nullptr;
  for (const ClientBlocks& c : u.clients)
    for (const Block& b : c.blocks)
      if (b.kind == Block::Kind::kItem && b.parent_kind == Block::ParentKind::kRoot &&
          (!last_root || *last_root != b.parent_name)) {
        get(b.parent_name, TypeRef::kUnknown);
        last_root = &b.parent_name;
      }
  std::optional<Pending> rest;
  bool bad = false;
  integrate_structs(txn, u, rest, &bad);
  if (bad && err->empty()) *err = "update references missing or invalid structs";
  const size_t max_structs = pending_limits_.max_structs;
  if (rest && (max_structs || pending_limits_.max_bytes)) {
    // Counted before merging (a merge can only shrink it): the check costs
    // no more than the update itself.
    size_t blocks = block_count(rest->update);
    size_t bytes = pending_limits_.max_bytes ? encode_update(rest->update).size() : 0;
    work_add(blocks);
    if ((max_structs && pending_structs_ + blocks > max_structs) ||
        (pending_limits_.max_bytes && pending_bytes_ + bytes > pending_limits_.max_bytes)) {
      *over_limit = true;
      *err = fmt::format("{} structs wait for missing updates, over the limit of {} structs / {} bytes per document",
                         pending_structs_ + blocks, max_structs, pending_limits_.max_bytes);
      rest.reset();
    } else {
      pending_structs_ += blocks;
      pending_bytes_ += bytes;
    }
  }
  bool retry = false;
  if (pending_) {
    for (auto& [client, clock] : pending_->missing)
      if (clock < store_.get_state(client)) retry = true;
    if (rest) {
      for (auto& [client, clock] : rest->missing) {
        auto it = pending_->missing.find(client);
        if (it == pending_->missing.end() || it->second > clock) pending_->missing[client] = clock;
      }
      std::vector<DecodedUpdate> parts;
      parts.push_back(std::move(pending_->update));
      parts.push_back(std::move(rest->update));
      work_add(block_count(parts[0]) + block_count(parts[1]));
      pending_->update = merge_updates(parts);
    }
  } else if (rest) {
    pending_ = std::make_unique<Pending>(std::move(*rest));
  }
  u.ds.sort_and_merge();
  DeleteSet unapplied;
  apply_delete_set(txn, u.ds, unapplied);
  size_t old_ds_ranges = range_count(pending_ds_);
  if (!pending_ds_.empty()) {
    DeleteSet old = std::move(pending_ds_);
    pending_ds_ = DeleteSet();
    work_add(old_ds_ranges);
    apply_delete_set(txn, old, unapplied);
  }
  unapplied.sort_and_merge();
  size_t ds_ranges = range_count(unapplied);
  if (max_structs && ds_ranges > old_ds_ranges && pending_structs_ - old_ds_ranges + ds_ranges > max_structs) {
    // Deletes of structs nobody has seen: keep the older ones, refuse the rest.
    *over_limit = true;
    if (err->empty())
      *err = fmt::format("{} deletes wait for missing updates, over the limit of {} per document", ds_ranges, max_structs);
    DeleteSet kept;
    size_t budget = max_structs > pending_structs_ - old_ds_ranges ? max_structs - (pending_structs_ - old_ds_ranges) : 0;
    for (auto& [client, ranges] : unapplied.clients())
      for (auto& r : ranges)
        if (budget) {
          kept.add(client, r.clock, r.len);
          --budget;
        }
    unapplied = std::move(kept);
    ds_ranges = range_count(unapplied);
  }
  pending_structs_ = pending_structs_ - old_ds_ranges + ds_ranges;
  pending_ds_ = std::move(unapplied);
  if (retry && pending_) {
    DecodedUpdate p = std::move(pending_->update);
    pending_.reset();
    pending_structs_ = range_count(pending_ds_);
    pending_bytes_ = 0;
    apply_in_txn(txn, std::move(p), err, over_limit);
  }
}

void Doc::apply_delete_set(Transaction& txn, const DeleteSet& ds, DeleteSet& unapplied) {
  for (auto& [client, ranges] : ds.clients()) {
    uint64_t state = store_.get_state(client);
    auto* structs = store_.structs(client);
    for (auto& r : ranges) {
      uint64_t clock = r.clock;
      uint64_t end = r.clock + r.len;
      if (clock < state) {
        if (state < end) unapplied.add(client, state, end - state);
        auto it = structs->find(clock);
        Item* s = *it;
        if (!s->deleted() && s->id.clock < clock) it = split_item(txn, *structs, it, clock - s->id.clock);
        while (it != structs->end()) {
          s = *it;
          if (s->id.clock >= end) break;
          if (!s->deleted()) {
            if (end < s->id.clock + s->len) {
              split_item(txn, *structs, it, end - s->id.clock);  // the right part is past the range
              delete_item(txn, s);
              break;
            }
            delete_item(txn, s);
          }
          ++it;
        }
      } else {
        unapplied.add(client, clock, r.len);
      }
    }
  }
}

}  // namespace blobsync::crdt
