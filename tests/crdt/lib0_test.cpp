// lib0 primitives (src/crdt/lib0.cpp): byte layouts fixed by lib0's spec.
#include <gtest/gtest.h>

#include <cmath>

#include "crdt/lib0.h"

using namespace blobsync::crdt;

TEST(Lib0, VarUintRoundTrip) {
  for (uint64_t v : std::initializer_list<uint64_t>{0, 1, 127, 128, 300, 16383, 16384, 300000000, kMaxSafeInteger}) {
    Encoder e;
    e.write_var_uint(v);
    Decoder d(e.bytes());
    EXPECT_EQ(d.read_var_uint(), v);
    EXPECT_TRUE(d.ok());
    EXPECT_FALSE(d.has_more());
  }
  Encoder e;
  e.write_var_uint(300);
  EXPECT_EQ(e.bytes(), (Bytes{0xac, 0x02}));
}

TEST(Lib0, VarUintRejectsOverflowAndTruncation) {
  Bytes too_big(10, 0xff);
  too_big.push_back(0x01);
  Decoder d(too_big);
  d.read_var_uint();
  EXPECT_FALSE(d.ok());
  Bytes truncated{0x80, 0x80};
  Decoder d2(truncated);
  d2.read_var_uint();
  EXPECT_FALSE(d2.ok());
  Encoder e;
  e.write_var_uint(kMaxSafeInteger + 1);
  Decoder d3(e.bytes());
  d3.read_var_uint();
  EXPECT_FALSE(d3.ok());
}

TEST(Lib0, VarIntSignMagnitudeAndNegativeZero) {
  Encoder e;
  e.write_var_int(0, true);
  EXPECT_EQ(e.bytes(), (Bytes{0x40}));
  Encoder e2;
  e2.write_var_int(-1);
  EXPECT_EQ(e2.bytes(), (Bytes{0x41}));
  Encoder e3;
  e3.write_var_int(64);
  EXPECT_EQ(e3.bytes(), (Bytes{0x80, 0x01}));
  for (int64_t v : std::initializer_list<int64_t>{0, 1, -1, 63, -63, 64, -64, 1000000, -2147483648LL, (int64_t{1} << 53) - 1}) {
    Encoder x;
    x.write_var_int(v);
    Decoder d(x.bytes());
    bool nz = true;
    EXPECT_EQ(d.read_var_int(&nz), v);
    EXPECT_FALSE(nz);
  }
  Decoder d(e.bytes());
  bool nz = false;
  EXPECT_EQ(d.read_var_int(&nz), 0);
  EXPECT_TRUE(nz);
}

TEST(Lib0, StrictUtf8) {
  EXPECT_TRUE(valid_utf8("h\xc3\xa9llo \xf0\x9f\x98\x80"));
  EXPECT_FALSE(valid_utf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(valid_utf8("\xe2\x82"));          // truncated
  Bytes bad{0x02, 0xc3, 0x28};
  Decoder d(bad);
  d.read_var_string();
  EXPECT_FALSE(d.ok());
}

TEST(Lib0, LoneSurrogateEncodesAsReplacement) {
  Encoder e;
  e.write_var_string16(std::u16string(1, static_cast<char16_t>(0xd83d)));
  EXPECT_EQ(e.bytes(), (Bytes{0x03, 0xef, 0xbf, 0xbd}));
  EXPECT_EQ(utf8_to_utf16("\xf0\x9f\x98\x80").size(), 2u);
}
