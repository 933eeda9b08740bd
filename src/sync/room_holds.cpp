#include "sync/room_holds.h"

#include <spdlog/spdlog.h>

#include "core/blob_id.h"
#include "store/blob_lifecycle.h"
#include "protocol/registry.h"
#include "sync/room_store.h"

namespace blobsync::sync {

std::string room_holder(std::string_view room, std::string_view self_url) {
  return fmt::format("room:{}@{}", room, self_url);
}

void RoomHolds::loaded(crdt::Doc& doc, bool write) {
  auto keys = protocol::registry_keys(doc);
  held_ = std::unordered_set<Digest>(keys.begin(), keys.end());
  if (!write) return;
  store_.run_between([lifecycle = &lifecycle_, holder = holder_, keys = std::move(keys)]() -> Result<> {
    auto r = lifecycle->set_holds(holder, keys);
    if (!r) spdlog::warn("sync: cannot reconcile the holds of {}: {}", holder, r.error().to_string());
    return r;
  });
}

std::shared_ptr<const Result<>> RoomHolds::before_append(crdt::Doc& doc, const std::vector<std::string>& changed_keys) {
  removed_.clear();
  precondition_.reset();
  std::vector<Digest> added;
  for (const auto& key : changed_keys) {
    if (!key.starts_with("sha256:")) continue;
    auto digest = parse_blob_id(key);
    if (!digest) continue;
    if (protocol::registry_has_key(doc, *digest)) {
      if (held_.insert(*digest).second) added.push_back(*digest);
    } else if (held_.erase(*digest)) {
      removed_.push_back(*digest);
    }
  }
  if (added.empty()) return nullptr;
  auto result = std::make_shared<Result<>>();
  store_.run_between([lifecycle = &lifecycle_, holder = holder_, added = std::move(added), result]() -> Result<> {
    *result = lifecycle->hold(holder, added);
    if (!*result)
      spdlog::error("sync: cannot hold {} blobs for {}: {} (the change is not stored)", added.size(), holder,
                    result->error().to_string());
    return *result;
  });
  precondition_ = result;
  return result;
}

void RoomHolds::rehold_if_listed(crdt::Doc& doc, const Digest& hash) {
  if (!protocol::registry_has_key(doc, hash)) return;
  held_.insert(hash);
  store_.run_between([lifecycle = &lifecycle_, holder = holder_, hash]() -> Result<> {
    auto r = lifecycle->hold(holder, std::span<const Digest>(&hash, 1));
    if (!r) spdlog::warn("sync: cannot hold {} for {}: {}", to_hash_ref(hash), holder, r.error().to_string());
    return r;
  });
}

void RoomHolds::after_append() {
  if (removed_.empty()) return;
  // Only once the removal is durable (after_commits), and not if its own
  // change was refused (the precondition).
  store_.run_between(
      [lifecycle = &lifecycle_, holder = holder_, removed = removed_]() -> Result<> {
        auto r = lifecycle->release(holder, removed);
        // A hold left behind only keeps a blob longer; the room's next load retries.
        if (!r) spdlog::warn("sync: cannot release {} blobs for {}: {}", removed.size(), holder, r.error().to_string());
        return r;
      },
      {}, precondition_, true);
  removed_.clear();
}

}  // namespace blobsync::sync
