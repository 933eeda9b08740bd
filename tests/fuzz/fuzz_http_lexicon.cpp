// Fuzz target: the lexicon validator (http/lexicon.h) over record bodies as
// createRecord reads them: parse with the server's JSON limits, then validate
// the "record" member against the lexicon its "collection" names (or
// app.bsky.feed.post when that is not a known record). Invariants: no crash,
// no unbounded recursion, every returned blob slot names a path under
// "Record" and a non-empty CID, and an error is always a message about a
// path ("Record...").
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "http/json_util.h"
#include "http/lexicon.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace blobsync::http;
  Request req;
  req.headers.emplace_back("content-type", "application/json");
  req.body.assign(reinterpret_cast<const char*>(data), size);
  auto body = parse_json_body(req);
  if (!body) return 0;
  const auto& lexicons = Lexicons::builtin();
  std::string nsid = "app.bsky.feed.post";
  if (auto c = body->if_contains("collection"); c && c->is_string() && lexicons.knows_record(c->as_string()))
    nsid = std::string(c->as_string());
  const auto* record = body->if_contains("record");
  const boost::json::object& target = record && record->is_object() ? record->as_object() : *body;
  auto r = lexicons.validate_record(nsid, target);
  if (!r) {
    FUZZ_CHECK(r.error().starts_with("Record"));
    return 0;
  }
  for (const auto& slot : *r) {
    FUZZ_CHECK(slot.path.starts_with("Record/"));
    FUZZ_CHECK(!slot.cid.empty());
    (void)mime_accepted("image/png", slot.accept);
  }
  return 0;
}
