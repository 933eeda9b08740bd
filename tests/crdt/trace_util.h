// Editing-trace loading and replay helpers shared by trace tests and the
// benchmark (josephg/editing-traces format, gzip JSON).
#pragma once

#include <zlib.h>

#include <cstdint>
#include <string>
#include <vector>

#include "crdt/any.h"
#include "crdt/lib0.h"
#include "crdt/text.h"

namespace trace {

struct Patch {
  uint64_t pos;  // code points
  uint64_t del;
  std::u16string ins;
};
struct Txn {
  uint64_t agent = 0;
  std::vector<uint64_t> parents;
  std::vector<Patch> patches;
};
struct Trace {
  bool concurrent = false;
  uint64_t num_agents = 1;
  std::string end_content;
  std::vector<Txn> txns;
};

inline bool read_gz(const std::string& path, std::string& out) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) return false;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  gzclose(f);
  return n == 0;
}

inline bool load(const std::string& path, Trace& t) {
  using namespace blobsync::crdt;
  std::string text;
  if (!read_gz(path, text)) return false;
  auto parsed = parse_json(text);
  if (!parsed) return false;
  auto& root = std::get<AnyObject>(parsed->v);
  if (auto* k = object_get(root, "kind")) t.concurrent = std::get<std::string>(k->v) == "concurrent";
  if (auto* n = object_get(root, "numAgents")) t.num_agents = static_cast<uint64_t>(std::get<double>(n->v));
  t.end_content = std::get<std::string>(object_get(root, "endContent")->v);
  for (auto& tx : std::get<AnyArray>(object_get(root, "txns")->v)) {
    auto& o = std::get<AnyObject>(tx.v);
    Txn out;
    if (auto* a = object_get(o, "agent")) out.agent = static_cast<uint64_t>(std::get<double>(a->v));
    if (auto* p = object_get(o, "parents"))
      for (auto& x : std::get<AnyArray>(p->v)) out.parents.push_back(static_cast<uint64_t>(std::get<double>(x.v)));
    for (auto& p : std::get<AnyArray>(object_get(o, "patches")->v)) {
      auto& arr = std::get<AnyArray>(p.v);
      out.patches.push_back(Patch{static_cast<uint64_t>(std::get<double>(arr[0].v)),
                                  static_cast<uint64_t>(std::get<double>(arr[1].v)),
                                  utf8_to_utf16(std::get<std::string>(arr[2].v))});
    }
    t.txns.push_back(std::move(out));
  }
  return true;
}

// Converts a code point position to a UTF-16 index of s.
inline uint64_t cp_to_utf16(const std::u16string& s, uint64_t cp, bool has_surrogates) {
  if (!has_surrogates) return cp;
  uint64_t i = 0;
  while (cp > 0 && i < s.size()) {
    i += (s[i] >= 0xd800 && s[i] <= 0xdbff) ? 2 : 1;
    --cp;
  }
  return i;
}

inline bool has_surrogates(const std::u16string& s) {
  for (char16_t c : s)
    if (c >= 0xd800 && c <= 0xdfff) return true;
  return false;
}

// Applies one patch (delete then insert) to the text and to a mirror string.
inline void apply_patch(blobsync::crdt::TextRef& text, std::u16string& mirror, bool& surrogates, const Patch& p) {
  uint64_t pos = cp_to_utf16(mirror, p.pos, surrogates);
  if (p.del > 0) {
    uint64_t end = cp_to_utf16(mirror, p.pos + p.del, surrogates);
    if (!surrogates) end = pos + p.del;
    text.remove(pos, end - pos);
    mirror.erase(pos, end - pos);
  }
  if (!p.ins.empty()) {
    text.insert(pos, p.ins);
    mirror.insert(pos, p.ins);
    if (!surrogates && has_surrogates(p.ins)) surrogates = true;
  }
}

}  // namespace trace
