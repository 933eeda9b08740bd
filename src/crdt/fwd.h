// Forward declaration of crdt::Doc, for headers that only hold it by
// reference or pointer.
//
// Thread safety: declarations only.
#pragma once

namespace blobsync::crdt {
class Doc;
}  // namespace blobsync::crdt
