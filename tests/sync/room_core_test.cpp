#include "sync/room_core.h"

#include <gtest/gtest.h>

#include "crdt/array.h"
#include "crdt/doc.h"
#include "crdt/lib0.h"
#include "crdt/map.h"
#include "protocol/registry.h"

namespace blobsync::sync {
namespace {

crdt::Bytes msg_sync(std::uint64_t sub, const crdt::Bytes& payload) {
  crdt::Encoder e;
  e.write_var_uint(0);
  e.write_var_uint(sub);
  e.write_var_bytes(payload);
  return e.take();
}

crdt::Bytes client_update(std::uint64_t client, const std::string& value) {
  crdt::Doc d(client);
  crdt::Bytes out;
  d.on_update([&](const crdt::Bytes& u, const crdt::Transaction&) { out = u; });
  d.transact([&](crdt::Transaction&) { d.get_array("a").push({crdt::Prelim(crdt::Any(value))}); });
  return out;
}

std::vector<const Outgoing*> to(const RoomEffects& fx, ConnId c) {
  std::vector<const Outgoing*> out;
  for (const auto& o : fx.out)
    if (o.to == c) out.push_back(&o);
  return out;
}

TEST(RoomCore, JoinSendsStateVectorThenAwareness) {
  RoomCore room;
  RoomEffects fx;
  room.join(1, fx);
  ASSERT_EQ(fx.out.size(), 1u);
  EXPECT_EQ((*fx.out[0].msg)[0], 0);
  EXPECT_EQ((*fx.out[0].msg)[1], 0);
  EXPECT_TRUE(fx.out[0].reveals_doc);
}

TEST(RoomCore, UpdateIsPersistedAndBroadcastToAll) {
  RoomCore room;
  RoomEffects fx;
  room.join(1, fx);
  room.join(2, fx);
  RoomEffects u;
  room.handle(1, msg_sync(2, client_update(7, "x")), false, 0, u);
  ASSERT_EQ(u.persist.size(), 1u);
  ASSERT_EQ(u.out.size(), 1u);
  EXPECT_EQ(u.out[0].to, kAllConnections);  // sender included
  EXPECT_TRUE(u.out[0].reveals_doc);
  EXPECT_TRUE(u.errors.empty());
  // A duplicate changes nothing and is not broadcast.
  RoomEffects dup;
  room.handle(2, msg_sync(2, client_update(7, "x")), false, 0, dup);
  EXPECT_TRUE(dup.persist.empty());
  EXPECT_TRUE(dup.out.empty());
}

TEST(RoomCore, Step1IsAnsweredWithStep2) {
  RoomCore room;
  RoomEffects fx;
  room.join(1, fx);
  room.handle(1, msg_sync(2, client_update(7, "x")), false, 0, fx);
  RoomEffects r;
  room.handle(1, msg_sync(0, {0}), false, 0, r);
  auto mine = to(r, 1);
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ((*mine[0]->msg)[1], 1);
  crdt::Doc copy(9);
  crdt::Decoder d(*mine[0]->msg);
  d.read_var_uint();
  d.read_var_uint();
  ASSERT_TRUE(copy.apply_update(d.read_var_bytes()));
  EXPECT_EQ(copy.get_array("a").to_json(), "[\"x\"]");
}

TEST(RoomCore, ReadOnlyUpdatesAreDropped) {
  RoomCore room;
  RoomEffects fx;
  room.join(1, fx);
  RoomEffects r;
  room.handle(1, msg_sync(2, client_update(7, "x")), true, 0, r);
  room.handle(1, msg_sync(1, client_update(8, "y")), true, 0, r);
  EXPECT_TRUE(r.persist.empty());
  EXPECT_TRUE(r.out.empty());
  EXPECT_TRUE(r.errors.empty());
}

TEST(RoomCore, MalformedMessagesGetErrorsAndChangeNothing) {
  RoomCore room;
  RoomEffects fx;
  room.join(1, fx);
  auto before = room.doc().encode_state_vector();
  std::vector<crdt::Bytes> bad = {{},          {0x80},       {0},           {0, 2, 5, 1},   {0, 2, 3, 1, 2, 3},
                                  {0, 9, 0},   {0, 0, 2, 5, 1}, {1, 3, 1, 2, 3}, {4},          {9, 9},
                                  {21},        {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}};
  // An update that decodes but names a clock run that overflows.
  for (const auto& m : bad) {
    RoomEffects r;
    room.handle(1, m, false, 0, r);
    EXPECT_EQ(r.errors.size(), 1u);
    ASSERT_EQ(r.out.size(), 1u);
    EXPECT_EQ((*r.out[0].msg)[0], 2);  // y-protocols auth message carrying the reason
    EXPECT_FALSE(r.out[0].reveals_doc);
    EXPECT_TRUE(r.persist.empty());
  }
  EXPECT_EQ(room.doc().encode_state_vector(), before);
  RoomEffects ok;
  room.handle(1, crdt::Bytes{2, 0, 0}, false, 0, ok);  // auth: ignored
  EXPECT_TRUE(ok.out.empty() && ok.errors.empty());
}

TEST(RoomCore, AwarenessIsRelayedAndRemovedOnLeave) {
  RoomCore room;
  RoomEffects fx;
  room.join(1, fx);
  room.join(2, fx);
  crdt::Encoder u;
  u.write_var_uint(1);
  u.write_var_uint(42);
  u.write_var_uint(1);
  u.write_var_string("{\"name\":\"a\"}");
  crdt::Encoder m;
  m.write_var_uint(1);
  m.write_var_bytes(u.bytes());
  RoomEffects r;
  room.handle(1, m.bytes(), false, 1000, r);
  ASSERT_EQ(r.out.size(), 1u);
  EXPECT_EQ(r.out[0].to, kAllConnections);
  EXPECT_EQ(room.awareness().state_count(), 1u);
  RoomEffects q;
  room.handle(2, crdt::Bytes{3}, false, 1000, q);  // queryAwareness
  ASSERT_EQ(to(q, 2).size(), 1u);
  RoomEffects l;
  room.leave(1, l);
  EXPECT_EQ(room.awareness().state_count(), 0u);
  ASSERT_EQ(l.out.size(), 1u);  // the removal, to the others
  // A join now gets no awareness message (no states).
  RoomEffects j;
  room.join(3, j);
  EXPECT_EQ(j.out.size(), 1u);
}

TEST(RoomCore, RemoteRegistryChangeIsFlaggedLocalIsNot) {
  RoomCore room;
  RoomEffects fx;
  room.join(1, fx);
  Digest d{};
  d.bytes[0] = 1;
  RoomEffects local;
  room.local_change(
      [&](crdt::Doc& doc) { protocol::registry_announce(doc, d, 10, 1, "ws://me/sync", RoomCore::local_origin()); }, local);
  EXPECT_EQ(local.persist.size(), 1u);
  EXPECT_FALSE(local.registry_changed_remotely);
  crdt::Doc other(77);
  crdt::Bytes update;
  other.on_update([&](const crdt::Bytes& u, const crdt::Transaction&) { update = u; });
  protocol::registry_announce(other, d, 10, 1, "ws://peer/sync");
  RoomEffects remote;
  room.handle(1, msg_sync(2, update), false, 0, remote);
  EXPECT_TRUE(remote.registry_changed_remotely);
  RoomEffects plain;
  room.handle(1, msg_sync(2, client_update(5, "z")), false, 0, plain);
  EXPECT_FALSE(plain.registry_changed_remotely);
}

TEST(RoomCore, LoadRestoresState) {
  RoomCore a;
  RoomEffects fx;
  a.join(1, fx);
  a.handle(1, msg_sync(2, client_update(7, "x")), false, 0, fx);
  a.handle(1, msg_sync(2, client_update(8, "y")), false, 0, fx);
  RoomCore b;
  EXPECT_TRUE(b.load({}, fx.persist).empty());
  EXPECT_EQ(b.doc().encode_state_vector(), a.doc().encode_state_vector());
  RoomCore c;
  auto snap = a.doc().encode_state_as_update();
  EXPECT_TRUE(c.load(snap, {}).empty());
  EXPECT_EQ(c.doc().to_json(), a.doc().to_json());
}

// A room under `limits` with connection 1 joined, and a client document
// whose updates collect in `ups` (to send them as the test chooses).
struct ClientOfALimitedRoom {
  explicit ClientOfALimitedRoom(SyncConfig::DocLimits limits) : room(true, limits) {
    RoomEffects fx;
    room.join(1, fx);
    client.on_update([this](const crdt::Bytes& u, const crdt::Transaction&) { ups.push_back(u); });
  }
  RoomCore room;
  crdt::Doc client{7};
  std::vector<crdt::Bytes> ups;
};

// Issue 18: document limits answer the sender with a protocol error naming
// the limit, and change nothing they refuse.
TEST(RoomCore, DocumentPastItsByteLimitRefusesAdditionsNotDeletes) {
  SyncConfig::DocLimits limits;
  limits.max_doc_bytes = 2000;
  ClientOfALimitedRoom t(limits);
  auto& [room, client, ups] = t;
  client.transact([&](crdt::Transaction&) { client.get_array("a").push({crdt::Prelim(crdt::Any(std::string(1500, 'x')))}); });
  client.transact([&](crdt::Transaction&) { client.get_array("a").push({crdt::Prelim(crdt::Any(std::string(1500, 'y')))}); });
  client.transact([&](crdt::Transaction&) { client.get_array("a").remove(0, 1); });
  RoomEffects first, second, del;
  room.handle(1, msg_sync(2, ups[0]), false, 0, first);
  EXPECT_TRUE(first.errors.empty());
  room.handle(1, msg_sync(2, ups[1]), false, 0, second);
  ASSERT_EQ(second.errors.size(), 1u);
  EXPECT_NE(second.errors[0].find("sync_max_doc_bytes"), std::string::npos) << second.errors[0];
  EXPECT_TRUE(second.persist.empty());
  ASSERT_EQ(to(second, 1).size(), 1u);  // the protocol error, to the sender only
  room.handle(1, msg_sync(2, ups[2]), false, 0, del);
  EXPECT_TRUE(del.errors.empty());
  EXPECT_EQ(del.persist.size(), 1u);
  // Compaction measures the document exactly (deltas over-count); room again.
  room.set_doc_bytes(room.doc().encode_state_as_update().size());
  RoomEffects again;
  room.handle(1, msg_sync(2, ups[1]), false, 0, again);
  EXPECT_TRUE(again.errors.empty()) << again.errors[0];
  EXPECT_EQ(again.persist.size(), 1u);
}

TEST(RoomCore, TooManyPendingStructsIsAProtocolError) {
  SyncConfig::DocLimits limits;
  limits.max_pending_structs = 1;
  ClientOfALimitedRoom t(limits);
  auto& [room, client, ups] = t;
  for (int i = 0; i < 3; ++i)
    client.transact([&](crdt::Transaction&) { client.get_array("a").push({crdt::Prelim(crdt::Any(i))}); });
  RoomEffects a, b;
  room.handle(1, msg_sync(2, ups[2]), false, 0, a);
  EXPECT_TRUE(a.errors.empty());
  room.handle(1, msg_sync(2, ups[1]), false, 0, b);
  ASSERT_EQ(b.errors.size(), 1u);
  EXPECT_NE(b.errors[0].find("over the limit"), std::string::npos) << b.errors[0];
  EXPECT_NE(b.errors[0].find("sync_max_pending_structs"), std::string::npos) << b.errors[0];
  EXPECT_EQ(room.doc().pending_structs(), 1u);
}

TEST(RoomCore, AwarenessStatePastItsLimitIsRefused) {
  SyncConfig::DocLimits limits;
  limits.max_awareness_bytes = 100;
  RoomCore room(true, limits);
  RoomEffects fx;
  room.join(1, fx);
  auto aw = [](const std::string& json) {
    crdt::Encoder inner;
    inner.write_var_uint(1);
    inner.write_var_uint(42);
    inner.write_var_uint(1);
    inner.write_var_string(json);
    crdt::Encoder e;
    e.write_var_uint(1);
    e.write_var_bytes(inner.bytes());
    return e.take();
  };
  RoomEffects big;
  room.handle(1, aw("{\"name\":\"" + std::string(200, 'n') + "\"}"), false, 0, big);
  ASSERT_EQ(big.errors.size(), 1u);
  EXPECT_NE(big.errors[0].find("sync_max_awareness_bytes"), std::string::npos) << big.errors[0];
  EXPECT_FALSE(room.awareness().has_states());
  RoomEffects small;
  room.handle(1, aw("{\"name\":\"n\"}"), false, 0, small);
  EXPECT_TRUE(small.errors.empty());
  EXPECT_TRUE(room.awareness().has_states());
}

}  // namespace
}  // namespace blobsync::sync
