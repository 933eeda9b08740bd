#include "crdt/root_types.h"

#include "crdt/doc.h"

namespace blobsync::crdt {

namespace {

TypeRef guess_type(const Branch* b) {
  if (!b->map.empty()) return TypeRef::kMap;
  bool text = false, xml = false;
  for (const Item* p = b->start; p; p = p->right) {
    ContentRef r = p->content.ref();
    if (r == ContentRef::kString || r == ContentRef::kFormat || r == ContentRef::kEmbed) text = true;
    if (r == ContentRef::kType &&
        (p->content.x().type_ref == TypeRef::kXmlElement || p->content.x().type_ref == TypeRef::kXmlText))
      xml = true;
  }
  if (text) return TypeRef::kText;
  if (xml) return TypeRef::kXmlFragment;
  return TypeRef::kArray;
}

}  // namespace

Result<> resolve_root_types(Doc& doc, const RootTypes& declared) {
  auto declare = [&](const std::vector<std::string>& names, TypeRef type, const char* flag) -> Result<> {
    for (const auto& name : names)
      if (!doc.get(name, type)) return fail(Errc::kInvalidArgument, "root '{}' cannot be read as {}", name, flag);
    return {};
  };
  if (auto r = declare(declared.maps, TypeRef::kMap, "--map"); !r) return r;
  if (auto r = declare(declared.arrays, TypeRef::kArray, "--array"); !r) return r;
  if (auto r = declare(declared.texts, TypeRef::kText, "--text"); !r) return r;
  if (auto r = declare(declared.xmls, TypeRef::kXmlFragment, "--xml"); !r) return r;
  for (const std::string* name : doc.root_names()) {
    Branch* b = doc.root(*name);
    if (b->type_ref == TypeRef::kUnknown) b->type_ref = guess_type(b);
  }
  return {};
}

}  // namespace blobsync::crdt
