// Document behaviour: the reference golden vectors, editing APIs, exchange
// between documents, pending updates, GC and merging.
#include <gtest/gtest.h>

#include <algorithm>

#include "crdt/array.h"
#include "crdt/doc.h"
#include "crdt/map.h"
#include "crdt/text.h"
#include "crdt/updates.h"

using namespace blobsync::crdt;

namespace {
Bytes hex(std::string_view h) {
  Bytes out;
  std::string digits;
  for (char c : h)
    if (isxdigit(static_cast<unsigned char>(c))) digits.push_back(c);
  for (size_t i = 0; i + 1 < digits.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoi(digits.substr(i, 2), nullptr, 16)));
  return out;
}
Bytes str_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }
Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
}  // namespace

// Reference §3 "Text vector": one transaction on getText('type').
TEST(Doc, TextGoldenVector) {
  Doc doc(264992024);
  TextRef t = doc.get_text("type");
  doc.transact([&](Transaction&) {
    t.insert_utf8(0, "def");
    t.insert_utf8(0, "abc");
    t.insert_utf8(6, "ghi");
    t.remove(2, 5);
  });
  EXPECT_EQ(t.to_string(), "abhi");
  Bytes expected = cat({hex("01 05 98EAAD7E 00 01 01 04"), str_bytes("type"), hex("03 44 98EAAD7E 00 02"), str_bytes("ab"),
                        hex("C1 98EAAD7E 04 98EAAD7E 00 01 81 98EAAD7E 02 01 84 98EAAD7E 06 02"), str_bytes("hi"),
                        hex("01 98EAAD7E 02 00 03 05 02")});
  EXPECT_EQ(doc.encode_state_as_update(), expected);
  Doc other(1);
  ASSERT_TRUE(other.apply_update(expected));
  EXPECT_EQ(other.get_text("type").to_string(), "abhi");
  EXPECT_EQ(other.encode_state_as_update(), expected);
}

TEST(Doc, MapGoldenVector) {
  Doc doc(7);
  MapRef m = doc.get_map("test");
  m.set("k1", Any("v1"));
  m.set("k2", Any("v2"));
  Bytes expected = cat({hex("01 02 07 00 28 01 04"), str_bytes("test"), hex("02"), str_bytes("k1"), hex("01 77 02"),
                        str_bytes("v1"), hex("28 01 04"), str_bytes("test"), hex("02"), str_bytes("k2"), hex("01 77 02"),
                        str_bytes("v2"), hex("00")});
  EXPECT_EQ(doc.encode_state_as_update(), expected);
  EXPECT_EQ(doc.to_json(), R"({"test":{"k1":"v1","k2":"v2"}})");
}

TEST(Doc, StateVectorGolden) {
  StateVector sv{{93760946, 3}, {14182974, 2}};
  EXPECT_EQ(encode_state_vector(sv), (Bytes{2, 178, 219, 218, 44, 3, 190, 212, 225, 6, 2}));
  auto back = decode_state_vector(encode_state_vector(sv));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, sv);
}

TEST(Doc, UpdatesFlowBetweenDocs) {
  Doc a(1), b(2);
  std::vector<Bytes> from_a;
  a.on_update([&](const Bytes& u, const Transaction&) { from_a.push_back(u); });
  a.get_text("t").insert_utf8(0, "hello");
  a.get_text("t").insert_utf8(5, " w\xf0\x9f\x98\x80rld");
  a.get_text("t").remove(0, 1);
  a.get_map("m").set("x", Any(AnyArray{Any(1), Any("two")}));
  a.get_array("a").push({Any(1), Any(2), Any(3)});
  a.get_array("a").remove(1, 1);
  ASSERT_EQ(from_a.size(), 6u);
  for (auto it = from_a.rbegin(); it != from_a.rend(); ++it) ASSERT_TRUE(b.apply_update(*it));  // reversed order
  b.get_text("t");
  b.get_map("m");
  b.get_array("a");
  EXPECT_FALSE(b.has_pending());
  EXPECT_EQ(a.to_json(), R"({"t":"ello w😀rld","m":{"x":[1,"two"]},"a":[1,3]})");
  EXPECT_EQ(b.get_text("t").to_string(), "ello w\xf0\x9f\x98\x80rld");
  EXPECT_EQ(b.get_array("a").to_json(), "[1,3]");
  EXPECT_EQ(a.state_vector(), b.state_vector());
  EXPECT_EQ(a.delete_set(), b.delete_set());
}

TEST(Doc, ConcurrentMapSetHigherClientWins) {
  Doc a(1), b(2);
  a.get_map("m").set("k", Any("a"));
  b.get_map("m").set("k", Any("b"));
  ASSERT_TRUE(a.apply_update(b.encode_state_as_update()));
  ASSERT_TRUE(b.apply_update(a.encode_state_as_update()));
  EXPECT_EQ(a.to_json(), R"({"m":{"k":"b"}})");
  EXPECT_EQ(b.to_json(), R"({"m":{"k":"b"}})");
}

TEST(Doc, PendingDeleteSetAppliesLater) {
  Doc a(1), b(2);
  std::vector<Bytes> ups;
  a.on_update([&](const Bytes& u, const Transaction&) { ups.push_back(u); });
  a.get_text("t").insert_utf8(0, "abc");
  a.get_text("t").remove(1, 1);
  ASSERT_TRUE(b.apply_update(ups[1]));  // delete before insert
  EXPECT_TRUE(b.has_pending());
  ASSERT_TRUE(b.apply_update(ups[0]));
  EXPECT_FALSE(b.has_pending());
  EXPECT_EQ(b.get_text("t").to_string(), "ac");
}

TEST(Doc, GcTurnsDeletedContentIntoDeletedRuns) {
  Doc a(5);
  TextRef t = a.get_text("t");
  for (int i = 0; i < 10; ++i) t.insert_utf8(static_cast<uint64_t>(i), "x");
  t.remove(2, 6);
  EXPECT_EQ(t.to_string(), "xxxx");
  // 1 merged run of structs: [0,2) [2,8) deleted [8,10)
  EXPECT_EQ(a.store().structs(5)->size(), 3u);
  Doc b(6);
  ASSERT_TRUE(b.apply_update(a.encode_state_as_update()));
  EXPECT_EQ(b.get_text("t").to_string(), "xxxx");
  EXPECT_EQ(b.encode_state_as_update(), a.encode_state_as_update());
}

TEST(Doc, NestedTypesAndDeletion) {
  Doc a(1);
  MapRef root = a.get_map("root");
  Branch* inner = root.set_type("inner", TypeRef::kArray);
  ArrayRef arr(inner);
  arr.push({Any(1)});
  Branch* t = arr.insert_type(1, TypeRef::kText);
  TextRef(t).insert_utf8(0, "hi");
  EXPECT_EQ(a.to_json(), R"({"root":{"inner":[1,"hi"]}})");
  Doc b(2);
  ASSERT_TRUE(b.apply_update(a.encode_state_as_update()));
  b.get_map("root");
  EXPECT_EQ(b.to_json(), a.to_json());
  root.remove("inner");
  EXPECT_EQ(a.to_json(), R"({"root":{}})");
  ASSERT_TRUE(b.apply_update(a.encode_state_as_update(b.state_vector())));
  EXPECT_EQ(b.to_json(), R"({"root":{}})");
  EXPECT_EQ(a.delete_set(), b.delete_set());
}

TEST(Doc, TextFormattingKeepsString) {
  Doc a(1);
  TextRef t = a.get_text("t");
  t.insert_utf8(0, "hello world");
  AnyObject bold{{"bold", Any(true)}};
  t.format(0, 5, bold);
  t.insert_utf8(5, "!", AnyObject{{"italic", Any(true)}});
  EXPECT_EQ(t.to_string(), "hello! world");
  auto delta = t.to_delta();
  ASSERT_EQ(delta.size(), 3u);
  EXPECT_EQ(delta[0].text, u"hello");
  EXPECT_EQ(to_json(Any(delta[0].attributes)), R"({"bold":true})");
  EXPECT_EQ(to_json(Any(delta[1].attributes)), R"({"italic":true})");
  Doc b(2);
  ASSERT_TRUE(b.apply_update(a.encode_state_as_update()));
  EXPECT_EQ(b.get_text("t").to_string(), "hello! world");
}

TEST(Updates, MergeDiffAndStateVector) {
  Doc a(1);
  std::vector<Bytes> ups;
  a.on_update([&](const Bytes& u, const Transaction&) { ups.push_back(u); });
  a.get_text("t").insert_utf8(0, "abc");
  a.get_text("t").insert_utf8(3, "def");
  a.get_text("t").remove(0, 2);
  std::vector<ByteView> views(ups.begin(), ups.end());
  auto merged = merge_updates(views);
  ASSERT_TRUE(merged);
  Doc b(2);
  ASSERT_TRUE(b.apply_update(*merged));
  EXPECT_EQ(b.get_text("t").to_string(), "cdef");
  auto sv = encode_state_vector_from_update(*merged);
  ASSERT_TRUE(sv);
  EXPECT_EQ(*sv, a.encode_state_vector());
  StateVector half{{1, 3}};
  auto diff = diff_update(*merged, encode_state_vector(half));
  ASSERT_TRUE(diff);
  Doc c(3);
  ASSERT_TRUE(c.apply_update(ups[0]));
  ASSERT_TRUE(c.apply_update(*diff));
  EXPECT_EQ(c.get_text("t").to_string(), "cdef");
  auto v2 = convert_update(*merged, UpdateFormat::kV1, UpdateFormat::kV2);
  ASSERT_TRUE(v2);
  auto v1 = convert_update(*v2, UpdateFormat::kV2, UpdateFormat::kV1);
  ASSERT_TRUE(v1);
  EXPECT_EQ(*v1, *merged);
}

TEST(Doc, ObserversSeeEachTransaction) {
  Doc a(1);
  MapRef m = a.get_map("m");
  TextRef t = a.get_text("t");
  std::vector<std::pair<bool, std::vector<std::string>>> seen;  // (local, changed keys of m)
  std::vector<Bytes> updates, updates_v2;
  a.on_update([&](const Bytes& u, const Transaction&) { updates.push_back(u); });
  a.on_update_v2([&](const Bytes& u, const Transaction&) { updates_v2.push_back(u); });
  int h = a.on_after_transaction([&](const Transaction& txn) {
    std::vector<std::string> keys;
    auto it = txn.changed.find(m.branch());
    if (it != txn.changed.end())
      for (const std::string* k : it->second) keys.push_back(k ? *k : "<list>");
    std::sort(keys.begin(), keys.end());
    seen.emplace_back(txn.local, keys);
  });
  a.transact([&](Transaction&) {
    m.set("x", Any(1));
    m.set("y", Any(2));
    t.insert_utf8(0, "abc");
  });
  t.remove(0, 1);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].second, (std::vector<std::string>{"x", "y"}));
  EXPECT_TRUE(seen[1].second.empty());
  ASSERT_EQ(updates.size(), 2u);
  ASSERT_EQ(updates_v2.size(), 2u);
  // A remote doc sees the same content through the emitted updates, v1 or v2.
  Doc b(2), c(3);
  std::vector<bool> remote_local;
  b.on_after_transaction([&](const Transaction& txn) { remote_local.push_back(txn.local); });
  for (auto& u : updates) ASSERT_TRUE(b.apply_update(u));
  for (auto& u : updates_v2) ASSERT_TRUE(c.apply_update(u, nullptr, UpdateFormat::kV2));
  EXPECT_EQ(remote_local, (std::vector<bool>{false, false}));
  b.get_map("m");
  b.get_text("t");
  c.get_map("m");
  c.get_text("t");
  EXPECT_EQ(b.to_json(), a.to_json());
  EXPECT_EQ(c.to_json(), a.to_json());
  // No update event for a transaction that changes nothing; off() detaches.
  a.transact([](Transaction&) {});
  EXPECT_EQ(updates.size(), 2u);
  a.off(h);
  m.set("z", Any(3));
  EXPECT_EQ(seen.size(), 3u);  // the empty transaction still notified, then detached
  EXPECT_EQ(updates.size(), 3u);
}

TEST(Doc, RemoteWriteWithOwnClientIdChangesId) {
  Doc a(9), b(9);
  b.get_text("t").insert_utf8(0, "x");
  ASSERT_TRUE(a.apply_update(b.encode_state_as_update()));
  EXPECT_NE(a.client_id(), 9u);
}
