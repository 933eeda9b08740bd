#include "sync/room_holds.h"

#include <spdlog/spdlog.h>

#include "core/blob_id.h"
#include "store/sql/blob_lifecycle.h"
#include "sync/registry.h"
#include "sync/room_store.h"

namespace blobsync::sync {

std::string room_holder(std::string_view room, std::string_view self_url) {
  return fmt::format("room:{}@{}", room, self_url);
}

std::shared_ptr<const Result<>> RoomHolds::before_append(crdt::Doc& doc, const std::vector<std::string>& changed_keys) {
  removed_.clear();
  if (!lifecycle_ || changed_keys.empty()) return nullptr;
  std::vector<Digest> added;
  for (const auto& key : changed_keys) {
    if (!key.starts_with("sha256:")) continue;
    auto digest = parse_blob_id(key);
    if (!digest) continue;
    (registry_has_key(doc, *digest) ? added : removed_).push_back(*digest);
  }
  if (added.empty()) return nullptr;
  auto result = std::make_shared<Result<>>();
  store_.run_between([lifecycle = lifecycle_, holder = holder_, added = std::move(added), result]() -> Result<> {
    *result = lifecycle->hold(holder, added);
    if (!*result)
      spdlog::error("sync: cannot hold {} blobs for {}: {} (the change is not stored)", added.size(), holder,
                    result->error().to_string());
    return *result;
  });
  return result;
}

void RoomHolds::after_append() {
  if (!lifecycle_ || removed_.empty()) return;
  store_.run_between([lifecycle = lifecycle_, holder = holder_, removed = std::move(removed_)]() -> Result<> {
    auto r = lifecycle->release(holder, removed);
    // A hold left behind only keeps a blob longer; the room's next load retries.
    if (!r) spdlog::warn("sync: cannot release {} blobs for {}: {}", removed.size(), holder, r.error().to_string());
    return r;
  });
  removed_.clear();
}

void RoomHolds::reconcile(crdt::Doc& doc) {
  if (!lifecycle_) return;
  store_.run_between([lifecycle = lifecycle_, holder = holder_, keys = registry_keys(doc)]() -> Result<> {
    auto r = lifecycle->set_holds(holder, keys);
    if (!r) spdlog::warn("sync: cannot reconcile the holds of {}: {}", holder, r.error().to_string());
    return r;
  });
}

}  // namespace blobsync::sync
