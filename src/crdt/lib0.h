// lib0 binary encoding (the primitives Yjs builds its formats on): varUint,
// varInt (sign-magnitude, with -0), varString, varUint8Array, big-endian
// floats; plus UTF-8 <-> UTF-16 conversion with JS semantics.
//
// Thread safety: Encoder and Decoder are plain values; not safe for concurrent
// use of one instance. The free functions are pure.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace blobsync::crdt {

// JS Number.MAX_SAFE_INTEGER; lib0 refuses to decode larger varUints.
inline constexpr uint64_t kMaxSafeInteger = (uint64_t{1} << 53) - 1;

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

class Encoder {
 public:
  void write_u8(uint8_t v) { buf_.push_back(v); }
  void write_var_uint(uint64_t v) {
    while (v > 0x7f) {
      buf_.push_back(static_cast<uint8_t>(0x80 | (v & 0x7f)));
      v >>= 7;
    }
    buf_.push_back(static_cast<uint8_t>(v));
  }
  // Sign-magnitude: first byte holds continue bit, sign bit (0x40) and 6 bits.
  void write_var_int(int64_t v, bool negative_zero = false);
  void write_var_string(std::string_view utf8);
  // UTF-16 text (may hold lone surrogates, which become U+FFFD like TextEncoder).
  void write_var_string16(std::u16string_view s);
  void write_var_bytes(ByteView b);
  void write_bytes(ByteView b) { buf_.insert(buf_.end(), b.begin(), b.end()); }
  void write_f32_be(float f);
  void write_f64_be(double d);
  void write_i64_be(int64_t v);

  size_t size() const { return buf_.size(); }
  const Bytes& bytes() const { return buf_; }
  Bytes take() { return std::move(buf_); }

 private:
  Bytes buf_;
};

// Bounds-checked reader with a sticky error: after the first failure every
// read returns a zero value and ok() stays false. Callers check ok() before
// trusting results and must bound loops by remaining() (every element takes
// at least one byte), so garbage counts cannot cause huge allocations.
class Decoder {
 public:
  explicit Decoder(ByteView data) : p_(data.data()), end_(data.data() + data.size()) {}

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  void fail(std::string msg) {
    if (error_.empty()) error_ = std::move(msg);
    p_ = end_;
  }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  bool has_more() const { return p_ < end_; }

  uint8_t read_u8();
  uint64_t read_var_uint();
  // Returns the value; *negative_zero is set when the encoding was -0.
  int64_t read_var_int(bool* negative_zero = nullptr);
  std::string read_var_string();  // strict UTF-8, like TextDecoder{fatal:true}
  std::u16string read_var_string16();
  Bytes read_var_bytes();
  ByteView read_view(size_t n);
  float read_f32_be();
  double read_f64_be();
  int64_t read_i64_be();
  // A count of elements that each need at least one more byte.
  uint64_t read_count();

 private:
  const uint8_t* p_;
  const uint8_t* end_;
  std::string error_;
};

// Strict UTF-8 validation (no overlongs, no surrogates, <= U+10FFFF).
bool valid_utf8(std::string_view s);
std::u16string utf8_to_utf16(std::string_view s);  // REQUIRES: valid UTF-8
// Lone surrogates become U+FFFD (TextEncoder behaviour).
std::string utf16_to_utf8(std::u16string_view s);
// Appends the UTF-8 of s to out.
void append_utf16_as_utf8(std::string& out, std::u16string_view s);

// Result-style helpers for callers outside the decoders.
Result<uint64_t> decode_var_uint(ByteView data, size_t* consumed = nullptr);

}  // namespace blobsync::crdt
