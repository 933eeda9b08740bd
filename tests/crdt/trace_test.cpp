// Editing traces: sequential traces replay through the Text API to their
// endContent; concurrent traces use one document per agent merged through
// updates. automerge-paper must encode to yjs's published sizes.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <functional>

#include "crdt/doc.h"
#include "crdt/text.h"
#include "crdt/updates.h"
#include "trace_util.h"

using namespace blobsync::crdt;

namespace {

std::string trace_path(const std::string& name) { return std::string(BLOBSYNC_TRACES_DIR) + "/" + name + ".json.gz"; }

void replay_sequential(const std::string& name, Doc& doc, size_t* updates = nullptr) {
  trace::Trace t;
  ASSERT_TRUE(trace::load(trace_path(name), t)) << name;
  ASSERT_FALSE(t.concurrent);
  TextRef text = doc.get_text("text");
  size_t n = 0;
  int h = doc.on_update([&](const Bytes&, const Transaction&) { ++n; });
  std::u16string mirror;
  bool sur = false;
  for (auto& tx : t.txns)
    for (auto& p : tx.patches) trace::apply_patch(text, mirror, sur, p);
  doc.off(h);
  if (updates) *updates = n;
  ASSERT_EQ(text.to_string(), t.end_content) << name;
  ASSERT_EQ(text.to_u16string(), mirror);
}

}  // namespace

TEST(Trace, AutomergePaperExactSizes) {
  Doc doc(300000000);
  size_t updates = 0;
  replay_sequential("automerge-paper", doc, &updates);
  EXPECT_EQ(updates, 259778u);  // one update event per single-char op
  Bytes v1 = doc.encode_state_as_update();
  EXPECT_EQ(v1.size(), 311038u);
  Bytes v2 = doc.encode_state_as_update({}, UpdateFormat::kV2);
  EXPECT_EQ(v2.size(), 159929u);
  // Loading either encoding gives the same document.
  Doc a(1), b(2);
  ASSERT_TRUE(a.apply_update(v1));
  ASSERT_TRUE(b.apply_update(v2, nullptr, UpdateFormat::kV2));
  EXPECT_EQ(a.get_text("text").to_string(), doc.get_text("text").to_string());
  EXPECT_EQ(b.get_text("text").to_string(), doc.get_text("text").to_string());
  EXPECT_EQ(a.encode_state_as_update(), v1);
  EXPECT_EQ(b.encode_state_as_update({}, UpdateFormat::kV2), v2);
  auto conv = convert_update(v1, UpdateFormat::kV1, UpdateFormat::kV2);
  ASSERT_TRUE(conv);
  EXPECT_EQ(*conv, v2);
  // Byte-exact against yjs when the golden generator ran (CTest fixture).
  if (const char* dir = std::getenv("BLOBSYNC_YJS_GOLDEN_DIR")) {
    for (auto [file, bytes] : {std::pair{"automerge-paper.v1.bin", &v1}, std::pair{"automerge-paper.v2.bin", &v2}}) {
      std::ifstream in(std::string(dir) + "/" + file, std::ios::binary);
      ASSERT_TRUE(in) << file;
      Bytes expected((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      EXPECT_EQ(expected, *bytes) << file;
    }
  }
}

TEST(Trace, AutomergePaperShortClientId) {
  Doc doc(1);
  replay_sequential("automerge-paper", doc);
  EXPECT_EQ(doc.encode_state_as_update().size(), 223414u);
  EXPECT_EQ(doc.encode_state_as_update({}, UpdateFormat::kV2).size(), 159921u);
}

TEST(Trace, SequentialTracesReplay) {
  for (const char* name : {"seph-blog1", "rustcode", "sveltecomponent"}) {
    Doc doc(42);
    replay_sequential(name, doc);
    Doc copy(43);
    ASSERT_TRUE(copy.apply_update(doc.encode_state_as_update()));
    EXPECT_EQ(copy.get_text("text").to_string(), doc.get_text("text").to_string()) << name;
  }
}

TEST(Trace, ConcurrentTracesMergeThroughUpdates) {
  for (const char* name : {"friendsforever", "clownschool"}) {
    trace::Trace t;
    ASSERT_TRUE(trace::load(trace_path(name), t));
    ASSERT_TRUE(t.concurrent);
    std::vector<std::unique_ptr<Doc>> docs;
    std::vector<std::vector<bool>> applied(t.num_agents, std::vector<bool>(t.txns.size(), false));
    for (uint64_t a = 0; a < t.num_agents; ++a) docs.push_back(std::make_unique<Doc>(1000 + a));
    std::vector<Bytes> txn_update(t.txns.size());
    for (size_t i = 0; i < t.txns.size(); ++i) {
      auto& tx = t.txns[i];
      Doc& doc = *docs[tx.agent];
      auto& seen = applied[tx.agent];
      // Bring the agent's doc to exactly the causal closure of the parents.
      std::vector<uint64_t> todo(tx.parents.begin(), tx.parents.end());
      std::vector<uint64_t> need;
      while (!todo.empty()) {
        uint64_t j = todo.back();
        todo.pop_back();
        if (seen[j]) continue;
        seen[j] = true;
        need.push_back(j);
        for (uint64_t p : t.txns[j].parents) todo.push_back(p);
      }
      for (uint64_t j : need) ASSERT_TRUE(doc.apply_update(txn_update[j]));
      ASSERT_FALSE(doc.has_pending()) << name << " txn " << i;
      TextRef text = doc.get_text("text");
      std::u16string mirror = text.to_u16string();
      bool sur = trace::has_surrogates(mirror);
      Bytes captured;
      int h = doc.on_update([&](const Bytes& u, const Transaction&) { captured = u; });
      doc.transact([&](Transaction&) {
        for (auto& p : tx.patches) trace::apply_patch(text, mirror, sur, p);
      });
      doc.off(h);
      txn_update[i] = std::move(captured);
      seen[i] = true;
    }
    Doc merged(1);
    std::vector<ByteView> views(txn_update.begin(), txn_update.end());
    for (auto& u : txn_update) ASSERT_TRUE(merged.apply_update(u));
    EXPECT_EQ(merged.get_text("text").to_string(), t.end_content) << name;
    auto all = merge_updates(views);
    ASSERT_TRUE(all);
    Doc from_merge(2);
    ASSERT_TRUE(from_merge.apply_update(*all));
    EXPECT_EQ(from_merge.get_text("text").to_string(), t.end_content) << name;
    // Every agent converges after exchanging full states.
    for (auto& d : docs) {
      ASSERT_TRUE(d->apply_update(merged.encode_state_as_update(d->state_vector())));
      EXPECT_EQ(d->get_text("text").to_string(), t.end_content) << name;
    }
  }
}
