// Any: the JSON-like value Yjs stores in maps, arrays and embeds (lib0's
// writeAny/readAny), with JS semantics: numbers are doubles, object keys keep
// JS Object.keys order (integer-like keys ascending first, then insertion).
// Also JSON text output/parsing that matches JSON.stringify / JSON.parse.
//
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "crdt/lib0.h"

namespace blobsync::crdt {

struct Any;
using AnyArray = std::vector<Any>;
using AnyObject = std::vector<std::pair<std::string, Any>>;

struct Undefined {
  bool operator==(const Undefined&) const = default;
};
struct Null {
  bool operator==(const Null&) const = default;
};
struct BigInt {
  int64_t v = 0;
  bool operator==(const BigInt&) const = default;
};

struct Any {
  std::variant<Undefined, Null, bool, double, BigInt, std::string, Bytes, AnyArray, AnyObject> v;

  Any() = default;
  Any(Undefined u) : v(u) {}
  Any(Null n) : v(n) {}
  Any(bool b) : v(b) {}
  Any(double d) : v(d) {}
  Any(int i) : v(static_cast<double>(i)) {}
  Any(int64_t i) : v(static_cast<double>(i)) {}
  Any(BigInt b) : v(b) {}
  Any(std::string s) : v(std::move(s)) {}
  Any(const char* s) : v(std::string(s)) {}
  Any(Bytes b) : v(std::move(b)) {}
  Any(AnyArray a) : v(std::move(a)) {}
  Any(AnyObject o) : v(std::move(o)) {}

  bool is_undefined() const { return std::holds_alternative<Undefined>(v); }
  bool is_null() const { return std::holds_alternative<Null>(v); }
  // Deep equality as yjs's equalAttrs / lib0 equalFlat would see it.
  bool operator==(const Any& o) const;
};

// Inserts or replaces key in JS property order (a scan: for a few keys).
void object_set(AnyObject& obj, std::string key, Any value);
// The object `{}` becomes after `obj[k] = v` for each entry in turn (first
// position, last value, JS key order), in linear expected time.
AnyObject object_from_entries(AnyObject entries);
const Any* object_get(const AnyObject& obj, std::string_view key);
bool is_array_index_key(std::string_view key);

void write_any(Encoder& enc, const Any& a);
// Depth-limited to keep hostile input from overflowing the stack.
Any read_any(Decoder& dec, int depth = 0);

// JSON.stringify. Returns false (and writes nothing) for a top-level undefined.
bool append_json(std::string& out, const Any& a);
std::string to_json(const Any& a);
void append_json_string(std::string& out, std::string_view utf8);
void append_json_string16(std::string& out, std::u16string_view s);
// JS Number.prototype.toString for finite doubles ("1", "0.1", "1e+21").
std::string js_number_to_string(double d);

// JSON.parse; the literal `undefined` is accepted when allow_undefined (yjs
// writes it for undefined entries of legacy ContentJSON).
Result<Any> parse_json(std::string_view text, bool allow_undefined = false);

}  // namespace blobsync::crdt
