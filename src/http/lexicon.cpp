#include "http/lexicon.h"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "http/lexicon_schemas.h"
#include "http/record_syntax.h"
#include "http/tid.h"

namespace blobsync::http {

namespace json = boost::json;

namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Decodes the code point at s[i] (valid UTF-8: the JSON parser checked it).
char32_t next_cp(std::string_view s, std::size_t& i) {
  auto b = static_cast<unsigned char>(s[i]);
  int n = b < 0x80 ? 0 : b < 0xE0 ? 1 : b < 0xF0 ? 2 : 3;
  char32_t cp = n == 0 ? b : n == 1 ? (b & 0x1F) : n == 2 ? (b & 0x0F) : (b & 0x07);
  ++i;
  for (int k = 0; k < n && i < s.size(); ++k, ++i) cp = (cp << 6) | (static_cast<unsigned char>(s[i]) & 0x3F);
  return cp;
}

// Code points that extend the grapheme before them.
bool extends(char32_t c) {
  return (c >= 0x0300 && c <= 0x036F) || (c >= 0x0483 && c <= 0x0489) || (c >= 0x0591 && c <= 0x05C7) ||
         (c >= 0x0610 && c <= 0x061A) || (c >= 0x064B && c <= 0x065F) || (c >= 0x1AB0 && c <= 0x1AFF) ||
         (c >= 0x1DC0 && c <= 0x1DFF) || (c >= 0x20D0 && c <= 0x20FF) || (c >= 0xFE20 && c <= 0xFE2F) ||
         (c >= 0xFE00 && c <= 0xFE0F) || (c >= 0x1160 && c <= 0x11FF) || c == 0x200C || c == 0x200D ||
         (c >= 0x1F3FB && c <= 0x1F3FF) || (c >= 0xE0020 && c <= 0xE007F) || (c >= 0xE0100 && c <= 0xE01EF);
}

// --- string formats (the syntax checks of @atproto/syntax, simplified) ---

bool valid_datetime(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM), RFC 3339 and ISO 8601 both.
  auto digits = [&](std::size_t at, std::size_t n) {
    if (at + n > s.size()) return false;
    for (std::size_t k = at; k < at + n; ++k)
      if (!is_digit(s[k])) return false;
    return true;
  };
  if (s.size() > 64 || !digits(0, 4) || s.size() < 20 || s[4] != '-' || !digits(5, 2) || s[7] != '-' ||
      !digits(8, 2) || s[10] != 'T' || !digits(11, 2) || s[13] != ':' || !digits(14, 2) || s[16] != ':' ||
      !digits(17, 2))
    return false;
  int month = (s[5] - '0') * 10 + (s[6] - '0'), day = (s[8] - '0') * 10 + (s[9] - '0');
  int hour = (s[11] - '0') * 10 + (s[12] - '0'), minute = (s[14] - '0') * 10 + (s[15] - '0');
  int second = (s[17] - '0') * 10 + (s[18] - '0');
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return false;
  std::size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    std::size_t start = ++i;
    while (i < s.size() && is_digit(s[i])) ++i;
    if (i == start) return false;
  }
  std::string_view zone = s.substr(i);
  if (zone == "Z") return true;
  if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') || zone[3] != ':' || zone == "-00:00") return false;
  return is_digit(zone[1]) && is_digit(zone[2]) && is_digit(zone[4]) && is_digit(zone[5]);
}

bool valid_uri(std::string_view s) {
  // /^\w+:(?:\/\/)?[^\s/][^\s]*$/ as @atproto/syntax's isValidUri.
  std::size_t i = 0;
  while (i < s.size() && (is_alnum(s[i]) || s[i] == '_')) ++i;
  if (i == 0 || i >= s.size() || s[i] != ':') return false;
  std::string_view rest = s.substr(i + 1);
  if (rest.starts_with("//")) rest.remove_prefix(2);
  if (rest.empty() || rest[0] == '/') return false;
  return std::none_of(rest.begin(), rest.end(), is_space);
}

bool valid_did(std::string_view s) {
  if (s.size() > 2048 || !s.starts_with("did:")) return false;
  std::size_t i = 4, start = 4;
  while (i < s.size() && s[i] >= 'a' && s[i] <= 'z') ++i;
  if (i == start || i >= s.size() || s[i] != ':' || i + 1 >= s.size()) return false;
  for (std::size_t k = i + 1; k < s.size(); ++k) {
    char c = s[k];
    if (!is_alnum(c) && c != '.' && c != '_' && c != ':' && c != '%' && c != '-') return false;
  }
  return s.back() != ':' && s.back() != '%';
}

bool valid_handle(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  std::size_t labels = 0, start = 0;
  while (start <= s.size()) {
    std::size_t end = s.find('.', start);
    if (end == std::string_view::npos) end = s.size();
    std::string_view label = s.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label)
      if (!is_alnum(c) && c != '-') return false;
    ++labels;
    if (end == s.size()) return labels >= 2 && is_alpha(label.front());
    start = end + 1;
  }
  return false;
}

bool valid_at_uri(std::string_view s) {
  if (s.size() > 8192 || !s.starts_with("at://")) return false;
  std::string_view rest = s.substr(5);
  std::size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  if (!valid_did(authority) && !valid_handle(authority)) return false;
  return std::none_of(rest.begin(), rest.end(), is_space);
}

bool valid_cid_string(std::string_view s) {
  // Syntax only: base32 multibase (b...), base58btc (z... or a CIDv0 Qm...).
  if (s.size() < 8 || s.size() > 256) return false;
  auto all = [&](std::size_t from, auto pred) { return std::all_of(s.begin() + from, s.end(), pred); };
  if (s[0] == 'b') return all(1, [](char c) { return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'); });
  auto b58 = [](char c) { return is_alnum(c) && c != '0' && c != 'O' && c != 'I' && c != 'l'; };
  if (s[0] == 'z') return all(1, b58);
  return s.size() == 46 && s.starts_with("Qm") && all(0, b58);
}

bool valid_language(std::string_view s) {
  // BCP 47, loosely: a 2-3 letter primary tag (or i-/x-), then -subtags.
  if (s.empty() || s.size() > 128) return false;
  std::size_t i = 0;
  while (i < s.size() && is_alpha(s[i])) ++i;
  bool grandfathered = i == 1 && (s[0] == 'i' || s[0] == 'x');
  if (!grandfathered && (i < 2 || i > 3)) return false;
  while (i < s.size()) {
    if (s[i] != '-') return false;
    std::size_t start = ++i;
    while (i < s.size() && is_alnum(s[i])) ++i;
    if (i == start || i - start > 8) return false;
  }
  return true;
}

std::optional<std::string_view> format_problem(std::string_view format, std::string_view v) {
  if (format == "datetime")
    return valid_datetime(v) ? std::nullopt
                             : std::optional<std::string_view>("must be an valid atproto datetime (both RFC-3339 and "
                                                               "ISO-8601)");
  if (format == "uri") return valid_uri(v) ? std::nullopt : std::optional<std::string_view>("must be a uri");
  if (format == "at-uri")
    return valid_at_uri(v) ? std::nullopt : std::optional<std::string_view>("must be a valid at-uri");
  if (format == "did") return valid_did(v) ? std::nullopt : std::optional<std::string_view>("must be a valid did");
  if (format == "handle")
    return valid_handle(v) ? std::nullopt : std::optional<std::string_view>("must be a valid handle");
  if (format == "at-identifier")
    return valid_did(v) || valid_handle(v) ? std::nullopt
                                           : std::optional<std::string_view>("must be a valid did or a handle");
  if (format == "nsid") return valid_nsid(v) ? std::nullopt : std::optional<std::string_view>("must be a valid nsid");
  if (format == "cid")
    return valid_cid_string(v) ? std::nullopt : std::optional<std::string_view>("must be a cid string");
  if (format == "language")
    return valid_language(v) ? std::nullopt
                             : std::optional<std::string_view>("must be a well-formed BCP 47 language tag");
  if (format == "tid") return is_valid_tid(v) ? std::nullopt : std::optional<std::string_view>("must be a valid TID");
  if (format == "record-key")
    return valid_rkey(v) ? std::nullopt : std::optional<std::string_view>("must be a valid Record Key");
  return std::nullopt;  // a format this table does not use: unchecked
}

// "nsid", "nsid#name", "lex:nsid..." -> "nsid#name".
std::string normalize_ref(std::string_view t) {
  if (t.starts_with("lex:")) t.remove_prefix(4);
  std::string out(t);
  if (out.find('#') == std::string::npos) out += "#main";
  return out;
}

std::optional<std::int64_t> int_of(const json::value* v) {
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return v->as_uint64() > static_cast<std::uint64_t>(INT64_MAX) ? INT64_MAX
                                                                                      : static_cast<std::int64_t>(v->as_uint64());
  return std::nullopt;
}

std::string join(const json::array& a, std::string_view sep) {
  std::string out;
  for (const auto& x : a) {
    if (!out.empty()) out += sep;
    out += x.is_string() ? std::string(x.as_string()) : json::serialize(x);
  }
  return out;
}

bool contains_string(const json::value* arr, std::string_view s) {
  if (!arr || !arr->is_array()) return false;
  return std::any_of(arr->as_array().begin(), arr->as_array().end(),
                     [&](const json::value& x) { return x.is_string() && x.as_string() == s; });
}

// One validation: `path` grows and shrinks with the walk (errors format it).
class Walk {
 public:
  Walk(const std::unordered_map<std::string, json::object>& defs, std::vector<LexiconBlobSlot>& blobs)
      : defs_(defs), blobs_(blobs) {}

  std::string path = "Record";
  std::string error;

  bool object(const json::object& def, const json::value& v) {
    if (!v.is_object()) return fail("must be an object");
    return properties(def, v.as_object());
  }

  bool properties(const json::object& def, const json::object& o) {
    const auto* props = def.if_contains("properties");
    if (!props || !props->is_object()) return true;
    const auto* required = def.if_contains("required");
    const auto* nullable = def.if_contains("nullable");
    for (const auto& [key, prop_def] : props->as_object()) {
      const auto* x = o.if_contains(key);
      if (x && x->is_null() && contains_string(nullable, key)) continue;
      if (!x) {
        bool has_default = prop_def.is_object() && prop_def.as_object().contains("default");
        if (contains_string(required, key) && !has_default)
          return fail(fmt::format("must have the property \"{}\"", std::string_view(key)));
        continue;
      }
      std::size_t mark = push(key);
      if (!prop_def.is_object() || !one_of(prop_def.as_object(), *x)) return false;
      path.resize(mark);
    }
    return true;
  }

 private:
  bool fail(std::string_view what) {
    error = fmt::format("{} {}", path, what);
    return false;
  }

  std::size_t push(std::string_view segment) {
    std::size_t mark = path.size();
    path += '/';
    path += segment;
    return mark;
  }

  const json::object* lookup(const std::string& key) {
    auto it = defs_.find(key);
    return it == defs_.end() ? nullptr : &it->second;
  }

  // A property or item definition: ref and union resolve to a definition.
  bool one_of(const json::object& def, const json::value& v) {
    const auto* type = def.if_contains("type");
    std::string_view t = type && type->is_string() ? std::string_view(type->as_string()) : "";
    if (t == "ref") {
      const auto* ref = def.if_contains("ref");
      const json::object* target = ref && ref->is_string() ? lookup(std::string(ref->as_string())) : nullptr;
      if (!target) return true;  // the generator resolved every ref; a table without it checks nothing
      return value(*target, v);
    }
    if (t == "union") {
      const json::value* vt = v.is_object() ? v.as_object().if_contains("$type") : nullptr;
      if (!vt || !vt->is_string()) return fail("must be an object which includes the \"$type\" property");
      std::string key = normalize_ref(vt->as_string());
      const auto* refs = def.if_contains("refs");
      if (!contains_string(refs, key)) {
        const auto* closed = def.if_contains("closed");
        if (closed && closed->is_bool() && closed->as_bool())
          return fail(fmt::format("$type must be one of {}", refs && refs->is_array() ? join(refs->as_array(), ", ") : ""));
        return true;  // an open union: a type this table does not know passes
      }
      const auto* target = lookup(key);
      return !target || value(*target, v);
    }
    return value(def, v);
  }

  bool value(const json::object& def, const json::value& v) {
    const auto* type = def.if_contains("type");
    std::string_view t = type && type->is_string() ? std::string_view(type->as_string()) : "";
    if (t == "object") return object(def, v);
    if (t == "array") return array(def, v);
    if (t == "blob") return blob(def, v);
    if (t == "string") return string(def, v);
    if (t == "integer") return integer(def, v);
    if (t == "boolean") {
      if (!v.is_bool()) return fail("must be a boolean");
      const auto* c = def.if_contains("const");
      if (c && c->is_bool() && c->as_bool() != v.as_bool()) return fail(fmt::format("must be {}", c->as_bool()));
      return true;
    }
    if (t == "unknown") return v.is_object() || v.is_array() ? true : fail("must be an object");
    if (t == "cid-link") {
      const json::value* link = v.is_object() ? v.as_object().if_contains("$link") : nullptr;
      if (!link || !link->is_string() || !valid_cid_string(link->as_string())) return fail("must be a CID");
      return true;
    }
    if (t == "bytes") return bytes(def, v);
    if (t == "null") return v.is_null() ? true : fail("must be null");
    return true;  // token, params...: not record value types
  }

  bool array(const json::object& def, const json::value& v) {
    if (!v.is_array()) return fail("must be an array");
    const auto& a = v.as_array();
    if (auto max = int_of(def.if_contains("maxLength")); max && std::cmp_greater(a.size(), *max))
      return fail(fmt::format("must not have more than {} elements", *max));
    if (auto min = int_of(def.if_contains("minLength")); min && std::cmp_less(a.size(), *min))
      return fail(fmt::format("must not have fewer than {} elements", *min));
    const auto* items = def.if_contains("items");
    if (!items || !items->is_object()) return true;
    for (std::size_t i = 0; i < a.size(); ++i) {
      std::size_t mark = push(std::to_string(i));
      if (!one_of(items->as_object(), a[i])) return false;
      path.resize(mark);
    }
    return true;
  }

  bool blob(const json::object& def, const json::value& v) {
    // {"$type":"blob","ref":{"$link":CID},"mimeType":string,"size":integer}
    // (the typed form @atproto/lexicon turns into a BlobRef).
    const json::object* o = v.is_object() ? &v.as_object() : nullptr;
    const json::value* type = o ? o->if_contains("$type") : nullptr;
    const json::value* ref = o ? o->if_contains("ref") : nullptr;
    const json::value* link = ref && ref->is_object() ? ref->as_object().if_contains("$link") : nullptr;
    const json::value* mime = o ? o->if_contains("mimeType") : nullptr;
    if (!type || !type->is_string() || type->as_string() != "blob" || !link || !link->is_string() ||
        !valid_cid_string(link->as_string()) || !mime || !mime->is_string() || !int_of(o->if_contains("size")))
      return fail("should be a blob ref");
    LexiconBlobSlot slot{path, std::string(link->as_string()), {}, std::nullopt};
    if (const auto* accept = def.if_contains("accept"); accept && accept->is_array())
      for (const auto& a : accept->as_array())
        if (a.is_string()) slot.accept.emplace_back(a.as_string());
    if (auto max = int_of(def.if_contains("maxSize")); max && *max >= 0) slot.max_size = static_cast<std::uint64_t>(*max);
    blobs_.push_back(std::move(slot));
    return true;
  }

  bool string(const json::object& def, const json::value& v) {
    if (!v.is_string()) return fail("must be a string");
    std::string_view s = v.as_string();
    if (const auto* c = def.if_contains("const"); c && c->is_string() && c->as_string() != s)
      return fail(fmt::format("must be {}", std::string_view(c->as_string())));
    if (const auto* e = def.if_contains("enum"); e && e->is_array() && !contains_string(e, s))
      return fail(fmt::format("must be one of ({})", join(e->as_array(), "|")));
    if (auto max = int_of(def.if_contains("maxLength")); max && std::cmp_greater(s.size(), *max))
      return fail(fmt::format("must not be longer than {} characters", *max));
    if (auto min = int_of(def.if_contains("minLength")); min && std::cmp_less(s.size(), *min))
      return fail(fmt::format("must not be shorter than {} characters", *min));
    auto max_g = int_of(def.if_contains("maxGraphemes"));
    auto min_g = int_of(def.if_contains("minGraphemes"));
    // Graphemes never outnumber bytes: a short enough string skips the count.
    if ((max_g && std::cmp_greater(s.size(), *max_g)) || min_g) {
      std::size_t n = approx_graphemes(s);
      if (max_g && std::cmp_greater(n, *max_g)) return fail(fmt::format("must not be longer than {} graphemes", *max_g));
      if (min_g && std::cmp_less(n, *min_g)) return fail(fmt::format("must not be shorter than {} graphemes", *min_g));
    }
    if (const auto* f = def.if_contains("format"); f && f->is_string())
      if (auto problem = format_problem(f->as_string(), s)) return fail(*problem);
    return true;
  }

  bool integer(const json::object& def, const json::value& v) {
    std::optional<std::int64_t> n = int_of(&v);
    if (!n && v.is_double()) {
      double d = v.as_double();  // 1.0 is an integer to JavaScript
      if (d == static_cast<double>(static_cast<std::int64_t>(d)) && d > -9.2e18 && d < 9.2e18)
        n = static_cast<std::int64_t>(d);
    }
    if (!n) return fail("must be an integer");
    if (auto c = int_of(def.if_contains("const")); c && *c != *n) return fail(fmt::format("must be {}", *c));
    if (const auto* e = def.if_contains("enum"); e && e->is_array()) {
      bool found = std::any_of(e->as_array().begin(), e->as_array().end(),
                               [&](const json::value& x) { return int_of(&x) == n; });
      if (!found) return fail(fmt::format("must be one of ({})", join(e->as_array(), "|")));
    }
    if (auto max = int_of(def.if_contains("maximum")); max && *n > *max)
      return fail(fmt::format("can not be greater than {}", *max));
    if (auto min = int_of(def.if_contains("minimum")); min && *n < *min)
      return fail(fmt::format("can not be less than {}", *min));
    return true;
  }

  bool bytes(const json::object& def, const json::value& v) {
    const json::value* b = v.is_object() ? v.as_object().if_contains("$bytes") : nullptr;
    if (!b || !b->is_string()) return fail("must be a byte array");
    std::string_view s = b->as_string();
    while (!s.empty() && s.back() == '=') s.remove_suffix(1);
    std::size_t n = s.size() * 3 / 4;
    if (auto max = int_of(def.if_contains("maxLength")); max && std::cmp_greater(n, *max))
      return fail(fmt::format("must not be larger than {} bytes", *max));
    if (auto min = int_of(def.if_contains("minLength")); min && std::cmp_less(n, *min))
      return fail(fmt::format("must not be smaller than {} bytes", *min));
    return true;
  }

  const std::unordered_map<std::string, json::object>& defs_;
  std::vector<LexiconBlobSlot>& blobs_;
};

}  // namespace

std::size_t approx_graphemes(std::string_view s) {
  std::size_t n = 0, i = 0;
  bool after_zwj = false, pending_ri = false;
  while (i < s.size()) {
    char32_t cp = next_cp(s, i);
    bool ri = cp >= 0x1F1E6 && cp <= 0x1F1FF;
    if (extends(cp) || after_zwj || (ri && pending_ri)) {
      after_zwj = cp == 0x200D;
      if (ri) pending_ri = false;
      continue;
    }
    ++n;
    after_zwj = false;
    pending_ri = ri;
  }
  return n;
}

bool mime_accepted(std::string_view mime, const std::vector<std::string>& accept) {
  auto lower = [](std::string_view x) {
    std::string out(x);
    for (auto& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    return out;
  };
  std::string m = lower(mime);
  for (const auto& pattern : accept) {
    std::string p = lower(pattern);
    if (p == "*/*" || p == m) return true;
    if (p.ends_with("/*") && m.starts_with(std::string_view(p).substr(0, p.size() - 1))) return true;
  }
  return false;
}

Lexicons::Lexicons(std::span<const char* const> defs) {
  for (const char* text : defs) {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    const json::value* id = !ec && v.is_object() ? v.as_object().if_contains("id") : nullptr;
    const json::value* def = !ec && v.is_object() ? v.as_object().if_contains("def") : nullptr;
    if (!id || !id->is_string() || !def || !def->is_object()) {
      std::fprintf(stderr, "lexicon table: malformed entry %.80s\n", text);
      std::abort();
    }
    defs_.emplace(std::string(id->as_string()), def->as_object());
  }
}

const Lexicons& Lexicons::builtin() {
  static const Lexicons table(std::span<const char* const>(kLexiconDefs, kLexiconDefCount));
  return table;
}

bool Lexicons::knows_record(std::string_view nsid) const {
  auto it = defs_.find(std::string(nsid) + "#main");
  if (it == defs_.end()) return false;
  const auto* type = it->second.if_contains("type");
  return type && type->is_string() && type->as_string() == "record";
}

std::expected<std::vector<LexiconBlobSlot>, std::string> Lexicons::validate_record(
    std::string_view nsid, const json::object& record) const {
  std::vector<LexiconBlobSlot> blobs;
  auto it = defs_.find(std::string(nsid) + "#main");
  if (it == defs_.end()) return std::unexpected(fmt::format("Lexicon not found: lex:{}", nsid));
  const auto* schema = it->second.if_contains("record");
  if (!schema || !schema->is_object()) return blobs;
  Walk walk(defs_, blobs);
  if (!walk.properties(schema->as_object(), record)) return std::unexpected(walk.error);
  return blobs;
}

}  // namespace blobsync::http
