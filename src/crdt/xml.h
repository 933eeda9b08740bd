// XML types (yjs YXmlFragment, YXmlElement, YXmlText, YXmlHook). They are
// stored and re-encoded faithfully; the editing API is minimal (insert
// children, set attributes, text through TextRef) and toString matches yjs.
//
// Thread safety: as the owning Doc (single thread at a time).
#pragma once

#include <string>

#include "crdt/list.h"

namespace blobsync::crdt {

class XmlFragmentRef {
 public:
  explicit XmlFragmentRef(Branch* b = nullptr) : b_(b) {}
  Branch* branch() const { return b_; }
  explicit operator bool() const { return b_ != nullptr; }
  uint64_t length() const { return b_ ? b_->length : 0; }

  Branch* insert_element(uint64_t index, std::string node_name);
  Branch* insert_text(uint64_t index);  // returns an XmlText (use TextRef)
  bool remove(uint64_t index, uint64_t len = 1);
  // XmlElement attributes (values are strings in yjs practice).
  void set_attribute(const std::string& key, Any value);
  std::string to_string() const;

 private:
  Branch* b_;
};

// yjs toString() of any XML type (fragment, element, text, hook).
std::string xml_to_string(const Branch* b);

}  // namespace blobsync::crdt
