// Blob references inside a record: every {"$type":"blob", "ref":{"$link":
// CID}, "mimeType", "size"} object at any depth of the record JSON (arrays
// and objects alike). Records arrive from the network, so each malformed
// reference is a 400 that names where it is ("record/embed/images/0/image:
// ref must be a base32 CID").
//
// Depth is bounded by the JSON parser (parse_json_body allows 64 levels), so
// the recursion is too.
//
// Thread safety: pure functions.
#pragma once

#include <boost/json/value.hpp>

#include <string>
#include <vector>

#include "http/repo_store.h"
#include "http/xrpc_error.h"

namespace blobsync::http {

// Appends every reference under `v` to `out`; `path` names `v` in errors.
// Errors: 400 InvalidRequest for a blob object without a valid ref, CID,
// mimeType or non-negative integer size.
XResult<> find_blob_refs(const boost::json::value& v, const std::string& path, std::vector<RecordBlobRef>& out);

}  // namespace blobsync::http
