// TextRef: editing API of a Y.Text (yjs YText): insert (with formatting
// attributes), embeds, format, delete, toString. Indices and lengths count
// UTF-16 code units. Formatting is stored as Format marker items exactly
// like yjs (attribute start/end markers).
//
// Thread safety: as the owning Doc (single thread at a time).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "crdt/list.h"

namespace blobsync::crdt {

struct DeltaOp {
  // Exactly one of these is used: text, an embed value, or a nested type.
  std::u16string text;
  std::optional<Any> embed;
  const Branch* type = nullptr;
  AnyObject attributes;
};

class TextRef {
 public:
  explicit TextRef(Branch* b = nullptr) : b_(b) {}
  Branch* branch() const { return b_; }
  explicit operator bool() const { return b_ != nullptr; }
  uint64_t length() const { return b_ ? b_->length : 0; }

  // Out-of-range indices are rejected (false). With attributes the text
  // gets exactly those (null values remove); without, it continues the
  // formatting at the position.
  bool insert(uint64_t index, std::u16string_view text, const std::optional<AnyObject>& attributes = std::nullopt);
  bool insert_utf8(uint64_t index, std::string_view text, const std::optional<AnyObject>& attributes = std::nullopt);
  bool insert_embed(uint64_t index, Any embed, const std::optional<AnyObject>& attributes = std::nullopt);
  Branch* insert_type(uint64_t index, TypeRef type, std::string node_name = {});
  bool format(uint64_t index, uint64_t len, const AnyObject& attributes);
  bool remove(uint64_t index, uint64_t len);

  std::u16string to_u16string() const;
  std::string to_string() const;
  std::vector<DeltaOp> to_delta() const;
  std::string to_json() const;

 private:
  Branch* b_;
};

}  // namespace blobsync::crdt
