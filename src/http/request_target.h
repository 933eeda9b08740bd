// The request-target of an HTTP request line ("/xrpc/com.atproto.sync.getBlob
// ?did=...&cid=..."), origin form only, parsed with Boost.URL into the
// percent-decoded path and query parameters of a Request. Everything XRPC
// handlers read from the URL comes through here.
//
// Thread safety: pure function.
#pragma once

#include <string_view>

#include "http/http_types.h"

namespace blobsync::http {

// Fills req.path and req.query (appended in order; a key without '=' gets an
// empty value). False for a target that is not origin-form (the server
// answers 400); req is then unchanged.
bool parse_request_target(std::string_view target, Request& req);

}  // namespace blobsync::http
