// Delete sets (src/crdt/id_set.cpp): merging ranges, lookups, the v1 and v2
// encodings, and refusing ranges past JavaScript's safe integers.
#include <gtest/gtest.h>

#include "crdt/id_set.h"
#include "crdt/update_coder.h"

namespace blobsync::crdt {
namespace {

using Ranges = std::vector<DeleteRange>;

TEST(DeleteSet, SortAndMergeJoinsOverlappingAndAdjacentRanges) {
  DeleteSet ds;
  ds.add(1, 10, 5);
  ds.add(1, 0, 3);
  ds.add(1, 3, 2);    // adjacent to [0,3)
  ds.add(1, 12, 10);  // overlaps [10,15)
  ds.add(1, 30, 1);
  ds.add(1, 14, 1);   // inside
  ds.add(2, 7, 1);
  ds.sort_and_merge();
  EXPECT_EQ(ds.clients().at(1), (Ranges{{0, 5}, {10, 12}, {30, 1}}));
  EXPECT_EQ(ds.clients().at(2), (Ranges{{7, 1}}));
  ds.sort_and_merge();  // idempotent
  EXPECT_EQ(ds.clients().at(1), (Ranges{{0, 5}, {10, 12}, {30, 1}}));
}

TEST(DeleteSet, EmptyRangesAreNotAdded) {
  DeleteSet ds;
  ds.add(5, 1, 0);
  EXPECT_TRUE(ds.empty());
  EXPECT_EQ(ds.to_json(), "{}");
}

TEST(DeleteSet, ContainsIsHalfOpen) {
  DeleteSet ds;
  ds.add(1, 10, 5);
  ds.add(1, 0, 2);
  ds.sort_and_merge();
  for (uint64_t c : {0u, 1u, 10u, 14u}) EXPECT_TRUE(ds.contains(1, c)) << c;
  for (uint64_t c : {2u, 9u, 15u, 1000u}) EXPECT_FALSE(ds.contains(1, c)) << c;
  EXPECT_FALSE(ds.contains(2, 0));  // another client
}

TEST(DeleteSet, MergeFromIsAUnion) {
  DeleteSet a, b;
  a.add(1, 0, 2);
  b.add(1, 2, 3);
  b.add(9, 4, 1);
  a.merge_from(b);
  a.sort_and_merge();
  EXPECT_EQ(a.to_json(), R"({"1":[[0,5]],"9":[[4,1]]})");
  EXPECT_TRUE(a.contains(9, 4));
}

TEST(DeleteSet, V1BytesAreYjsLayout) {
  DeleteSet ds;
  ds.add(2, 1, 2);
  ds.add(7, 0, 1);
  ds.add(7, 5, 3);
  ds.sort_and_merge();
  auto enc = make_encoder(UpdateFormat::kV1);
  ds.write(*enc);
  // numClients, then per client (descending): client, numRanges, (clock, len)...
  EXPECT_EQ(enc->finish(), (Bytes{2, 7, 2, 0, 1, 5, 3, 2, 1, 1, 2}));
}

TEST(DeleteSet, RoundTripsInBothFormats) {
  DeleteSet ds;
  ds.add(1, 0, 3);
  ds.add(1, 100, 1);
  ds.add(kMaxSafeInteger, kMaxSafeInteger - 10, 10);
  ds.add(42, 7, 1u << 20);
  ds.sort_and_merge();
  for (auto format : {UpdateFormat::kV1, UpdateFormat::kV2}) {
    auto enc = make_encoder(format);
    ds.write(*enc);
    Bytes bytes = enc->finish();
    auto dec = make_decoder(format, bytes);
    auto back = DeleteSet::read(*dec);
    ASSERT_TRUE(dec->ok()) << dec->error();
    EXPECT_EQ(back, ds) << back.to_json();
  }
}

// A range that ends past 2^53 - 1 cannot be represented in yjs: refused.
TEST(DeleteSet, RangesPastSafeIntegersAreRefused) {
  Encoder e;
  e.write_var_uint(1);                // one client
  e.write_var_uint(3);                // client 3
  e.write_var_uint(1);                // one range
  e.write_var_uint(kMaxSafeInteger);  // clock
  e.write_var_uint(1);                // len: ends at 2^53
  Bytes bytes = e.take();
  auto dec = make_decoder(UpdateFormat::kV1, bytes);
  (void)DeleteSet::read(*dec);  // only the decoder's state matters
  EXPECT_FALSE(dec->ok());
  EXPECT_EQ(dec->error(), "delete range out of range");
}

TEST(DeleteSet, TruncatedOrInflatedCountsFailTheDecoder) {
  for (const Bytes& bad : {Bytes{1}, Bytes{1, 3}, Bytes{1, 3, 2, 0, 1}, Bytes{100, 3, 1, 0, 1}, Bytes{1, 3, 50, 0, 1}}) {
    auto dec = make_decoder(UpdateFormat::kV1, bad);
    (void)DeleteSet::read(*dec);
    EXPECT_FALSE(dec->ok()) << bad.size() << " bytes";
  }
}

}  // namespace
}  // namespace blobsync::crdt
