#include "crdt/block.h"

#include <algorithm>
#include <unordered_set>

namespace blobsync::crdt {

void Block::trim_front(uint64_t offset) {
  if (offset == 0) return;
  if (kind == Kind::kItem) {
    has_origin = true;
    origin = ID{id.client, id.clock + offset - 1};
    content = content.splice(offset);
  }
  id.clock += offset;
  len -= offset;
}

Block Block::slice(uint64_t offset) const {
  Block b;
  b.kind = kind;
  b.has_origin = has_origin;
  b.has_right_origin = has_right_origin;
  b.has_parent_sub = has_parent_sub;
  b.parent_kind = parent_kind;
  b.id = id;
  b.len = len;
  b.origin = origin;
  b.right_origin = right_origin;
  b.parent_id = parent_id;
  b.parent_name = parent_name;
  b.parent_sub = parent_sub;
  if (kind == Kind::kItem) b.content = content.clone();
  b.trim_front(offset);
  return b;
}

void Block::write(UpdateEncoder& enc, uint64_t offset) const {
  if (kind == Kind::kGC) {
    enc.write_info(0);
    enc.write_len(len - offset);
    return;
  }
  if (kind == Kind::kSkip) {
    enc.write_info(10);
    enc.rest().write_var_uint(len - offset);
    return;
  }
  bool ho = offset > 0 || has_origin;
  ID o = offset > 0 ? ID{id.client, id.clock + offset - 1} : origin;
  uint8_t info = static_cast<uint8_t>((static_cast<uint8_t>(content.ref()) & 0x1f) | (ho ? 0x80 : 0) |
                                      (has_right_origin ? 0x40 : 0) | (has_parent_sub ? 0x20 : 0));
  enc.write_info(info);
  if (ho) enc.write_left_id(o);
  if (has_right_origin) enc.write_right_id(right_origin);
  if (!ho && !has_right_origin) {
    if (parent_kind == ParentKind::kRoot) {
      enc.write_parent_info(true);
      enc.write_string8(parent_name);
    } else {
      enc.write_parent_info(false);
      enc.write_left_id(parent_id);
    }
    if (has_parent_sub) enc.write_string8(parent_sub);
  }
  content.write(enc, offset);
}

namespace {

bool read_structs(UpdateDecoder& dec, DecodedUpdate& out, size_t input_size, bool v2) {
  Decoder& rest = dec.rest();
  uint64_t nclients = rest.read_count();
  std::unordered_set<uint64_t> seen;
  // v2 columns are RLE, so a struct may take no byte of its own (e.g. runs
  // of unmerged map overwrites); cap the total generously so hostile counts
  // cannot make us loop or allocate without bound. v1 needs >= 1 byte each.
  uint64_t budget = v2 ? input_size * 64 + 100000 : input_size + 1;
  for (uint64_t ci = 0; ci < nclients && dec.ok(); ++ci) {
    uint64_t nstructs = rest.read_var_uint();
    if (!v2 && nstructs > rest.remaining()) dec.fail("struct count exceeds data");
    if (nstructs > budget) dec.fail("struct count exceeds data");
    budget -= std::min(budget, nstructs);
    uint64_t client = dec.read_client();
    uint64_t clock = rest.read_var_uint();
    if (!dec.ok()) return false;
    if (!seen.insert(client).second) {
      dec.fail("duplicate client block in update");
      return false;
    }
    ClientBlocks cb;
    cb.client = client;
    cb.blocks.reserve(nstructs);
    for (uint64_t i = 0; i < nstructs && dec.ok(); ++i) {
      Block b;
      b.id = ID{client, clock};
      uint8_t info = dec.read_info();
      uint8_t ref = info & 0x1f;
      if (ref == 0) {
        b.kind = Block::Kind::kGC;
        b.len = dec.read_len();
      } else if (ref == 10) {
        b.kind = Block::Kind::kSkip;
        b.len = rest.read_var_uint();
      } else {
        b.has_origin = (info & 0x80) != 0;
        b.has_right_origin = (info & 0x40) != 0;
        if (b.has_origin) b.origin = dec.read_left_id();
        if (b.has_right_origin) b.right_origin = dec.read_right_id();
        if (!b.has_origin && !b.has_right_origin) {
          if (dec.read_parent_info()) {
            b.parent_kind = Block::ParentKind::kRoot;
            b.parent_name = dec.read_string8();
          } else {
            b.parent_kind = Block::ParentKind::kId;
            b.parent_id = dec.read_left_id();
          }
          if (info & 0x20) {
            b.has_parent_sub = true;
            b.parent_sub = dec.read_string8();
          }
        }
        b.content = Content::read(dec, ref);
        b.len = b.content.length();
      }
      if (!dec.ok()) return false;
      if (b.len == 0) {
        dec.fail("zero-length struct");
        return false;
      }
      if (clock > kMaxSafeInteger || b.len > kMaxSafeInteger - clock) {
        dec.fail("clock overflow");
        return false;
      }
      clock += b.len;
      cb.blocks.push_back(std::move(b));
    }
    out.clients.push_back(std::move(cb));
  }
  return dec.ok();
}

}  // namespace

Result<DecodedUpdate> decode_update(ByteView data, UpdateFormat fmt) {
  auto dec = make_decoder(fmt, data);
  DecodedUpdate u;
  if (dec->ok()) read_structs(*dec, u, data.size(), fmt == UpdateFormat::kV2);
  if (dec->ok()) u.ds = DeleteSet::read(*dec);
  if (!dec->ok()) return fail(Errc::kInvalidArgument, "invalid update: {}", dec->error());
  return u;
}

Bytes encode_update(const DecodedUpdate& u, UpdateFormat fmt) {
  auto enc = make_encoder(fmt);
  std::vector<const ClientBlocks*> order;
  for (auto& c : u.clients)
    if (!c.blocks.empty()) order.push_back(&c);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->client > b->client; });
  enc->rest().write_var_uint(order.size());
  for (auto* c : order) {
    enc->rest().write_var_uint(c->blocks.size());
    enc->write_client(c->client);
    enc->rest().write_var_uint(c->blocks.front().id.clock);
    for (auto& b : c->blocks) b.write(*enc, 0);
  }
  u.ds.write(*enc);
  return enc->finish();
}

}  // namespace blobsync::crdt
