// ID: the identity of one element inserted into a Yjs document, the pair
// (client id, clock). Client ids up to 53 bits are accepted from peers.
//
// Thread safety: plain value.
#pragma once

#include <cstdint>

namespace blobsync::crdt {

struct ID {
  uint64_t client = 0;
  uint64_t clock = 0;
  bool operator==(const ID&) const = default;
};

}  // namespace blobsync::crdt
