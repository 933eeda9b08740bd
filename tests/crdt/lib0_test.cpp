// lib0 primitives and Any encoding: byte layouts fixed by lib0's spec.
#include <gtest/gtest.h>

#include <cmath>

#include "crdt/any.h"
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

TEST(Any, NumberTagsFollowJsRules) {
  auto tag = [](double d) {
    Encoder e;
    write_any(e, Any(d));
    return e.bytes()[0];
  };
  EXPECT_EQ(tag(1), 125);
  EXPECT_EQ(tag(-2147483647.0), 125);
  EXPECT_EQ(tag(2147483648.0), 124);  // 2^31 is float32-exact
  EXPECT_EQ(tag(0.5), 124);
  EXPECT_EQ(tag(INFINITY), 124);
  EXPECT_EQ(tag(0.1), 123);
  EXPECT_EQ(tag(NAN), 123);
  EXPECT_EQ(tag(std::pow(2.0, 40)), 124);
  Encoder e;
  write_any(e, Any(-0.0));
  EXPECT_EQ(e.bytes(), (Bytes{125, 0x40}));
  Decoder d(e.bytes());
  Any back = read_any(d);
  EXPECT_TRUE(std::signbit(std::get<double>(back.v)));
}

TEST(Any, RoundTripNested) {
  AnyObject o;
  object_set(o, "b", Any(1));
  object_set(o, "a", Any(AnyArray{Any("x"), Any(true), Any(Null{}), Any(Bytes{1, 2}), Any(BigInt{-5})}));
  object_set(o, "10", Any(2.5));
  object_set(o, "2", Any(Undefined{}));
  EXPECT_EQ(o[0].first, "2");  // integer keys first, ascending
  EXPECT_EQ(o[1].first, "10");
  Encoder e;
  write_any(e, Any(o));
  Decoder d(e.bytes());
  Any back = read_any(d);
  EXPECT_TRUE(d.ok());
  EXPECT_EQ(back, Any(o));
}

TEST(Any, JsonMatchesJsStringify) {
  EXPECT_EQ(js_number_to_string(1), "1");
  EXPECT_EQ(js_number_to_string(0.1), "0.1");
  EXPECT_EQ(js_number_to_string(1e21), "1e+21");
  EXPECT_EQ(js_number_to_string(123456789012345680000.0), "123456789012345680000");
  EXPECT_EQ(js_number_to_string(1e-7), "1e-7");
  EXPECT_EQ(js_number_to_string(0.000001), "0.000001");
  EXPECT_EQ(js_number_to_string(-1.5e300), "-1.5e+300");
  EXPECT_EQ(to_json(Any(-0.0)), "0");
  EXPECT_EQ(to_json(Any(NAN)), "null");
  EXPECT_EQ(to_json(Any("a\"\n\x01")), "\"a\\\"\\n\\u0001\"");
  EXPECT_EQ(to_json(Any(AnyArray{Any(Undefined{}), Any(1)})), "[null,1]");
  std::string s;
  append_json_string16(s, std::u16string{u'a', static_cast<char16_t>(0xdc00)});
  EXPECT_EQ(s, "\"a\\udc00\"");
  auto p = parse_json(R"({"b":[1,2.5,"\u00e9\ud83d\ude00"],"a":null,"1":true})");
  ASSERT_TRUE(p);
  EXPECT_EQ(to_json(*p), "{\"1\":true,\"b\":[1,2.5,\"\xc3\xa9\xf0\x9f\x98\x80\"],\"a\":null}");
  EXPECT_FALSE(parse_json("{\"a\":}"));
  EXPECT_FALSE(parse_json("[1,]"));
}
