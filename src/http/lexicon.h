// Lexicons: record validation against ATProto lexicon schemas, as the
// reference PDS does it (@atproto/lexicon assertValidRecord) before it
// stores a record of a known lexicon. The schemas are the generated table
// of http/lexicon_schemas.h (the app.bsky.* records and what they reach).
//
// What is checked: object required/nullable properties; string (const,
// enum, maxLength/minLength in UTF-8 bytes, maxGraphemes/minGraphemes,
// formats datetime, uri, at-uri, did, handle, at-identifier, nsid, cid,
// language, tid, record-key); integer (const, enum, minimum, maximum);
// boolean (const); array (maxLength, minLength, items); ref; union (open:
// an unknown $type passes unchecked; closed: refused); unknown (an object);
// blob (a {"$type":"blob"} ref; its slot's accept/maxSize are returned, the
// store checks them against the stored blob); cid-link ({"$link": CID});
// bytes ({"$bytes": base64}, length approximated from the base64 length).
// Not checked: knownValues (open by definition), string defaults (not
// applied, the record is stored as sent), legacy {"cid","mimeType"} blobs
// (refused as "should be a blob ref"), exact CID decoding in formats (a
// syntax check only), and graphemes, which are approximated: every code
// point starts one except combining marks, joiners, variation selectors,
// emoji modifiers and tags, the code point after a ZWJ and the second of a
// regional-indicator pair (scripts with spacing marks count high).
//
// Cost: one walk of the record, each value visited once; the record's depth
// is bounded by the JSON parser (parse_json_body), strings are scanned once.
//
// Thread safety: a Lexicons is immutable after construction; builtin() is
// built once, on first use, thread-safely.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace blobsync::http {

// A blob in a lexicon's blob slot, with that slot's constraints.
struct LexiconBlobSlot {
  std::string path;                 // "Record/embed/images/0/image"
  std::string cid;                  // ref.$link
  std::vector<std::string> accept;  // MIME patterns; empty: any
  std::optional<std::uint64_t> max_size;
};

class Lexicons {
 public:
  // The generated table (lexicon_schemas.cpp).
  static const Lexicons& builtin();
  // From definitions of that form ({"id": "nsid#name", "def": {...}});
  // malformed entries are a programming error (std::abort with a message).
  explicit Lexicons(std::span<const char* const> defs);

  // Whether `nsid` names a record lexicon of the table.
  bool knows_record(std::string_view nsid) const;
  // Validates `record` against the record lexicon `nsid`. REQUIRES:
  // knows_record(nsid). Returns the blobs in blob slots, or the first
  // problem as @atproto/lexicon words it ("Record/embed/images/0/image
  // should be a blob ref").
  std::expected<std::vector<LexiconBlobSlot>, std::string> validate_record(std::string_view nsid,
                                                                            const boost::json::object& record) const;

  std::size_t size() const { return defs_.size(); }

 private:
  std::unordered_map<std::string, boost::json::object> defs_;  // "nsid#name" -> def
};

// Whether `mime` matches one of `accept`: "*/*", "type/*" or an exact type
// (case-insensitive), as the reference PDS's blob check does.
bool mime_accepted(std::string_view mime, const std::vector<std::string>& accept);

// Grapheme count as approximated above (for tests).
std::size_t approx_graphemes(std::string_view utf8);

}  // namespace blobsync::http
