// Forward declarations of the store's classes, for headers that only hold
// them by reference or pointer (as <iosfwd> does for streams).
//
// Thread safety: declarations only.
#pragma once

namespace blobsync {
class BlobStore;
class BlobLifecycle;
}  // namespace blobsync
