// Fuzz target: identifiers that arrive in URLs and JSON: blob CIDs (and the
// bare hex of the plain API), handles, TIDs, collection NSIDs and record
// keys. A CID that parses must print and parse back to the same hash;
// accepted identifiers respect their length limits.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/blob_id.h"
#include "http/account_store.h"
#include "http/record_syntax.h"
#include "http/tid.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace blobsync;
  std::string_view s(reinterpret_cast<const char*>(data), size);
  for (auto parse : {&parse_blob_id, &parse_blob_id_or_hex}) {
    if (auto d = parse(s)) {
      auto round = parse_blob_id(to_cid(*d));
      if (!round || *round != *d) std::abort();
      auto hex = parse_blob_id_or_hex(d->hex());
      if (!hex || *hex != *d) std::abort();
    }
  }
  if (http::AccountStore::valid_handle(s) && (s.size() < 3 || s.size() > 253)) std::abort();
  if (http::is_valid_tid(s) && s.size() != 13) std::abort();
  if (http::valid_nsid(s) && (s.size() < 5 || s.size() > 317)) std::abort();
  if (http::valid_rkey(s) && (s.empty() || s.size() > 512)) std::abort();
  return 0;
}
