// RoomHolds: a room's _blobRegistry entries keep their blobs on this server.
//
// Each key "sha256:<hex>" in a room's registry is a hold "room:<room>@<url>"
// in the store's blob lifecycle (store/blob_lifecycle.h), whatever the
// entry says and whether or not the blob is here yet; the hold goes when the
// key does. The order makes a crash harmless:
//   - a change that adds keys: the holds are written (on the RoomStore's
//     thread, run_between) before the delta's append; if that fails the
//     append is refused too, so an entry is never durable without its hold;
//   - a change that removes keys: the holds go after the delta's commit, and
//     only if it committed, so a hold is never gone while its entry may
//     still be there after a crash.
// A crash in between leaves a hold whose entry never became durable; the
// room's next load from the store makes the holds equal to its registry.
//
// The keys held are also kept in memory, so a change that only rewrites
// entries (a holder added or removed) writes nothing.
//
// Thread safety: not thread-safe; used on the owning room's strand (or the
// thread doing an offline edit). The queued work runs on the RoomStore's thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "core/digest.h"
#include "core/error.h"

namespace blobsync {
class BlobLifecycle;
}
namespace blobsync::crdt {
class Doc;
}

namespace blobsync::sync {

class RoomStore;

// "room:<room>@<self url>": one server's room, so servers sharing one
// metadata database each keep their own holds.
std::string room_holder(std::string_view room, std::string_view self_url);

class RoomHolds {
 public:
  // REQUIRES: lifecycle and store outlive the object.
  RoomHolds(RoomStore& store, BlobLifecycle& lifecycle, std::string holder)
      : store_(store), lifecycle_(lifecycle), holder_(std::move(holder)) {}

  // After a load: the keys of `doc` are what is held. write: make the
  // lifecycle's holds equal to them (a load from the store); false: they
  // already are (a room un-parked in this process).
  void loaded(crdt::Doc& doc, bool write);

  // Call with the registry keys a change touched (RoomEffects::registry_keys)
  // before its deltas are appended; returns what those appends require
  // (null when nothing new is held). Then call after_append() once the
  // deltas are queued.
  std::shared_ptr<const Result<>> before_append(crdt::Doc& doc, const std::vector<std::string>& changed_keys);
  void after_append();

  // Writes the hold of `hash` again if the registry has its key, whatever
  // memory says (the sweeper's withdrawal: its next step must see the hold
  // if the entry is still there, even if the database lost it).
  void rehold_if_listed(crdt::Doc& doc, const Digest& hash);

  const std::string& holder() const { return holder_; }

 private:
  RoomStore& store_;
  BlobLifecycle& lifecycle_;
  std::string holder_;
  std::unordered_set<Digest> held_;
  std::vector<Digest> removed_;                   // between before_append and after_append
  std::shared_ptr<const Result<>> precondition_;  // likewise
};

}  // namespace blobsync::sync
