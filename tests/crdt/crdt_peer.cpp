// crdt_peer: drives blobsync::crdt documents from a line-based JSON protocol
// on stdin (one command per line, one JSON answer per line on stdout). Used
// by the Node differential harness (tests/interop/crdt/) to run the same
// random operations and update exchanges against yjs.
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "crdt/array.h"
#include "crdt/doc.h"
#include "crdt/map.h"
#include "crdt/text.h"
#include "crdt/updates.h"
#include "crdt/xml.h"

using namespace blobsync::crdt;

namespace {

const char* kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string b64(const Bytes& b) {
  std::string out;
  size_t i = 0;
  for (; i + 2 < b.size(); i += 3) {
    uint32_t v = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
    for (int k = 3; k >= 0; --k) out.push_back(kB64[(v >> (k * 6)) & 63]);
  }
  if (i + 1 == b.size()) {
    uint32_t v = b[i] << 16;
    out.push_back(kB64[(v >> 18) & 63]);
    out.push_back(kB64[(v >> 12) & 63]);
    out += "==";
  } else if (i + 2 == b.size()) {
    uint32_t v = (b[i] << 16) | (b[i + 1] << 8);
    out.push_back(kB64[(v >> 18) & 63]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(kB64[(v >> 6) & 63]);
    out += "=";
  }
  return out;
}

Bytes unb64(const std::string& s) {
  Bytes out;
  uint32_t v = 0;
  int n = 0;
  for (char c : s) {
    const char* p = std::strchr(kB64, c);
    if (c == '=' || !p || !c) continue;
    v = (v << 6) | static_cast<uint32_t>(p - kB64);
    if (++n == 4) {
      out.push_back(static_cast<uint8_t>(v >> 16));
      out.push_back(static_cast<uint8_t>(v >> 8));
      out.push_back(static_cast<uint8_t>(v));
      v = 0;
      n = 0;
    }
  }
  if (n == 2) out.push_back(static_cast<uint8_t>(v >> 4));
  if (n == 3) {
    out.push_back(static_cast<uint8_t>(v >> 10));
    out.push_back(static_cast<uint8_t>(v >> 2));
  }
  return out;
}

const Any* get(const Any& o, const char* k) {
  auto* obj = std::get_if<AnyObject>(&o.v);
  return obj ? object_get(*obj, k) : nullptr;
}
std::string str(const Any& o, const char* k) {
  auto* v = get(o, k);
  auto* s = v ? std::get_if<std::string>(&v->v) : nullptr;
  return s ? *s : std::string();
}
uint64_t num(const Any& o, const char* k) {
  auto* v = get(o, k);
  auto* d = v ? std::get_if<double>(&v->v) : nullptr;
  return d ? static_cast<uint64_t>(*d) : 0;
}

// {"$bin": base64} marks binary values inside op payloads.
Any decode_value(const Any& a) {
  if (auto* o = std::get_if<AnyObject>(&a.v)) {
    if (o->size() == 1 && (*o)[0].first == "$bin") return Any(unb64(std::get<std::string>((*o)[0].second.v)));
    AnyObject r;
    for (auto& [k, v] : *o) object_set(r, k, decode_value(v));
    return r;
  }
  if (auto* arr = std::get_if<AnyArray>(&a.v)) {
    AnyArray r;
    for (auto& v : *arr) r.push_back(decode_value(v));
    return r;
  }
  return a;
}

TypeRef type_of(const std::string& s) {
  if (s == "map") return TypeRef::kMap;
  if (s == "text") return TypeRef::kText;
  if (s == "xml") return TypeRef::kXmlFragment;
  return TypeRef::kArray;
}

struct Peer {
  std::unique_ptr<Doc> doc;
  std::vector<Bytes> updates;
};

// Resolves ["root", key|index, ...]; the root's kind comes from `kinds`.
Branch* resolve(Doc& doc, const Any& path, const std::map<std::string, std::string>& kinds) {
  auto* arr = std::get_if<AnyArray>(&path.v);
  if (!arr || arr->empty()) return nullptr;
  const std::string& root = std::get<std::string>((*arr)[0].v);
  auto k = kinds.find(root);
  Branch* b = doc.get(root, type_of(k == kinds.end() ? "map" : k->second));
  for (size_t i = 1; b && i < arr->size(); ++i) {
    const Any& seg = (*arr)[i];
    const Item* it = nullptr;
    if (auto* key = std::get_if<std::string>(&seg.v)) {
      it = MapRef(b).get(*key);
    } else if (auto* d = std::get_if<double>(&seg.v)) {
      auto idx = static_cast<uint64_t>(*d);
      for (const Item* p = b->start; p; p = p->right) {
        if (!p->visible()) continue;
        if (idx < p->len) {
          it = p;
          break;
        }
        idx -= p->len;
      }
    }
    if (!it || it->content.ref() != ContentRef::kType) return nullptr;
    b = it->content.x().branch;
  }
  return b;
}

const char* kind_name(TypeRef t) {
  switch (t) {
    case TypeRef::kMap: return "map";
    case TypeRef::kText: return "text";
    case TypeRef::kXmlFragment: return "xmlfragment";
    case TypeRef::kXmlElement: return "xmlelement";
    case TypeRef::kXmlText: return "xmltext";
    default: return "array";
  }
}

void list_types(const Branch* b, std::string path, std::string& out) {
  const char* kind = kind_name(b->type_ref);
  if (!out.empty() && out.back() != '[') out += ',';
  out += "{\"path\":" + path + "]" + ",\"kind\":\"" + kind + "\",\"len\":" + std::to_string(b->length);
  if (b->type_ref == TypeRef::kText || b->type_ref == TypeRef::kXmlText) {
    out += ",\"str\":";
    append_json_string16(out, TextRef(const_cast<Branch*>(b)).to_u16string());
  }
  out += "}";
  if (b->type_ref == TypeRef::kMap) {
    for (auto* k : b->key_order) {
      Item* it = b->map.at(*k);
      if (it && !it->deleted() && it->content.ref() == ContentRef::kType) {
        std::string p = path;
        p += ',';
        append_json_string(p, *k);
        list_types(it->content.x().branch, p, out);
      }
    }
  } else if (b->type_ref == TypeRef::kArray || b->type_ref == TypeRef::kXmlFragment || b->type_ref == TypeRef::kXmlElement) {
    uint64_t idx = 0;
    for (const Item* p = b->start; p; p = p->right) {
      if (!p->visible()) continue;
      if (p->content.ref() == ContentRef::kType)
        list_types(p->content.x().branch, path + "," + std::to_string(idx), out);
      idx += p->len;
    }
  }
}

}  // namespace

int main() {
  std::ios::sync_with_stdio(false);
  std::map<uint64_t, Peer> peers;
  std::map<std::string, std::string> kinds = {{"map", "map"}, {"arr", "array"}, {"text", "text"}, {"xml", "xml"}};
  std::string line;
  while (std::getline(std::cin, line)) {
    auto parsed = parse_json(line);
    if (!parsed) {
      std::cout << "{\"error\":\"bad command json\"}\n" << std::flush;
      continue;
    }
    const Any& c = *parsed;
    std::string cmd = str(c, "cmd");
    uint64_t id = num(c, "id");
    std::string out;
    if (cmd == "new") {
      Peer p;
      p.doc = std::make_unique<Doc>(num(c, "client"), get(c, "gc") == nullptr || std::get<bool>(get(c, "gc")->v));
      if (auto* roots = get(c, "roots")) {
        // [[name, kind], ...] declared in this order (sets toJSON key order)
        for (auto& r : std::get<AnyArray>(roots->v)) {
          auto& pair = std::get<AnyArray>(r.v);
          p.doc->get(std::get<std::string>(pair[0].v), type_of(std::get<std::string>(pair[1].v)));
        }
      } else {
        for (auto& [root, kind] : kinds) p.doc->get(root, type_of(kind));
      }
      peers[id] = std::move(p);
      Peer& pp = peers[id];
      pp.doc->on_update([&pp](const Bytes& u, const Transaction&) { pp.updates.push_back(u); });
      out = "{\"ok\":true}";
    } else if (cmd == "free") {
      peers.erase(id);
      out = "{\"ok\":true}";
    } else if (cmd == "merge") {
      // doc-free: merge a list of v1 updates
      std::vector<Bytes> ups;
      for (auto& u : std::get<AnyArray>(get(c, "updates")->v)) ups.push_back(unb64(std::get<std::string>(u.v)));
      std::vector<ByteView> views(ups.begin(), ups.end());
      auto r = merge_updates(views);
      out = r ? "{\"update\":\"" + b64(*r) + "\"}" : "{\"error\":" + to_json(Any(r.error().message)) + "}";
    } else if (cmd == "diff") {
      auto r = diff_update(unb64(str(c, "update")), unb64(str(c, "sv")));
      out = r ? "{\"update\":\"" + b64(*r) + "\"}" : "{\"error\":" + to_json(Any(r.error().message)) + "}";
    } else if (cmd == "svu") {
      auto r = encode_state_vector_from_update(unb64(str(c, "update")));
      out = r ? "{\"sv\":\"" + b64(*r) + "\"}" : "{\"error\":" + to_json(Any(r.error().message)) + "}";
    } else if (cmd == "quit") {
      break;
    } else {
      auto it = peers.find(id);
      if (it == peers.end()) {
        std::cout << "{\"error\":\"no such doc\"}\n" << std::flush;
        continue;
      }
      Doc& doc = *it->second.doc;
      if (cmd == "apply") {
        auto fmt = str(c, "fmt") == "v2" ? UpdateFormat::kV2 : UpdateFormat::kV1;
        auto r = doc.apply_update(unb64(str(c, "update")), nullptr, fmt);
        out = r ? "{\"ok\":true}" : "{\"error\":" + to_json(Any(r.error().message)) + "}";
      } else if (cmd == "json") {
        out = "{\"json\":" + to_json(Any(doc.to_json())) + "}";
      } else if (cmd == "sv") {
        out = "{\"sv\":\"" + b64(doc.encode_state_vector()) + "\"}";
      } else if (cmd == "state") {
        auto fmt = str(c, "fmt") == "v2" ? UpdateFormat::kV2 : UpdateFormat::kV1;
        auto r = doc.encode_state_as_update_for(unb64(str(c, "sv")), fmt);
        out = r ? "{\"update\":\"" + b64(*r) + "\"}" : "{\"error\":\"bad sv\"}";
      } else if (cmd == "ds") {
        out = "{\"ds\":" + doc.delete_set().to_json() + ",\"pending\":" + (doc.has_pending() ? "true" : "false") + "}";
      } else if (cmd == "updates") {
        out = "{\"updates\":[";
        auto& ups = it->second.updates;
        for (size_t i = 0; i < ups.size(); ++i) out += (i ? ",\"" : "\"") + b64(ups[i]) + "\"";
        out += "]}";
        ups.clear();
      } else if (cmd == "types") {
        out = "{\"types\":[";
        for (auto& [root, kind] : kinds) list_types(doc.get(root, type_of(kind)), "[" + to_json(Any(root)), out);
        out += "]}";
      } else if (cmd == "op") {
        const Any& op = *get(c, "op");
        std::string t = str(op, "type");
        Branch* b = resolve(doc, *get(op, "path"), kinds);
        bool ok = b != nullptr;
        if (ok) {
          if (t == "map_set") {
            MapRef(b).set(str(op, "key"), decode_value(*get(op, "value")));
          } else if (t == "map_set_type") {
            ok = MapRef(b).set_type(str(op, "key"), type_of(str(op, "kind"))) != nullptr;
          } else if (t == "map_delete") {
            MapRef(b).remove(str(op, "key"));
          } else if (t == "array_insert") {
            std::vector<Prelim> vals;
            for (auto& v : std::get<AnyArray>(get(op, "values")->v)) vals.emplace_back(decode_value(v));
            ok = ArrayRef(b).insert(num(op, "index"), vals);
          } else if (t == "array_insert_type") {
            ok = ArrayRef(b).insert_type(num(op, "index"), type_of(str(op, "kind"))) != nullptr;
          } else if (t == "array_delete") {
            ok = ArrayRef(b).remove(num(op, "index"), num(op, "len"));
          } else if (t == "text_insert") {
            std::optional<AnyObject> attrs;
            if (auto* a = get(op, "attrs")) attrs = std::get<AnyObject>(a->v);
            ok = TextRef(b).insert_utf8(num(op, "index"), str(op, "text"), attrs);
          } else if (t == "text_delete") {
            ok = TextRef(b).remove(num(op, "index"), num(op, "len"));
          } else if (t == "text_format") {
            ok = TextRef(b).format(num(op, "index"), num(op, "len"), std::get<AnyObject>(get(op, "attrs")->v));
          } else if (t == "xml_insert_element") {
            ok = XmlFragmentRef(b).insert_element(num(op, "index"), str(op, "name")) != nullptr;
          } else if (t == "xml_insert_text") {
            ok = XmlFragmentRef(b).insert_text(num(op, "index")) != nullptr;
          } else if (t == "xml_delete") {
            ok = XmlFragmentRef(b).remove(num(op, "index"), num(op, "len"));
          } else if (t == "xml_set_attr") {
            XmlFragmentRef(b).set_attribute(str(op, "key"), Any(str(op, "value")));
          } else {
            ok = false;
          }
        }
        out = ok ? "{\"ok\":true}" : "{\"error\":\"op failed\"}";
      } else {
        out = "{\"error\":\"unknown command\"}";
      }
    }
    std::cout << out << '\n' << std::flush;
  }
  return 0;
}
