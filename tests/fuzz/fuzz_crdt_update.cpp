// libFuzzer target: decode and apply a Yjs update (v1 or v2) and run the
// doc-free utilities on it. Input: one mode byte, then the update.
//   bit 0: v2 format   bit 1: apply twice   bit 2: merge/diff utilities
//   bits 3-4: type roots as map / array / text / xml when printing JSON
// Any input must give an error or a valid document: a document that took
// the update must re-encode to a state that loads, and to the same JSON
// unless structs still wait for their dependencies (the state carries them,
// as yjs's does, and a fresh document may integrate them differently; yjs
// 13.6 gives the same different text for those inputs). "The same JSON" is
// compared as values: roots (and map keys) are listed in the order the
// update named them, and the state lists clients in descending order, so
// the copy may list them in another order, as yjs's copy does.
// And the work must stay linear in the input (issue 18): the CRDT's inner
// loops count their steps (crdt/work_meter.h); more than kWorkPerByte per
// input byte (plus kWorkBase) means a superlinear path, reported as a crash
// (seed: corpus/crdt_update/hostile_object_keys, which cost O(N^2) before).
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "crdt/doc.h"
#include "crdt/updates.h"
#include "crdt/work_meter.h"

using namespace blobsync::crdt;

namespace {
// Applied up to three times (twice, then its re-encoding into a copy) plus
// the merge/diff utilities: linear work stays far below this.
constexpr uint64_t kWorkPerByte = 64;
constexpr uint64_t kWorkBase = 4096;

void check_work(size_t size) {
  uint64_t steps = work_steps();
  if (steps > kWorkPerByte * size + kWorkBase) {
    std::fprintf(stderr, "superlinear work: %llu steps for %zu input bytes (bound %llu)\n",
                 static_cast<unsigned long long>(steps), size,
                 static_cast<unsigned long long>(kWorkPerByte * size + kWorkBase));
    std::abort();
  }
}
// Equal as JSON values (object members in any order); as text if either
// does not parse (Boost.JSON refuses escaped lone surrogates).
bool same_json(const std::string& a, const std::string& b) {
  boost::system::error_code ea, eb;
  boost::json::value va = boost::json::parse(a, ea), vb = boost::json::parse(b, eb);
  if (ea || eb) return a == b;
  return va == vb;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  work_reset();
  const uint8_t mode = data[0];
  ByteView u(data + 1, size - 1);
  const UpdateFormat fmt = (mode & 1) ? UpdateFormat::kV2 : UpdateFormat::kV1;
  const TypeRef as[] = {TypeRef::kMap, TypeRef::kArray, TypeRef::kText, TypeRef::kXmlFragment};
  Doc doc(1);
  // Fuzzed bytes: refusing them is a fine outcome; the doc must stay usable.
  (void)doc.apply_update(u, nullptr, fmt);
  if (mode & 2) (void)doc.apply_update(u, nullptr, fmt);
  for (const std::string* n : doc.root_names()) doc.get(*n, as[(mode >> 3) & 3]);
  std::string json = doc.to_json();
  Bytes state = doc.encode_state_as_update({}, fmt);
  Doc copy(2);
  if (!copy.apply_update(state, nullptr, fmt)) std::abort();  // our own output must load
  for (const std::string* n : copy.root_names()) copy.get(*n, as[(mode >> 3) & 3]);
  if (doc.pending_structs() == 0 && !same_json(copy.to_json(), json)) std::abort();
  if (mode & 4) {
    if (auto d = decode_update(u, fmt)) {
      std::vector<DecodedUpdate> parts;
      parts.push_back(std::move(*d));
      parts.push_back(*decode_update(u, fmt));
      DecodedUpdate merged = merge_updates(parts);
      Bytes enc = encode_update(diff_update(merged, doc.state_vector()), fmt);
      if (!decode_update(enc, fmt)) std::abort();
      (void)state_vector_from_update(merged);
    }
  }
  check_work(size);
  return 0;
}
