// Update format v1 field coding (the struct layout itself is in block.cpp and
// struct_writer.cpp, shared with v2).
#include "crdt/update_coder.h"
#include "crdt/update_v2.h"

namespace blobsync::crdt {

void UpdateEncoderV1::write_json(const Any& a) {
  std::string s;
  if (!append_json(s, a)) s = "undefined";
  rest_.write_var_string(s);
}

Any UpdateDecoderV1::read_json() {
  std::string s = rest_.read_var_string();
  if (!ok()) return {};
  auto v = parse_json(s, false);
  if (!v) {
    fail(v.error().message);
    return {};
  }
  return std::move(*v);
}

std::unique_ptr<UpdateEncoder> make_encoder(UpdateFormat f) {
  if (f == UpdateFormat::kV2) return std::make_unique<UpdateEncoderV2>();
  return std::make_unique<UpdateEncoderV1>();
}

std::unique_ptr<UpdateDecoder> make_decoder(UpdateFormat f, ByteView data) {
  if (f == UpdateFormat::kV2) return std::make_unique<UpdateDecoderV2>(data);
  return std::make_unique<UpdateDecoderV1>(data);
}

}  // namespace blobsync::crdt
