// State vectors (src/crdt/state_vector.cpp): the yjs encoding (clients in
// descending order), decoding of hostile bytes, and the JSON form.
#include <gtest/gtest.h>

#include "crdt/state_vector.h"

namespace blobsync::crdt {
namespace {

TEST(StateVector, EncodesClientsDescendingAsYjsDoes) {
  EXPECT_EQ(encode_state_vector({}), (Bytes{0}));
  StateVector sv{{1, 5}, {300, 2}};
  // varUint(2), then (300, 2) and (1, 5); 300 is the varUint 0xAC 0x02.
  EXPECT_EQ(encode_state_vector(sv), (Bytes{2, 0xAC, 0x02, 2, 1, 5}));
  auto back = decode_state_vector(encode_state_vector(sv));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, sv);
}

TEST(StateVector, RoundTripsLargeClientsAndClocks) {
  StateVector sv{{0, 0}, {kMaxSafeInteger, 1}, {4294967295u, kMaxSafeInteger}, {123456789, 1u << 30}};
  auto back = decode_state_vector(encode_state_vector(sv));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, sv);
  EXPECT_EQ(sv_get(*back, 123456789), 1u << 30);
  EXPECT_EQ(sv_get(*back, 7), 0u);  // an unseen client is at clock 0
}

TEST(StateVector, HostileBytesAreErrors) {
  for (const Bytes& bad : {
           Bytes{},                             // nothing at all
           Bytes{1},                            // a pair announced, none there
           Bytes{1, 5},                         // a client without its clock
           Bytes{2, 1, 5},                      // one pair of two
           Bytes{200, 1, 1},                    // a count far past the data
           Bytes{1, 0x80, 0x80, 0x80},          // a varUint cut short
           Bytes{1, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F},  // past 2^53
       }) {
    auto r = decode_state_vector(bad);
    ASSERT_FALSE(r) << "decoded " << bad.size() << " bytes";
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
    EXPECT_TRUE(r.error().message.starts_with("invalid state vector")) << r.error().message;
  }
}

TEST(StateVector, ReadStopsAtTheFirstError) {
  Bytes data{2, 9, 3, 4};  // the second pair lacks its clock
  Decoder dec(data);
  auto sv = read_state_vector(dec);
  EXPECT_FALSE(dec.ok());
  EXPECT_EQ(sv, (StateVector{{9, 3}}));  // only what decoded fully
}

TEST(StateVector, JsonListsClientsAscending) {
  EXPECT_EQ(state_vector_to_json({}), "{}");
  EXPECT_EQ(state_vector_to_json({{300, 2}, {1, 5}, {20, 0}}), R"({"1":5,"20":0,"300":2})");
}

TEST(StateVector, WriteAppendsToAnEncoder) {
  Encoder enc;
  enc.write_u8(0xEE);
  write_state_vector(enc, {{3, 4}});
  EXPECT_EQ(enc.take(), (Bytes{0xEE, 1, 3, 4}));
}

}  // namespace
}  // namespace blobsync::crdt
