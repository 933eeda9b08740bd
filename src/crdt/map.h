// MapRef: editing API of a Y.Map (yjs YMap): set, delete, get, keys.
//
// Thread safety: as the owning Doc (single thread at a time).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "crdt/list.h"

namespace blobsync::crdt {

class Doc;

class MapRef {
 public:
  explicit MapRef(Branch* b = nullptr) : b_(b) {}
  Branch* branch() const { return b_; }
  explicit operator bool() const { return b_ != nullptr; }

  void set(const std::string& key, Prelim value);
  // Creates a nested type under key and returns it.
  Branch* set_type(const std::string& key, TypeRef type, std::string node_name = {});
  void remove(const std::string& key);
  bool has(const std::string& key) const;
  // The current value item (null if unset or deleted).
  const Item* get(const std::string& key) const;
  std::optional<Any> get_value(const std::string& key) const;  // plain values only
  std::vector<std::string> keys() const;  // live keys in JS Map order
  size_t size() const { return keys().size(); }
  std::string to_json() const;

 private:
  Branch* b_;
};

}  // namespace blobsync::crdt
