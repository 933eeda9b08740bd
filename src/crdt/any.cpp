#include "crdt/any.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <unordered_map>

#include "crdt/work_meter.h"

namespace blobsync::crdt {

namespace {
constexpr int kMaxDepth = 256;
// A claimed count only costs one byte per element: don't let it reserve
// ~40 bytes per claimed element up front; growth stays amortised linear.
constexpr uint64_t kReserveCap = 4096;
}

bool Any::operator==(const Any& o) const {
  if (v.index() != o.v.index()) return false;
  if (auto* d = std::get_if<double>(&v)) {
    double e = std::get<double>(o.v);
    return *d == e || (std::isnan(*d) && std::isnan(e));
  }
  return v == o.v;
}

bool is_array_index_key(std::string_view key) {
  if (key.empty() || key.size() > 10) return false;
  if (key.size() > 1 && key[0] == '0') return false;
  uint64_t n = 0;
  for (char c : key) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n < 4294967295ull;
}

static uint64_t index_value(std::string_view key) {
  uint64_t n = 0;
  for (char c : key) n = n * 10 + static_cast<uint64_t>(c - '0');
  return n;
}

void object_set(AnyObject& obj, std::string key, Any value) {
  work_add(obj.size());
  for (auto& [k, val] : obj) {
    if (k == key) {
      val = std::move(value);
      return;
    }
  }
  if (is_array_index_key(key)) {
    uint64_t n = index_value(key);
    auto it = obj.begin();
    while (it != obj.end() && is_array_index_key(it->first) && index_value(it->first) < n) ++it;
    obj.emplace(it, std::move(key), std::move(value));
  } else {
    obj.emplace_back(std::move(key), std::move(value));
  }
}

AnyObject object_from_entries(AnyObject entries) {
  // Small objects: the ordered scan is cheapest and obviously right.
  if (entries.size() <= 8) {
    AnyObject obj;
    for (auto& [k, v] : entries) object_set(obj, std::move(k), std::move(v));
    return obj;
  }
  // A repeated key keeps its first position and takes the last value, as
  // `obj[key] = value` does in JS. One hash pass keeps this linear (a scan
  // per key made a 100,000-key object cost seconds).
  const size_t n = entries.size();
  work_add(n);
  std::vector<size_t> last(n);
  std::vector<bool> first(n, false);
  {
    std::unordered_map<std::string_view, size_t> seen;
    seen.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      auto [it, fresh] = seen.try_emplace(entries[i].first, i);
      if (fresh) {
        first[i] = true;
        last[i] = i;
      } else {
        last[it->second] = i;
      }
    }
  }  // the views die before the keys move
  AnyObject obj;
  obj.reserve(n);
  for (size_t i = 0; i < n; ++i)
    if (first[i]) obj.emplace_back(std::move(entries[i].first), std::move(entries[last[i]].second));
  // JS property order: array-index keys ascending, then insertion order.
  auto mid = std::stable_partition(obj.begin(), obj.end(), [](auto& e) { return is_array_index_key(e.first); });
  std::sort(obj.begin(), mid, [](auto& a, auto& b) { return index_value(a.first) < index_value(b.first); });
  work_add(n);
  return obj;
}

const Any* object_get(const AnyObject& obj, std::string_view key) {
  for (auto& [k, val] : obj)
    if (k == key) return &val;
  return nullptr;
}

void write_any(Encoder& enc, const Any& a) {
  struct V {
    Encoder& e;
    void operator()(const Undefined&) { e.write_u8(127); }
    void operator()(const Null&) { e.write_u8(126); }
    void operator()(bool b) { e.write_u8(b ? 120 : 121); }
    void operator()(double d) {
      if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) <= 2147483647.0) {
        e.write_u8(125);
        e.write_var_int(static_cast<int64_t>(d), std::signbit(d) && d == 0);
      } else if (std::isnan(d) || static_cast<double>(static_cast<float>(d)) != d) {
        e.write_u8(123);
        e.write_f64_be(d);
      } else {
        e.write_u8(124);
        e.write_f32_be(static_cast<float>(d));
      }
    }
    void operator()(const BigInt& b) {
      e.write_u8(122);
      e.write_i64_be(b.v);
    }
    void operator()(const std::string& s) {
      e.write_u8(119);
      e.write_var_string(s);
    }
    void operator()(const Bytes& b) {
      e.write_u8(116);
      e.write_var_bytes(b);
    }
    void operator()(const AnyArray& arr) {
      e.write_u8(117);
      e.write_var_uint(arr.size());
      for (auto& x : arr) write_any(e, x);
    }
    void operator()(const AnyObject& obj) {
      e.write_u8(118);
      e.write_var_uint(obj.size());
      for (auto& [k, x] : obj) {
        e.write_var_string(k);
        write_any(e, x);
      }
    }
  };
  std::visit(V{enc}, a.v);
}

Any read_any(Decoder& dec, int depth) {
  if (depth > kMaxDepth) {
    dec.fail("any value nested too deeply");
    return {};
  }
  uint8_t tag = dec.read_u8();
  switch (tag) {
    case 127: return Undefined{};
    case 126: return Null{};
    case 125: {
      bool nz = false;
      int64_t v = dec.read_var_int(&nz);
      return Any(nz ? -0.0 : static_cast<double>(v));
    }
    case 124: return Any(static_cast<double>(dec.read_f32_be()));
    case 123: return Any(dec.read_f64_be());
    case 122: return Any(BigInt{dec.read_i64_be()});
    case 121: return Any(false);
    case 120: return Any(true);
    case 119: return Any(dec.read_var_string());
    case 118: {
      uint64_t n = dec.read_count();
      AnyObject entries;
      entries.reserve(std::min<uint64_t>(n, kReserveCap));
      for (uint64_t i = 0; i < n && dec.ok(); ++i) {
        std::string k = dec.read_var_string();
        Any v = read_any(dec, depth + 1);
        entries.emplace_back(std::move(k), std::move(v));
      }
      return Any(object_from_entries(std::move(entries)));
    }
    case 117: {
      uint64_t n = dec.read_count();
      AnyArray arr;
      arr.reserve(std::min<uint64_t>(n, kReserveCap));
      for (uint64_t i = 0; i < n && dec.ok(); ++i) arr.push_back(read_any(dec, depth + 1));
      return Any(std::move(arr));
    }
    case 116: return Any(dec.read_var_bytes());
    default:
      if (dec.ok()) dec.fail("unknown any tag");
      return {};
  }
}

std::string js_number_to_string(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  if (d == 0) return "0";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string_view s(buf, static_cast<size_t>(r.ptr - buf));
  std::string out;
  if (s[0] == '-') {
    out.push_back('-');
    s.remove_prefix(1);
  }
  size_t epos = s.find('e');
  std::string digits;
  for (char c : s.substr(0, epos))
    if (c != '.') digits.push_back(c);
  int e = 0;
  std::from_chars(s.data() + epos + 1 + (s[epos + 1] == '+' ? 1 : 0), s.data() + s.size(), e);
  int k = static_cast<int>(digits.size());
  int n = e + 1;
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out += digits.substr(0, static_cast<size_t>(n));
    out.push_back('.');
    out += digits.substr(static_cast<size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-n), '0');
    out += digits;
  } else {
    out.push_back(digits[0]);
    if (k > 1) {
      out.push_back('.');
      out += digits.substr(1);
    }
    out.push_back('e');
    out.push_back(n - 1 >= 0 ? '+' : '-');
    out += std::to_string(std::abs(n - 1));
  }
  return out;
}

static void append_escaped_unit(std::string& out, uint32_t c) {
  static const char* hex = "0123456789abcdef";
  switch (c) {
    case '"': out += "\\\""; return;
    case '\\': out += "\\\\"; return;
    case '\b': out += "\\b"; return;
    case '\f': out += "\\f"; return;
    case '\n': out += "\\n"; return;
    case '\r': out += "\\r"; return;
    case '\t': out += "\\t"; return;
    default:
      out += "\\u";
      for (int i = 3; i >= 0; --i) out.push_back(hex[(c >> (i * 4)) & 0xf]);
  }
}

void append_json_string(std::string& out, std::string_view utf8) {
  out.push_back('"');
  for (char ch : utf8) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == '"' || c == '\\')
      append_escaped_unit(out, c);
    else
      out.push_back(ch);
  }
  out.push_back('"');
}

void append_json_string16(std::string& out, std::u16string_view s) {
  out.push_back('"');
  size_t start = 0;
  auto flush = [&](size_t end) {
    if (end > start) append_utf16_as_utf8(out, s.substr(start, end - start));
  };
  for (size_t i = 0; i < s.size(); ++i) {
    char16_t c = s[i];
    bool lone = false;
    if (c >= 0xd800 && c <= 0xdbff) {
      if (i + 1 < s.size() && s[i + 1] >= 0xdc00 && s[i + 1] <= 0xdfff) {
        ++i;
        continue;
      }
      lone = true;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      lone = true;
    }
    if (lone || c < 0x20 || c == '"' || c == '\\') {
      flush(i);
      append_escaped_unit(out, c);
      start = i + 1;
    }
  }
  flush(s.size());
  out.push_back('"');
}

bool append_json(std::string& out, const Any& a) {
  struct V {
    std::string& out;
    bool operator()(const Undefined&) { return false; }
    bool operator()(const Null&) {
      out += "null";
      return true;
    }
    bool operator()(bool b) {
      out += b ? "true" : "false";
      return true;
    }
    bool operator()(double d) {
      out += std::isfinite(d) ? js_number_to_string(d) : "null";
      return true;
    }
    bool operator()(const BigInt& b) {
      out += std::to_string(b.v);  // JSON.stringify would throw; be lenient
      return true;
    }
    bool operator()(const std::string& s) {
      append_json_string(out, s);
      return true;
    }
    bool operator()(const Bytes& b) {  // a Uint8Array stringifies as {"0":..}
      out.push_back('{');
      for (size_t i = 0; i < b.size(); ++i) {
        if (i) out.push_back(',');
        out += '"' + std::to_string(i) + "\":" + std::to_string(b[i]);
      }
      out.push_back('}');
      return true;
    }
    bool operator()(const AnyArray& arr) {
      out.push_back('[');
      for (size_t i = 0; i < arr.size(); ++i) {
        if (i) out.push_back(',');
        if (!append_json(out, arr[i])) out += "null";
      }
      out.push_back(']');
      return true;
    }
    bool operator()(const AnyObject& obj) {
      out.push_back('{');
      bool first = true;
      for (auto& [k, x] : obj) {
        if (x.is_undefined()) continue;
        if (!first) out.push_back(',');
        first = false;
        append_json_string(out, k);
        out.push_back(':');
        append_json(out, x);
      }
      out.push_back('}');
      return true;
    }
  };
  return std::visit(V{out}, a.v);
}

std::string to_json(const Any& a) {
  std::string s;
  if (!append_json(s, a)) return "undefined";
  return s;
}

namespace {

class JsonParser {
 public:
  JsonParser(std::string_view t, bool allow_undefined) : t_(t), allow_undefined_(allow_undefined) {}

  Result<Any> parse() {
    skip_ws();
    Any v = value(0);
    skip_ws();
    if (err_.empty() && i_ != t_.size()) err_ = "trailing characters";
    if (!err_.empty()) return fail(Errc::kInvalidArgument, "invalid JSON: {}", err_);
    return v;
  }

 private:
  void skip_ws() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r')) ++i_;
  }
  bool lit(std::string_view w) {
    if (t_.substr(i_, w.size()) == w) {
      i_ += w.size();
      return true;
    }
    return false;
  }
  Any value(int depth) {
    if (depth > kMaxDepth) {
      err_ = "nested too deeply";
      return {};
    }
    if (i_ >= t_.size()) {
      err_ = "unexpected end";
      return {};
    }
    char c = t_[i_];
    if (c == '{') {
      ++i_;
      AnyObject obj;
      skip_ws();
      if (i_ < t_.size() && t_[i_] == '}') {
        ++i_;
        return obj;
      }
      // Entries first, then one linear build (see object_from_entries).
      while (err_.empty()) {
        skip_ws();
        if (i_ >= t_.size() || t_[i_] != '"') {
          err_ = "expected key";
          break;
        }
        std::string k = str();
        skip_ws();
        if (i_ >= t_.size() || t_[i_] != ':') {
          err_ = "expected ':'";
          break;
        }
        ++i_;
        skip_ws();
        Any v = value(depth + 1);
        obj.emplace_back(std::move(k), std::move(v));
        skip_ws();
        if (i_ < t_.size() && t_[i_] == ',') {
          ++i_;
          continue;
        }
        if (i_ < t_.size() && t_[i_] == '}') {
          ++i_;
          break;
        }
        err_ = "expected ',' or '}'";
      }
      return object_from_entries(std::move(obj));
    }
    if (c == '[') {
      ++i_;
      AnyArray arr;
      skip_ws();
      if (i_ < t_.size() && t_[i_] == ']') {
        ++i_;
        return arr;
      }
      while (err_.empty()) {
        skip_ws();
        arr.push_back(value(depth + 1));
        skip_ws();
        if (i_ < t_.size() && t_[i_] == ',') {
          ++i_;
          continue;
        }
        if (i_ < t_.size() && t_[i_] == ']') {
          ++i_;
          break;
        }
        err_ = "expected ',' or ']'";
      }
      return arr;
    }
    if (c == '"') return Any(str());
    if (lit("true")) return Any(true);
    if (lit("false")) return Any(false);
    if (lit("null")) return Null{};
    if (depth == 0 && allow_undefined_ && lit("undefined")) return Undefined{};
    return number();
  }
  Any number() {
    size_t s = i_;
    if (i_ < t_.size() && t_[i_] == '-') ++i_;
    if (i_ >= t_.size() || !isdigit(static_cast<unsigned char>(t_[i_]))) {
      err_ = "unexpected character";
      return {};
    }
    if (t_[i_] == '0') {
      ++i_;
    } else {
      while (i_ < t_.size() && isdigit(static_cast<unsigned char>(t_[i_]))) ++i_;
    }
    if (i_ < t_.size() && t_[i_] == '.') {
      ++i_;
      size_t d = i_;
      while (i_ < t_.size() && isdigit(static_cast<unsigned char>(t_[i_]))) ++i_;
      if (d == i_) err_ = "bad number";
    }
    if (i_ < t_.size() && (t_[i_] == 'e' || t_[i_] == 'E')) {
      ++i_;
      if (i_ < t_.size() && (t_[i_] == '+' || t_[i_] == '-')) ++i_;
      size_t d = i_;
      while (i_ < t_.size() && isdigit(static_cast<unsigned char>(t_[i_]))) ++i_;
      if (d == i_) err_ = "bad number";
    }
    double v = 0;
    std::from_chars(t_.data() + s, t_.data() + i_, v);
    return Any(v);
  }
  unsigned hex4() {
    if (i_ + 4 > t_.size()) {
      err_ = "bad escape";
      return 0;
    }
    unsigned v = 0;
    for (int k = 0; k < 4; ++k) {
      char h = t_[i_++];
      v <<= 4;
      if (h >= '0' && h <= '9') v |= static_cast<unsigned>(h - '0');
      else if (h >= 'a' && h <= 'f') v |= static_cast<unsigned>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') v |= static_cast<unsigned>(h - 'A' + 10);
      else err_ = "bad escape";
    }
    return v;
  }
  std::string str() {
    ++i_;  // opening quote
    std::u16string u;
    std::string out;
    auto flush16 = [&] {
      if (!u.empty()) {
        append_utf16_as_utf8(out, u);
        u.clear();
      }
    };
    while (err_.empty()) {
      if (i_ >= t_.size()) {
        err_ = "unterminated string";
        break;
      }
      char c = t_[i_];
      if (c == '"') {
        ++i_;
        break;
      }
      if (static_cast<unsigned char>(c) < 0x20) {
        err_ = "control character in string";
        break;
      }
      if (c == '\\') {
        ++i_;
        if (i_ >= t_.size()) {
          err_ = "bad escape";
          break;
        }
        char e = t_[i_++];
        switch (e) {
          case '"': flush16(); out.push_back('"'); break;
          case '\\': flush16(); out.push_back('\\'); break;
          case '/': flush16(); out.push_back('/'); break;
          case 'b': flush16(); out.push_back('\b'); break;
          case 'f': flush16(); out.push_back('\f'); break;
          case 'n': flush16(); out.push_back('\n'); break;
          case 'r': flush16(); out.push_back('\r'); break;
          case 't': flush16(); out.push_back('\t'); break;
          case 'u': u.push_back(static_cast<char16_t>(hex4())); break;
          default: err_ = "bad escape";
        }
        continue;
      }
      flush16();
      out.push_back(c);
      ++i_;
    }
    flush16();
    return out;
  }

  std::string_view t_;
  bool allow_undefined_;
  size_t i_ = 0;
  std::string err_;
};

}  // namespace

Result<Any> parse_json(std::string_view text, bool allow_undefined) {
  if (!valid_utf8(text)) return fail(Errc::kInvalidArgument, "invalid JSON: not UTF-8");
  return JsonParser(text, allow_undefined).parse();
}

}  // namespace blobsync::crdt
