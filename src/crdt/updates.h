// Working with updates without a Doc (yjs utils/updates.js): merge several
// updates into one, diff an update against a state vector, the state vector
// an update covers, and v1 <-> v2 conversion.
//
// Thread safety: pure functions.
#pragma once

#include <vector>

#include "crdt/block.h"

namespace blobsync::crdt {

// Union of the updates: per client the covered clock ranges once (overlaps
// sliced off, gaps filled with Skip structs, adjacent GCs joined), and the
// union of the delete sets.
DecodedUpdate merge_updates(std::vector<DecodedUpdate>& updates);
// The part of `update` a peer at `sv` lacks; the whole delete set is kept.
DecodedUpdate diff_update(const DecodedUpdate& update, const StateVector& sv);
// Per client the clock reached by the run contiguous from clock 0.
StateVector state_vector_from_update(const DecodedUpdate& update);

Result<Bytes> merge_updates(const std::vector<ByteView>& updates, UpdateFormat fmt = UpdateFormat::kV1);
Result<Bytes> diff_update(ByteView update, ByteView encoded_sv, UpdateFormat fmt = UpdateFormat::kV1);
Result<Bytes> encode_state_vector_from_update(ByteView update, UpdateFormat fmt = UpdateFormat::kV1);
Result<Bytes> convert_update(ByteView update, UpdateFormat from, UpdateFormat to);

}  // namespace blobsync::crdt
