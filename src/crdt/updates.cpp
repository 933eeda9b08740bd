#include "crdt/updates.h"

#include <algorithm>
#include <map>

namespace blobsync::crdt {

DecodedUpdate merge_updates(std::vector<DecodedUpdate>& updates) {
  std::map<uint64_t, std::vector<Block*>, std::greater<>> per_client;
  for (auto& u : updates)
    for (auto& c : u.clients)
      for (auto& b : c.blocks)
        if (b.kind != Block::Kind::kSkip) per_client[c.client].push_back(&b);
  DecodedUpdate out;
  for (auto& [client, blocks] : per_client) {
    // Stable: for equal clocks the earlier update wins, as in yjs.
    std::stable_sort(blocks.begin(), blocks.end(), [](Block* a, Block* b) { return a->id.clock < b->id.clock; });
    ClientBlocks cb;
    cb.client = client;
    uint64_t end = 0;
    for (Block* b : blocks) {
      if (!cb.blocks.empty() && b->end_clock() <= end) continue;  // already covered
      if (!cb.blocks.empty() && b->id.clock > end) {
        Block skip;
        skip.kind = Block::Kind::kSkip;
        skip.id = ID{client, end};
        skip.len = b->id.clock - end;
        cb.blocks.push_back(std::move(skip));
      }
      uint64_t offset = (!cb.blocks.empty() && b->id.clock < end) ? end - b->id.clock : 0;
      Block nb = b->slice(offset);
      if (!cb.blocks.empty() && nb.kind == Block::Kind::kGC && cb.blocks.back().kind == Block::Kind::kGC) {
        cb.blocks.back().len += nb.len;
      } else {
        cb.blocks.push_back(std::move(nb));
      }
      end = cb.blocks.back().end_clock();
    }
    out.clients.push_back(std::move(cb));
  }
  for (auto& u : updates) out.ds.merge_from(u.ds);
  out.ds.sort_and_merge();
  return out;
}

DecodedUpdate diff_update(const DecodedUpdate& update, const StateVector& sv) {
  DecodedUpdate out;
  for (auto& c : update.clients) {
    uint64_t sv_clock = sv_get(sv, c.client);
    ClientBlocks cb;
    cb.client = c.client;
    bool started = false;
    for (auto& b : c.blocks) {
      if (!started) {
        if (b.kind == Block::Kind::kSkip || b.end_clock() <= sv_clock) continue;
        started = true;
        cb.blocks.push_back(b.slice(sv_clock > b.id.clock ? sv_clock - b.id.clock : 0));
      } else {
        cb.blocks.push_back(b.copy());
      }
    }
    if (!cb.blocks.empty()) out.clients.push_back(std::move(cb));
  }
  out.ds = update.ds;
  return out;
}

StateVector state_vector_from_update(const DecodedUpdate& update) {
  StateVector sv;
  for (auto& c : update.clients) {
    uint64_t clock = 0;
    for (auto& b : c.blocks) {
      if (b.id.clock != clock || b.kind == Block::Kind::kSkip) break;
      clock = b.end_clock();
    }
    if (clock > 0) sv[c.client] = clock;
  }
  return sv;
}

Result<Bytes> merge_updates(const std::vector<ByteView>& updates, UpdateFormat fmt) {
  std::vector<DecodedUpdate> decoded;
  for (auto u : updates) {
    auto d = decode_update(u, fmt);
    if (!d) return std::unexpected(d.error());
    decoded.push_back(std::move(*d));
  }
  return encode_update(merge_updates(decoded), fmt);
}

Result<Bytes> diff_update(ByteView update, ByteView encoded_sv, UpdateFormat fmt) {
  auto d = decode_update(update, fmt);
  if (!d) return std::unexpected(d.error());
  auto sv = decode_state_vector(encoded_sv);
  if (!sv) return std::unexpected(sv.error());
  return encode_update(diff_update(*d, *sv), fmt);
}

Result<Bytes> encode_state_vector_from_update(ByteView update, UpdateFormat fmt) {
  auto d = decode_update(update, fmt);
  if (!d) return std::unexpected(d.error());
  return encode_state_vector(state_vector_from_update(*d));
}

Result<Bytes> convert_update(ByteView update, UpdateFormat from, UpdateFormat to) {
  auto d = decode_update(update, from);
  if (!d) return std::unexpected(d.error());
  return encode_update(*d, to);
}

}  // namespace blobsync::crdt
