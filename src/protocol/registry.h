// BlobRegistry: reads and writes the `_blobRegistry` Y.Map of a room's
// document, which says which servers hold which blob:
//
//   _blobRegistry: Y.Map<"sha256:<hex>", {holders: string[], size, chunkCount}>
//
// A server's identity is its public sync URL (e.g. ws://host:3913/sync).
// Each server only ever adds or removes ITSELF. Because an entry is a plain
// JSON value, two concurrent set()s of one key are last-writer-wins and can
// drop a holder; reconcile() repairs that: run after every remote change, it
// re-adds this server wherever it holds the blob but is missing, so the
// registry converges (docs/protocol.md, "Why the registry converges").
//
// Thread safety: these functions use the Doc, which is single-threaded:
// call them on the thread (strand) that owns the document.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/digest.h"

namespace blobsync::crdt {
class Doc;
}

namespace blobsync::protocol {

inline constexpr char kRegistryMap[] = "_blobRegistry";

struct RegistryEntry {
  std::vector<std::string> holders;
  std::uint64_t size = 0;
  std::uint64_t chunk_count = 0;
  bool operator==(const RegistryEntry&) const = default;
};

// The entry for a blob, if present and well-formed (malformed entries written
// by buggy peers are treated as absent, never as an error).
std::optional<RegistryEntry> registry_get(crdt::Doc& doc, const Digest& hash);

// Every well-formed entry, in key order.
std::vector<std::pair<Digest, RegistryEntry>> registry_entries(crdt::Doc& doc);

// Adds self_url to the blob's holders (creating the entry). Returns true if
// the document changed. `origin` tags the transaction.
bool registry_announce(crdt::Doc& doc, const Digest& hash, std::uint64_t size, std::uint64_t chunk_count,
                       const std::string& self_url, const void* origin = nullptr);

// Removes self_url from the blob's holders. The key stays, with no holders
// if self_url was the last one: only apps delete keys (a deleted key releases
// the blob on every server; a server's view of "last holder" may be stale).
// Returns true if the document changed.
bool registry_withdraw(crdt::Doc& doc, const Digest& hash, const std::string& self_url, const void* origin = nullptr);

// Every blob the registry has a key for ("sha256:<hex>"), whatever its
// value: an entry keeps its blob on this server (a hold, room_holds.h) even
// when a buggy peer wrote it malformed. In hash order.
std::vector<Digest> registry_keys(crdt::Doc& doc);
// Whether the registry has a key for the blob (see registry_keys).
bool registry_has_key(crdt::Doc& doc, const Digest& hash);

struct HeldBlob {
  Digest hash;
  std::uint64_t size = 0;
  std::uint64_t chunk_count = 0;
};

// Repairs this server's own entries: re-adds self_url to every entry whose blob
// holds(hash) says we have but which lacks us, removes self_url from entries
// of blobs we do not have, and re-creates the entries of `ours` (blobs this
// server announced in this room) whose key vanished. Returns the number of
// entries changed.
// verified(hash): the store's own size and chunk count of a held blob. A
// re-add writes those, never the entry's: its size is whatever a client
// wrote (nullopt: that re-add waits for the next reconcile).
std::size_t registry_reconcile(crdt::Doc& doc, const std::string& self_url,
                               const std::function<bool(const Digest&)>& holds,
                               const std::function<std::optional<HeldBlob>(const Digest&)>& verified,
                               const std::vector<HeldBlob>& ours = {}, const void* origin = nullptr);

}  // namespace blobsync::protocol
