// Splitting one struct at many points (issue 18): one update holding a long
// struct and many inserts into it (or deletes inside it) must cost work
// linear in its size, whatever order the split points come in. The bound is
// the fuzz oracle's (tests/fuzz/fuzz_crdt_update.cpp: 64 steps per input
// byte + 4096) over applying the update and loading the re-encoded state
// into a second document; the resulting text/array must be the expected one.
// `Split.DISABLED_WriteFuzzSeeds` regenerates the corpus files.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <numeric>
#include <random>

#include "crdt/block.h"
#include "crdt/doc.h"
#include "crdt/struct_store.h"
#include "crdt/work_meter.h"
#include "doc_check.h"

using namespace blobsync::crdt;

namespace {

constexpr uint64_t kWorkPerByte = 64;  // as the fuzz oracle
constexpr uint64_t kWorkBase = 4096;
// The sanitizer build (CI's unit pass) runs each step ~30x slower: there the
// sizes are 8x smaller, still enough for the old quadratic code to fail.
#if defined(__SANITIZE_ADDRESS__)
constexpr uint64_t kScale = 8;
#else
constexpr uint64_t kScale = 1;
#endif
constexpr uint64_t kLong = 1;     // client of the long struct
constexpr uint64_t kSplitter = 2;  // client of the inserts (higher: integrated after the long one anyway)

enum class Order { kLeftToRight, kRightToLeft, kRandom };
enum class Kind { kString, kAny, kJson, kDeleted };

Content long_content(Kind kind, uint64_t n) {
  switch (kind) {
    case Kind::kString: {
      std::u16string s(n, u'a');
      for (uint64_t i = 0; i < n; ++i) s[i] = static_cast<char16_t>(u'a' + i % 26);
      return Content::string(std::move(s));
    }
    case Kind::kAny:
    case Kind::kJson: {
      AnyArray v;
      for (uint64_t i = 0; i < n; ++i) v.emplace_back(static_cast<double>(i % 10));
      return kind == Kind::kAny ? Content::any(std::move(v)) : Content::json(std::move(v));
    }
    case Kind::kDeleted: return Content::deleted(n);
  }
  return {};
}

std::vector<uint64_t> positions(uint64_t n, Order order) {
  // Insert points p: one insert right after unit p of the long struct.
  std::vector<uint64_t> p(n - 1);
  std::iota(p.begin(), p.end(), 0);
  if (order == Order::kRightToLeft) std::reverse(p.begin(), p.end());
  if (order == Order::kRandom) std::shuffle(p.begin(), p.end(), std::mt19937_64(18));
  return p;
}

Block root_block(uint64_t client, uint64_t len, Content c) {
  Block b;
  b.id = ID{client, 0};
  b.len = len;
  b.parent_kind = Block::ParentKind::kRoot;
  b.parent_name = "t";
  b.content = std::move(c);
  return b;
}

// The long struct and one one-unit insert after each of its units but the
// last (as yjs writes a local insert there: origin and right origin).
DecodedUpdate inserts_update(Kind kind, uint64_t n, Order order) {
  DecodedUpdate u;
  ClientBlocks longc{kLong, {}};
  longc.blocks.push_back(root_block(kLong, n, long_content(kind, n)));
  ClientBlocks ins{kSplitter, {}};
  uint64_t clock = 0;
  for (uint64_t p : positions(n, order)) {
    Block b;
    b.id = ID{kSplitter, clock++};
    b.len = 1;
    b.has_origin = b.has_right_origin = true;
    b.origin = ID{kLong, p};
    b.right_origin = ID{kLong, p + 1};
    if (kind == Kind::kString)
      b.content = Content::string(u"x");
    else
      b.content = kind == Kind::kJson ? Content::json({Any(-1.0)}) : Content::any({Any(-1.0)});
    ins.blocks.push_back(std::move(b));
  }
  u.clients.push_back(std::move(ins));
  u.clients.push_back(std::move(longc));
  return u;
}

// What the inserts update gives: an insert after every unit but the last.
std::string expected_text(uint64_t n) {
  std::string s;
  for (uint64_t i = 0; i < n; ++i) {
    s += static_cast<char>('a' + i % 26);
    if (i + 1 < n) s += 'x';
  }
  return "{\"t\":\"" + s + "\"}";
}
std::string expected_array(uint64_t n, bool deleted) {
  std::string s;
  for (uint64_t i = 0; i < n; ++i) {
    if (!deleted) s += std::to_string(i % 10) + ",";
    if (i + 1 < n) s += "-1,";
  }
  if (!s.empty()) s.pop_back();
  return "{\"t\":[" + s + "]}";
}

// Every other unit of the long struct deleted: 2 splits per range.
DeleteSet every_other(uint64_t n) {
  DeleteSet ds;
  for (uint64_t i = 1; i < n; i += 2) ds.add(kLong, i, 1);
  return ds;
}

struct Cost {
  uint64_t steps;        // apply + reload
  uint64_t apply_steps;  // apply alone
  double apply_ms;
  size_t bytes;
  std::string json;
};

// Applies `update` to `doc` and loads the re-encoded state into a copy, as
// the fuzz target does; returns the steps counted from here on.
Cost apply_and_reload(Doc& doc, const Bytes& update, UpdateFormat fmt, TypeRef as) {
  work_reset();
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(doc.apply_update(update, nullptr, fmt).has_value());
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  uint64_t apply_steps = work_steps();
  doc.get("t", as);
  Bytes state = doc.encode_state_as_update({}, fmt);
  Doc copy(3);
  EXPECT_TRUE(copy.apply_update(state, nullptr, fmt).has_value());
  copy.get("t", as);
  uint64_t steps = work_steps();
  EXPECT_EQ(copy.to_json(), doc.to_json());
  EXPECT_EQ(doccheck::check(doc), "");
  return Cost{steps, apply_steps, ms, update.size(), doc.to_json()};
}

void expect_linear(const Cost& c) {
  EXPECT_LE(c.steps, kWorkPerByte * c.bytes + kWorkBase)
      << c.steps << " steps for " << c.bytes << " bytes (" << c.steps / std::max<size_t>(c.bytes, 1) << " per byte)";
}

const char* name(Order o) {
  return o == Order::kLeftToRight ? "left-to-right" : o == Order::kRightToLeft ? "right-to-left" : "random";
}

}  // namespace

// The case security.md measured: an 80,000-character string and 80,000
// one-character inserts into it in one update (0.93 MB in v1).
TEST(Split, ManyInsertsIntoOneStringAreLinear) {
  const uint64_t n = 80000 / kScale;
  for (Order order : {Order::kLeftToRight, Order::kRightToLeft, Order::kRandom}) {
    for (auto fmt : {UpdateFormat::kV1, UpdateFormat::kV2}) {
      SCOPED_TRACE(std::string(name(order)) + (fmt == UpdateFormat::kV2 ? " v2" : " v1"));
      Bytes u = encode_update(inserts_update(Kind::kString, n, order), fmt);
      Doc doc(9);
      Cost c = apply_and_reload(doc, u, fmt, TypeRef::kText);
      std::printf("  %s %s: %zu bytes, apply %.0f ms, %llu steps (%llu with the reload)\n", name(order),
                  fmt == UpdateFormat::kV2 ? "v2" : "v1", c.bytes, c.apply_ms,
                  static_cast<unsigned long long>(c.apply_steps), static_cast<unsigned long long>(c.steps));
      expect_linear(c);
      EXPECT_EQ(c.json, expected_text(n));
    }
  }
}

TEST(Split, ManyInsertsIntoArraysAndDeletedContentAreLinear) {
  const uint64_t n = 40000 / kScale;
  for (Kind kind : {Kind::kAny, Kind::kJson, Kind::kDeleted}) {
    for (Order order : {Order::kLeftToRight, Order::kRightToLeft, Order::kRandom}) {
      SCOPED_TRACE(std::string(name(order)) + " kind " + std::to_string(static_cast<int>(kind)));
      Bytes u = encode_update(inserts_update(kind, n, order), UpdateFormat::kV1);
      Doc doc(9);
      Cost c = apply_and_reload(doc, u, UpdateFormat::kV1, TypeRef::kArray);
      expect_linear(c);
      EXPECT_EQ(c.json, expected_array(n, kind == Kind::kDeleted));
    }
  }
}

// Deletes split a long struct too: every other unit, in the same update as
// the struct and in a later one (splitting a struct already in the doc).
TEST(Split, DeletingEveryOtherUnitIsLinear) {
  const uint64_t n = 80000 / kScale;
  for (Kind kind : {Kind::kString, Kind::kAny, Kind::kJson}) {
    SCOPED_TRACE(static_cast<int>(kind));
    DecodedUpdate both;
    both.clients.push_back(ClientBlocks{kLong, {}});
    both.clients[0].blocks.push_back(root_block(kLong, n, long_content(kind, n)));
    both.ds = every_other(n);
    TypeRef as = kind == Kind::kString ? TypeRef::kText : TypeRef::kArray;
    Doc one(9);
    Cost c = apply_and_reload(one, encode_update(both, UpdateFormat::kV2), UpdateFormat::kV2, as);
    expect_linear(c);

    DecodedUpdate first;
    first.clients.push_back(ClientBlocks{kLong, {}});
    first.clients[0].blocks.push_back(root_block(kLong, n, long_content(kind, n)));
    DecodedUpdate second;
    second.ds = every_other(n);
    Doc two(9);
    ASSERT_TRUE(two.apply_update(encode_update(first, UpdateFormat::kV1)).has_value());
    Cost c2 = apply_and_reload(two, encode_update(second, UpdateFormat::kV1), UpdateFormat::kV1, as);
    expect_linear(c2);
    EXPECT_EQ(c2.json, c.json);
    if (kind == Kind::kString) {
      EXPECT_EQ(c.json.size(), 6 + n / 2 + 2);
    }
  }
}

// Splitting inside surrogate pairs at many points (yjs#248: both halves
// become U+FFFD) stays linear and gives the same text in either order.
TEST(Split, SurrogatePairsSplitInAnyOrder) {
  const uint64_t pairs = 20000 / kScale;
  std::string results[2];
  for (Order order : {Order::kLeftToRight, Order::kRightToLeft}) {
    DecodedUpdate u;
    std::u16string s;
    for (uint64_t i = 0; i < pairs; ++i) s += u"\U0001F600";
    ClientBlocks longc{kLong, {}};
    longc.blocks.push_back(root_block(kLong, s.size(), Content::string(s)));
    ClientBlocks ins{kSplitter, {}};
    uint64_t clock = 0;
    for (uint64_t k = 0; k < pairs; ++k) {
      uint64_t p = order == Order::kLeftToRight ? 2 * k : 2 * (pairs - 1 - k);
      Block b;
      b.id = ID{kSplitter, clock++};
      b.len = 1;
      b.has_origin = b.has_right_origin = true;
      b.origin = ID{kLong, p};  // after the high surrogate
      b.right_origin = ID{kLong, p + 1};
      b.content = Content::string(u"x");
      ins.blocks.push_back(std::move(b));
    }
    u.clients.push_back(std::move(ins));
    u.clients.push_back(std::move(longc));
    Doc doc(9);
    Cost c = apply_and_reload(doc, encode_update(u), UpdateFormat::kV1, TypeRef::kText);
    expect_linear(c);
    results[order == Order::kLeftToRight ? 0 : 1] = c.json;
  }
  std::string want = "{\"t\":\"";
  for (uint64_t i = 0; i < pairs; ++i) want += "\xef\xbf\xbdx\xef\xbf\xbd";
  EXPECT_EQ(results[0], want + "\"}");
  EXPECT_EQ(results[1], want + "\"}");
}

// The chunked list against a flat array (what yjs keeps): random splits
// (insert after), merges (erase after, across chunk boundaries too) and
// lookups must agree at every step.
TEST(Split, StructListMatchesAFlatArray) {
  std::vector<std::unique_ptr<Item>> owned;
  auto make = [&](uint64_t clock, uint64_t len) {
    owned.push_back(std::make_unique<Item>());
    owned.back()->id = ID{7, clock};
    owned.back()->len = len;
    return owned.back().get();
  };
  StructList list;
  std::vector<Item*> flat;
  uint64_t clock = 0;
  for (int i = 0; i < 300; ++i) {  // appends fill several chunks
    Item* it = make(clock, 1 + i % 50);
    clock += it->len;
    list.push_back(it);
    flat.push_back(it);
  }
  std::mt19937_64 rng(7);
  auto rand = [&](uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng); };
  for (int step = 0; step < 20000; ++step) {
    size_t i = rand(flat.size());
    if (rng() % 8 != 0) {
      Item* s = flat[i];
      if (s->len < 2) continue;
      uint64_t d = 1 + rand(s->len - 1);
      Item* right = make(s->id.clock + d, s->len - d);
      s->len = d;
      auto pos = list.insert_after(list.find(s->id.clock), right);
      ASSERT_EQ(*pos, right);
      ASSERT_EQ(*std::prev(pos), s);
      flat.insert(flat.begin() + static_cast<ptrdiff_t>(i) + 1, right);
    } else {
      size_t n = std::min<size_t>(rng() % 50 == 0 ? rand(100) : rand(4), flat.size() - 1 - i);
      auto pos = list.find(flat[i]->id.clock);
      for (size_t k = 1; k <= n; ++k) flat[i]->len += flat[i + k]->len;
      list.erase_after(pos, n);
      flat.erase(flat.begin() + static_cast<ptrdiff_t>(i) + 1, flat.begin() + static_cast<ptrdiff_t>(i + n) + 1);
    }
    ASSERT_EQ(list.size(), flat.size());
    ASSERT_EQ(list.end_clock(), clock);
    if (step % 500 == 0 || flat.size() < 40) {
      ASSERT_TRUE(std::equal(list.begin(), list.end(), flat.begin(), flat.end()));
      std::vector<Item*> backwards(flat.rbegin(), flat.rend());
      std::vector<Item*> got;
      for (auto it = list.end(); it != list.begin();) got.push_back(*--it);
      ASSERT_EQ(got, backwards);
    }
    uint64_t c = rand(clock);
    auto f = list.find(c);
    ASSERT_NE(f, list.end());
    ASSERT_LE((*f)->id.clock, c);
    ASSERT_LT(c, (*f)->id.clock + (*f)->len);
    size_t j = rand(flat.size());
    ASSERT_EQ(list.count_from(list.find(flat[j]->id.clock)), flat.size() - j);
  }
  EXPECT_GT(list.size(), 3 * StructList::kChunk);  // several chunks to the end
  EXPECT_EQ(list.find(clock), list.end());
  EXPECT_EQ(list.front(), flat.front());
  EXPECT_EQ(list.back(), flat.back());
}

// Regenerates the fuzz seeds (tests/fuzz/corpus/crdt_update/split_*.bin, one mode
// byte then the update): BLOBSYNC_WRITE_SEEDS=dir crdt_tests
// --gtest_also_run_disabled_tests --gtest_filter=Split.DISABLED_WriteFuzzSeeds
TEST(Split, DISABLED_WriteFuzzSeeds) {
  const char* dir = std::getenv("BLOBSYNC_WRITE_SEEDS");
  ASSERT_NE(dir, nullptr);
  auto write = [&](const std::string& file, uint8_t mode, const Bytes& u) {
    std::ofstream out(std::filesystem::path(dir) / file, std::ios::binary);
    out.put(static_cast<char>(mode));
    out.write(reinterpret_cast<const char*>(u.data()), static_cast<std::streamsize>(u.size()));
  };
  // 5,000 splits (the old code costs 25-50x the bound), one seed of 20,000;
  // v2 keeps them small (10 and 40 KB).
  const uint64_t n = 5000;
  const auto v2 = UpdateFormat::kV2;
  // mode: bit 0 v2, bit 1 apply twice, bit 2 merge/diff utilities, bits 3-4
  // read roots as arrays (1) or text (2).
  const uint8_t text = 2 << 3, array = 1 << 3;
  write("split_string_ltr_v2.bin", text | 1 | 4, encode_update(inserts_update(Kind::kString, n, Order::kLeftToRight), v2));
  write("split_string_rtl_v2.bin", text | 1 | 2, encode_update(inserts_update(Kind::kString, 4 * n, Order::kRightToLeft), v2));
  write("split_string_random_v2.bin", text | 1, encode_update(inserts_update(Kind::kString, n, Order::kRandom), v2));
  write("split_string_rtl.bin", text, encode_update(inserts_update(Kind::kString, n, Order::kRightToLeft)));
  write("split_any_rtl_v2.bin", array | 1, encode_update(inserts_update(Kind::kAny, n, Order::kRightToLeft), v2));
  write("split_json_ltr_v2.bin", array | 1, encode_update(inserts_update(Kind::kJson, n, Order::kLeftToRight), v2));
  write("split_deleted_rtl_v2.bin", array | 1, encode_update(inserts_update(Kind::kDeleted, n, Order::kRightToLeft), v2));
  DecodedUpdate del;
  del.clients.push_back(ClientBlocks{kLong, {}});
  del.clients[0].blocks.push_back(root_block(kLong, n, long_content(Kind::kString, n)));
  del.ds = every_other(n);
  write("split_string_deletes_v2.bin", text | 1 | 4, encode_update(del, v2));
}
