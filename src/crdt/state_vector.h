// StateVector: for each client, the next clock expected from it (the number
// of elements seen). Encoded as varUint(n) then (client, clock) pairs with
// client ids in descending order, as yjs writes them.
//
// Thread safety: plain value.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "crdt/lib0.h"

namespace blobsync::crdt {

using StateVector = std::map<uint64_t, uint64_t, std::greater<>>;

inline uint64_t sv_get(const StateVector& sv, uint64_t client) {
  auto it = sv.find(client);
  return it == sv.end() ? 0 : it->second;
}

Bytes encode_state_vector(const StateVector& sv);
void write_state_vector(Encoder& enc, const StateVector& sv);
Result<StateVector> decode_state_vector(ByteView data);
StateVector read_state_vector(Decoder& dec);
// {"<client>": clock, ...} with clients ascending (JS object order for ints).
std::string state_vector_to_json(const StateVector& sv);

}  // namespace blobsync::crdt
