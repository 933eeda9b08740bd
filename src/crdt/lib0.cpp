#include "crdt/lib0.h"

#include <bit>
#include <cstring>

namespace blobsync::crdt {

void Encoder::write_var_int(int64_t v, bool negative_zero) {
  bool neg = v < 0 || negative_zero;
  uint64_t mag = v < 0 ? static_cast<uint64_t>(0) - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  buf_.push_back(static_cast<uint8_t>((mag > 0x3f ? 0x80 : 0) | (neg ? 0x40 : 0) | (mag & 0x3f)));
  mag >>= 6;
  while (mag > 0) {
    buf_.push_back(static_cast<uint8_t>((mag > 0x7f ? 0x80 : 0) | (mag & 0x7f)));
    mag >>= 7;
  }
}

void Encoder::write_var_string(std::string_view utf8) {
  write_var_uint(utf8.size());
  buf_.insert(buf_.end(), utf8.begin(), utf8.end());
}

void Encoder::write_var_string16(std::u16string_view s) {
  std::string tmp;
  append_utf16_as_utf8(tmp, s);
  write_var_string(tmp);
}

void Encoder::write_var_bytes(ByteView b) {
  write_var_uint(b.size());
  write_bytes(b);
}

void Encoder::write_f32_be(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  for (int i = 3; i >= 0; --i) buf_.push_back(static_cast<uint8_t>(u >> (i * 8)));
}
void Encoder::write_f64_be(double d) {
  uint64_t u = std::bit_cast<uint64_t>(d);
  for (int i = 7; i >= 0; --i) buf_.push_back(static_cast<uint8_t>(u >> (i * 8)));
}
void Encoder::write_i64_be(int64_t v) {
  uint64_t u = static_cast<uint64_t>(v);
  for (int i = 7; i >= 0; --i) buf_.push_back(static_cast<uint8_t>(u >> (i * 8)));
}

uint8_t Decoder::read_u8() {
  if (p_ >= end_) {
    fail("unexpected end of data");
    return 0;
  }
  return *p_++;
}

uint64_t Decoder::read_var_uint() {
  uint64_t num = 0;
  unsigned shift = 0;
  while (true) {
    if (p_ >= end_) {
      fail("unexpected end of data in varUint");
      return 0;
    }
    uint8_t r = *p_++;
    if (shift >= 56) {
      fail("varUint out of range");
      return 0;
    }
    num |= static_cast<uint64_t>(r & 0x7f) << shift;
    shift += 7;
    if (num > kMaxSafeInteger) {
      fail("varUint out of range");
      return 0;
    }
    if (r < 0x80) return num;
  }
}

int64_t Decoder::read_var_int(bool* negative_zero) {
  if (negative_zero) *negative_zero = false;
  if (p_ >= end_) {
    fail("unexpected end of data in varInt");
    return 0;
  }
  uint8_t r = *p_++;
  uint64_t num = r & 0x3f;
  bool neg = (r & 0x40) != 0;
  unsigned shift = 6;
  if (r & 0x80) {
    while (true) {
      if (p_ >= end_) {
        fail("unexpected end of data in varInt");
        return 0;
      }
      r = *p_++;
      if (shift >= 55) {
        fail("varInt out of range");
        return 0;
      }
      num |= static_cast<uint64_t>(r & 0x7f) << shift;
      shift += 7;
      if (num > kMaxSafeInteger) {
        fail("varInt out of range");
        return 0;
      }
      if (r < 0x80) break;
    }
  }
  if (neg && num == 0 && negative_zero) *negative_zero = true;
  return neg ? -static_cast<int64_t>(num) : static_cast<int64_t>(num);
}

ByteView Decoder::read_view(size_t n) {
  if (remaining() < n) {
    fail("unexpected end of data");
    return {};
  }
  ByteView v(p_, n);
  p_ += n;
  return v;
}

std::string Decoder::read_var_string() {
  uint64_t n = read_var_uint();
  if (n > remaining()) {
    fail("string length exceeds data");
    return {};
  }
  ByteView v = read_view(n);
  std::string s(reinterpret_cast<const char*>(v.data()), v.size());
  if (!valid_utf8(s)) {
    fail("invalid UTF-8 in string");
    return {};
  }
  return s;
}

std::u16string Decoder::read_var_string16() {
  std::string s = read_var_string();
  if (!ok()) return {};
  return utf8_to_utf16(s);
}

Bytes Decoder::read_var_bytes() {
  uint64_t n = read_var_uint();
  if (n > remaining()) {
    fail("byte array length exceeds data");
    return {};
  }
  ByteView v = read_view(n);
  return Bytes(v.begin(), v.end());
}

float Decoder::read_f32_be() {
  ByteView v = read_view(4);
  if (v.empty()) return 0;
  uint32_t u = 0;
  for (uint8_t b : v) u = (u << 8) | b;
  return std::bit_cast<float>(u);
}
double Decoder::read_f64_be() {
  ByteView v = read_view(8);
  if (v.empty()) return 0;
  uint64_t u = 0;
  for (uint8_t b : v) u = (u << 8) | b;
  return std::bit_cast<double>(u);
}
int64_t Decoder::read_i64_be() {
  ByteView v = read_view(8);
  if (v.empty()) return 0;
  uint64_t u = 0;
  for (uint8_t b : v) u = (u << 8) | b;
  return static_cast<int64_t>(u);
}

uint64_t Decoder::read_count() {
  uint64_t n = read_var_uint();
  if (n > remaining()) {
    fail("element count exceeds data");
    return 0;
  }
  return n;
}

bool valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    uint8_t c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    size_t n;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (static_cast<size_t>(end - p) <= n) return false;
    for (size_t i = 1; i <= n; ++i) {
      if ((p[i] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return false;
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    p += n + 1;
  }
  return true;
}

std::u16string utf8_to_utf16(std::string_view s) {
  std::u16string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    uint8_t c = *p;
    uint32_t cp;
    size_t n;
    if (c < 0x80) {
      out.push_back(c);
      ++p;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0f;
    } else {
      n = 3;
      cp = c & 0x07;
    }
    if (static_cast<size_t>(end - p) <= n) {
      out.push_back(0xfffd);
      break;
    }
    for (size_t i = 1; i <= n; ++i) cp = (cp << 6) | (p[i] & 0x3f);
    p += n + 1;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xd800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xdc00 + (cp & 0x3ff)));
    } else {
      out.push_back(static_cast<char16_t>(cp));
    }
  }
  return out;
}

void append_utf16_as_utf8(std::string& out, std::u16string_view s) {
  size_t n = s.size();
  for (size_t i = 0; i < n; ++i) {
    uint32_t c = s[i];
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && s[i + 1] >= 0xdc00 && s[i + 1] <= 0xdfff) {
      c = 0x10000 + ((c - 0xd800) << 10) + (s[i + 1] - 0xdc00);
      ++i;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      c = 0xfffd;
    }
    if (c < 0x800) {
      out.push_back(static_cast<char>(0xc0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
    } else if (c < 0x10000) {
      out.push_back(static_cast<char>(0xe0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
    } else {
      out.push_back(static_cast<char>(0xf0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
    }
  }
}

std::string utf16_to_utf8(std::u16string_view s) {
  std::string out;
  out.reserve(s.size());
  append_utf16_as_utf8(out, s);
  return out;
}

Result<uint64_t> decode_var_uint(ByteView data, size_t* consumed) {
  Decoder d(data);
  uint64_t v = d.read_var_uint();
  if (!d.ok()) return fail(Errc::kInvalidArgument, "{}", d.error());
  if (consumed) *consumed = data.size() - d.remaining();
  return v;
}

}  // namespace blobsync::crdt
