// Work meter: a per-thread count of the inner-loop steps of CRDT decoding
// and applying (key scans, conflict scans, struct moves). Tests and the fuzz
// oracle compare it with the input size to catch superlinear work; in
// production it is one add per loop step and nobody reads it.
//
// Thread safety: the counter is thread_local; each thread sees its own.
#pragma once

#include <cstdint>

namespace blobsync::crdt {

inline thread_local uint64_t t_work_steps = 0;

inline void work_add(uint64_t steps) { t_work_steps += steps; }
inline uint64_t work_steps() { return t_work_steps; }
inline void work_reset() { t_work_steps = 0; }

}  // namespace blobsync::crdt
