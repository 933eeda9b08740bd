#include "crdt/type_json.h"

#include <algorithm>

#include "crdt/any.h"
#include "crdt/doc.h"
#include "crdt/text.h"
#include "crdt/xml.h"

namespace blobsync::crdt {

void append_js_object(std::string& out, std::vector<std::pair<std::string, std::string>> members) {
  // JS objects enumerate integer-like keys first, ascending.
  std::stable_sort(members.begin(), members.end(), [](auto& a, auto& b) {
    bool ai = is_array_index_key(a.first), bi = is_array_index_key(b.first);
    if (ai != bi) return ai;
    if (ai) return a.first.size() != b.first.size() ? a.first.size() < b.first.size() : a.first < b.first;
    return false;
  });
  out.push_back('{');
  bool first = true;
  for (auto& [k, v] : members) {
    if (!first) out.push_back(',');
    first = false;
    append_json_string(out, k);
    out.push_back(':');
    out += v;
  }
  out.push_back('}');
}

// JSON of a value, or "undefined" where JSON has none (callers skip or null it).
static std::string any_json(const Any& v) {
  std::string s;
  if (!append_json(s, v)) s = "undefined";
  return s;
}

// JSON of a content's last value (maps) or all values (lists).
static void append_content_values(std::vector<std::string>& vals, const Content& c) {
  switch (c.ref()) {
    case ContentRef::kAny:
    case ContentRef::kJson:
      for (auto& v : c.values()) vals.push_back(any_json(v));
      break;
    case ContentRef::kBinary: vals.push_back(any_json(Any(c.x().bytes))); break;
    case ContentRef::kEmbed: vals.push_back(any_json(c.x().value)); break;
    case ContentRef::kString:
      for (char16_t ch : c.str()) {
        std::string s;
        append_json_string16(s, std::u16string_view(&ch, 1));
        vals.push_back(std::move(s));
      }
      break;
    case ContentRef::kType: {
      std::string s;
      if (!append_branch_json(s, c.x().branch)) s = "undefined";
      vals.push_back(std::move(s));
      break;
    }
    case ContentRef::kDoc: vals.push_back("{}"); break;
    default: break;
  }
}

bool append_branch_json(std::string& out, const Branch* b) {
  if (!b) return false;
  switch (b->type_ref) {
    case TypeRef::kMap:
    case TypeRef::kXmlHook: {  // a hook is a map underneath
      std::vector<std::pair<std::string, std::string>> members;
      for (const std::string* k : b->key_order) {
        auto it = b->map.find(*k);
        if (it == b->map.end() || !it->second || it->second->deleted()) continue;
        std::vector<std::string> vals;
        append_content_values(vals, it->second->content);
        if (vals.empty() || vals.back() == "undefined") continue;
        members.emplace_back(*k, std::move(vals.back()));
      }
      append_js_object(out, std::move(members));
      return true;
    }
    case TypeRef::kArray: {
      out.push_back('[');
      bool first = true;
      for (const Item* p = b->start; p; p = p->right) {
        if (!p->visible()) continue;
        std::vector<std::string> vals;
        append_content_values(vals, p->content);
        for (auto& v : vals) {
          if (!first) out.push_back(',');
          first = false;
          out += v == "undefined" ? "null" : v;
        }
      }
      out.push_back(']');
      return true;
    }
    case TypeRef::kText: append_json_string16(out, TextRef(const_cast<Branch*>(b)).to_u16string()); return true;
    case TypeRef::kXmlFragment:
    case TypeRef::kXmlElement:
    case TypeRef::kXmlText: append_json_string(out, xml_to_string(b)); return true;
    default: return false;
  }
}

std::string branch_to_json(const Branch* b) {
  std::string s;
  if (!append_branch_json(s, b)) return "null";
  return s;
}

std::string Doc::to_json() const {
  std::vector<std::pair<std::string, std::string>> members;
  for (const std::string* name : root_order_) {
    const Branch* b = share_.at(*name).get();
    std::string s;
    if (append_branch_json(s, b)) members.emplace_back(*name, std::move(s));
  }
  std::string out;
  append_js_object(out, std::move(members));
  return out;
}

}  // namespace blobsync::crdt
