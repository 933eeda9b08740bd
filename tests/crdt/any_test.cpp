// Any (src/crdt/any.cpp): lib0's encoding of JSON-like values, byte layouts
// fixed by lib0's spec, and the JSON text yjs would print.
#include <gtest/gtest.h>

#include <cmath>

#include "crdt/any.h"
#include "crdt/lib0.h"
#include "crdt/work_meter.h"

using namespace blobsync::crdt;

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

// lib0 readAny does `obj[key] = value` per entry: a repeated key keeps its
// first position and takes the last value. The linear builder must agree
// with the one-key-at-a-time scan for every mix of index and string keys.
TEST(Any, ObjectFromEntriesMatchesSequentialSets) {
  uint32_t seed = 12345;
  auto rnd = [&] { return seed = seed * 1103515245u + 12345u, (seed >> 8); };
  for (int round = 0; round < 200; ++round) {
    size_t n = rnd() % 60;
    AnyObject entries;
    AnyObject expect;
    for (size_t i = 0; i < n; ++i) {
      uint32_t r = rnd() % 40;
      std::string key = r < 15 ? std::to_string(r) : r < 18 ? "0" + std::to_string(r) : "k" + std::to_string(r);
      entries.emplace_back(key, Any(static_cast<int>(i)));
      object_set(expect, key, Any(static_cast<int>(i)));
    }
    EXPECT_EQ(Any(object_from_entries(entries)), Any(expect)) << "round " << round;
  }
}

TEST(Any, JsonDuplicateKeysLastWinsFirstPosition) {
  auto v = parse_json(R"({"b":1,"a":2,"b":3,"1":0,"x":1,"y":2,"z":3,"w":4,"v":5,"u":6})");
  ASSERT_TRUE(v);
  EXPECT_EQ(to_json(*v), R"({"1":0,"b":3,"a":2,"x":1,"y":2,"z":3,"w":4,"v":5,"u":6})");
}

// The hostile case of issue #18: one object with many distinct keys used to
// cost a scan per key. Work must now grow linearly with the encoded size.
TEST(Any, ManyKeysDecodeInLinearWork) {
  for (int n : {1000, 100000}) {
    Encoder e;
    e.write_u8(118);
    e.write_var_uint(static_cast<uint64_t>(n));
    for (int i = 0; i < n; ++i) {
      e.write_var_string("k" + std::to_string(i));
      write_any(e, Any(i));
    }
    work_reset();
    Decoder d(e.bytes());
    Any back = read_any(d);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(std::get<AnyObject>(back.v).size(), static_cast<size_t>(n));
    EXPECT_LE(work_steps(), 4 * e.size()) << n << " keys";
  }
}
