#include "crdt/xml.h"

#include <algorithm>

#include "crdt/array.h"
#include "crdt/doc.h"
#include "crdt/map.h"
#include "crdt/text.h"
#include "crdt/type_json.h"

namespace blobsync::crdt {

Branch* XmlFragmentRef::insert_element(uint64_t index, std::string node_name) {
  return ArrayRef(b_).insert_type(index, TypeRef::kXmlElement, std::move(node_name));
}
Branch* XmlFragmentRef::insert_text(uint64_t index) { return ArrayRef(b_).insert_type(index, TypeRef::kXmlText); }
bool XmlFragmentRef::remove(uint64_t index, uint64_t len) { return ArrayRef(b_).remove(index, len); }
void XmlFragmentRef::set_attribute(const std::string& key, Any value) { MapRef(b_).set(key, std::move(value)); }
std::string XmlFragmentRef::to_string() const { return xml_to_string(b_); }

namespace {

// JS String(value) for attribute values.
std::string js_string(const Any& a) {
  if (auto* s = std::get_if<std::string>(&a.v)) return *s;
  if (auto* d = std::get_if<double>(&a.v)) return js_number_to_string(*d);
  if (auto* b = std::get_if<bool>(&a.v)) return *b ? "true" : "false";
  if (a.is_null()) return "null";
  if (a.is_undefined()) return "undefined";
  if (auto* arr = std::get_if<AnyArray>(&a.v)) {
    std::string out;
    for (size_t i = 0; i < arr->size(); ++i) {
      if (i) out += ',';
      if (!(*arr)[i].is_null() && !(*arr)[i].is_undefined()) out += js_string((*arr)[i]);
    }
    return out;
  }
  return "[object Object]";
}

std::string lower(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

std::string children_to_string(const Branch* b) {
  std::string out;
  for (const Item* p = b->start; p; p = p->right) {
    if (!p->visible()) continue;
    if (p->content.ref() == ContentRef::kType) {
      out += xml_to_string(p->content.x().branch);
    } else if (p->content.ref() == ContentRef::kAny || p->content.ref() == ContentRef::kJson) {
      for (auto& v : p->content.values()) out += js_string(v);
    }
  }
  return out;
}

}  // namespace

std::string xml_to_string(const Branch* b) {
  if (!b) return {};
  switch (b->type_ref) {
    case TypeRef::kXmlElement: {
      std::vector<std::pair<std::string, std::string>> attrs;
      for (auto& [k, it] : b->map)
        if (it && !it->deleted() && it->content.ref() == ContentRef::kAny)
          attrs.emplace_back(k, js_string(it->content.x().values.back()));
      std::sort(attrs.begin(), attrs.end());
      std::string name = lower(b->node_name);
      std::string out = "<" + name;
      for (auto& [k, v] : attrs) out += " " + k + "=\"" + v + "\"";
      out += ">" + children_to_string(b) + "</" + name + ">";
      return out;
    }
    case TypeRef::kXmlText: {
      std::string out;
      for (auto& op : TextRef(const_cast<Branch*>(b)).to_delta()) {
        std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>> nodes;
        for (auto& [name, v] : op.attributes) {
          // JS `for (key in value)`: own keys of objects, indices of
          // strings (one UTF-16 unit each) and arrays; none for primitives.
          std::vector<std::pair<std::string, std::string>> as;
          if (auto* o = std::get_if<AnyObject>(&v.v)) {
            for (auto& [k, x] : *o)
              if (!x.is_undefined() || true) as.emplace_back(k, js_string(x));
          } else if (auto* str = std::get_if<std::string>(&v.v)) {
            std::u16string u = utf8_to_utf16(*str);
            for (size_t i = 0; i < u.size(); ++i) as.emplace_back(std::to_string(i), utf16_to_utf8(u.substr(i, 1)));
          } else if (auto* arr = std::get_if<AnyArray>(&v.v)) {
            for (size_t i = 0; i < arr->size(); ++i) as.emplace_back(std::to_string(i), js_string((*arr)[i]));
          }
          std::sort(as.begin(), as.end(), [](auto& a, auto& c) { return a.first < c.first; });
          nodes.emplace_back(name, std::move(as));
        }
        std::sort(nodes.begin(), nodes.end(), [](auto& a, auto& c) { return a.first < c.first; });
        for (auto& [name, as] : nodes) {
          out += "<" + name;
          for (auto& [k, v] : as) out += " " + k + "=\"" + v + "\"";
          out += ">";
        }
        if (op.embed)
          out += js_string(*op.embed);
        else if (op.type)
          out += xml_to_string(op.type);
        else
          out += utf16_to_utf8(op.text);
        for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) out += "</" + it->first + ">";
      }
      return out;
    }
    case TypeRef::kXmlFragment: return children_to_string(b);
    case TypeRef::kXmlHook: return "[object Object]";
    default: return branch_to_json(b);
  }
}

}  // namespace blobsync::crdt
