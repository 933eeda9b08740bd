// Helpers for JSON request bodies and query parameters in XRPC handlers,
// returning XRPC errors (400 InvalidRequest) that name the problem.
//
// Thread safety: pure functions.
#pragma once

#include <boost/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/http_types.h"
#include "http/xrpc_error.h"

namespace blobsync::http {

// Content-Type must be application/json and the body a JSON object.
XResult<boost::json::object> parse_json_body(const Request& req);
// A required string member.
XResult<std::string> get_string(const boost::json::object& o, std::string_view key);
// An optional string member (error if present with another type).
XResult<std::optional<std::string>> get_opt_string(const boost::json::object& o, std::string_view key);
// "limit" query parameter: an integer in [1, max], default `def`.
XResult<std::size_t> get_limit(const Request& req, std::size_t def, std::size_t max);
// A required query parameter.
XResult<std::string> get_param(const Request& req, std::string_view name);

Response json_ok(const boost::json::value& v);

}  // namespace blobsync::http
