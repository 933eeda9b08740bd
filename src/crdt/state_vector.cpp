#include "crdt/state_vector.h"

namespace blobsync::crdt {

void write_state_vector(Encoder& enc, const StateVector& sv) {
  enc.write_var_uint(sv.size());
  for (auto& [client, clock] : sv) {
    enc.write_var_uint(client);
    enc.write_var_uint(clock);
  }
}

Bytes encode_state_vector(const StateVector& sv) {
  Encoder enc;
  write_state_vector(enc, sv);
  return enc.take();
}

StateVector read_state_vector(Decoder& dec) {
  StateVector sv;
  uint64_t n = dec.read_count();
  for (uint64_t i = 0; i < n && dec.ok(); ++i) {
    uint64_t client = dec.read_var_uint();
    uint64_t clock = dec.read_var_uint();
    if (dec.ok()) sv[client] = clock;
  }
  return sv;
}

Result<StateVector> decode_state_vector(ByteView data) {
  Decoder dec(data);
  StateVector sv = read_state_vector(dec);
  if (!dec.ok()) return fail(Errc::kInvalidArgument, "invalid state vector: {}", dec.error());
  return sv;
}

std::string state_vector_to_json(const StateVector& sv) {
  std::string out = "{";
  bool first = true;
  for (auto it = sv.rbegin(); it != sv.rend(); ++it) {
    if (!first) out.push_back(',');
    first = false;
    out += '"' + std::to_string(it->first) + "\":" + std::to_string(it->second);
  }
  out.push_back('}');
  return out;
}

}  // namespace blobsync::crdt
