#include "protocol/registry.h"

#include <algorithm>

#include "core/blob_id.h"
#include "crdt/any.h"
#include "crdt/doc.h"
#include "crdt/map.h"

namespace blobsync::protocol {

namespace {

std::optional<std::uint64_t> as_count(const crdt::Any* a) {
  if (!a) return std::nullopt;
  auto* d = std::get_if<double>(&a->v);
  if (!d || *d < 0 || *d > 9007199254740991.0 || *d != static_cast<double>(static_cast<std::uint64_t>(*d)))
    return std::nullopt;
  return static_cast<std::uint64_t>(*d);
}

std::optional<RegistryEntry> parse_entry(const crdt::Any& value) {
  auto* obj = std::get_if<crdt::AnyObject>(&value.v);
  if (!obj) return std::nullopt;
  RegistryEntry entry;
  auto size = as_count(crdt::object_get(*obj, "size"));
  auto chunks = as_count(crdt::object_get(*obj, "chunkCount"));
  auto* holders = crdt::object_get(*obj, "holders");
  auto* list = holders ? std::get_if<crdt::AnyArray>(&holders->v) : nullptr;
  if (!size || !chunks || !list) return std::nullopt;
  entry.size = *size;
  entry.chunk_count = *chunks;
  for (const auto& h : *list)
    if (auto* s = std::get_if<std::string>(&h.v)) entry.holders.push_back(*s);
  return entry;
}

crdt::Any to_any(const RegistryEntry& e) {
  crdt::AnyArray holders;
  for (const auto& h : e.holders) holders.emplace_back(h);
  crdt::AnyObject obj;
  crdt::object_set(obj, "holders", crdt::Any(std::move(holders)));
  crdt::object_set(obj, "size", crdt::Any(static_cast<double>(e.size)));
  crdt::object_set(obj, "chunkCount", crdt::Any(static_cast<double>(e.chunk_count)));
  return crdt::Any(std::move(obj));
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

std::optional<RegistryEntry> registry_get(crdt::Doc& doc, const Digest& hash) {
  auto map = doc.get_map(kRegistryMap);
  if (!map) return std::nullopt;
  auto value = map.get_value(to_hash_ref(hash));
  if (!value) return std::nullopt;
  return parse_entry(*value);
}

std::vector<std::pair<Digest, RegistryEntry>> registry_entries(crdt::Doc& doc) {
  std::vector<std::pair<Digest, RegistryEntry>> out;
  auto map = doc.get_map(kRegistryMap);
  if (!map) return out;
  for (const auto& key : map.keys()) {
    auto digest = parse_blob_id(key);
    if (!digest || !key.starts_with("sha256:")) continue;
    auto value = map.get_value(key);
    if (!value) continue;
    if (auto entry = parse_entry(*value)) out.emplace_back(*digest, std::move(*entry));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

std::vector<Digest> registry_keys(crdt::Doc& doc) {
  std::vector<Digest> out;
  auto map = doc.get_map(kRegistryMap);
  if (!map) return out;
  for (const auto& key : map.keys()) {
    if (!key.starts_with("sha256:")) continue;
    if (auto digest = parse_blob_id(key)) out.push_back(*digest);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool registry_has_key(crdt::Doc& doc, const Digest& hash) {
  auto map = doc.get_map(kRegistryMap);
  return map && map.has(to_hash_ref(hash));
}

bool registry_announce(crdt::Doc& doc, const Digest& hash, std::uint64_t size, std::uint64_t chunk_count,
                       const std::string& self_url, const void* origin) {
  auto current = registry_get(doc, hash);
  if (current && contains(current->holders, self_url) && current->size == size && current->chunk_count == chunk_count)
    return false;
  RegistryEntry entry = current.value_or(RegistryEntry{});
  if (!contains(entry.holders, self_url)) entry.holders.push_back(self_url);
  entry.size = size;
  entry.chunk_count = chunk_count;
  auto map = doc.get_map(kRegistryMap);
  if (!map) return false;
  doc.transact([&](crdt::Transaction&) { map.set(to_hash_ref(hash), crdt::Prelim(to_any(entry))); }, origin);
  return true;
}

bool registry_withdraw(crdt::Doc& doc, const Digest& hash, const std::string& self_url, const void* origin) {
  auto current = registry_get(doc, hash);
  if (!current || !contains(current->holders, self_url)) return false;
  auto map = doc.get_map(kRegistryMap);
  if (!map) return false;
  std::erase(current->holders, self_url);
  // The key stays even with no holder left: deleting a key is the app's
  // decision (it releases the blob on every server, room_holds.h), and a
  // server that thought it was the last holder may be wrong.
  doc.transact([&](crdt::Transaction&) { map.set(to_hash_ref(hash), crdt::Prelim(to_any(*current))); }, origin);
  return true;
}

std::size_t registry_reconcile(crdt::Doc& doc, const std::string& self_url,
                               const std::function<bool(const Digest&)>& holds,
                               const std::function<std::optional<HeldBlob>(const Digest&)>& verified,
                               const std::vector<HeldBlob>& ours, const void* origin) {
  std::size_t changed = 0;
  for (const auto& blob : ours)
    if (!registry_get(doc, blob.hash) && holds(blob.hash))
      changed += registry_announce(doc, blob.hash, blob.size, blob.chunk_count, self_url, origin);
  for (const auto& [hash, entry] : registry_entries(doc)) {
    bool listed = contains(entry.holders, self_url);
    bool have = holds(hash);
    if (have && !listed) {
      if (auto v = verified(hash)) changed += registry_announce(doc, hash, v->size, v->chunk_count, self_url, origin);
    } else if (!have && listed) changed += registry_withdraw(doc, hash, self_url, origin);
  }
  return changed;
}

}  // namespace blobsync::protocol
