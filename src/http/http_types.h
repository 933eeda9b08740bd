// Request, Response and BodySink: the plain (Beast-free) view of an HTTP
// exchange that every handler works with.
//
// The server (server.cpp) is the only code that touches Beast and Asio; it
// parses the wire into a Request, calls a handler, and writes the Response,
// streaming a blob body with sendfile(2) when the Response carries a
// BlobReader. Keeping Beast out of the handlers keeps them quick to compile
// and testable without sockets.
//
// Thread safety: plain values, used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/backend.h"

namespace blobsync::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // raw request-target
  std::string path;    // percent-decoded path, no query
  std::vector<std::pair<std::string, std::string>> query;    // decoded
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;    // buffered routes only
  std::string remote;  // "ip:port"
  bool has_body = false;  // Content-Length > 0 or chunked
  std::optional<std::uint64_t> content_length;

  // Filled in by the handlers for the access log.
  std::string did;

  std::optional<std::string_view> header(std::string_view lower_name) const;
  // First value of a query parameter.
  std::optional<std::string_view> param(std::string_view name) const;
  std::vector<std::string_view> params(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // When set, the body is `body_length` bytes read from this reader (sendfile
  // when it has a native fd) and `body` is ignored.
  std::unique_ptr<BlobReader> blob;
  std::uint64_t blob_length = 0;
  // Close the connection after this response.
  bool close = false;

  Response& set(std::string name, std::string value);
  std::optional<std::string_view> header(std::string_view name) const;  // case-insensitive
};

// {"error": name, "message": message} with the given status.
Response xrpc_error(int status, std::string_view name, std::string_view message);
// A JSON body (already serialised).
Response json_response(std::string json, int status = 200);

// Escapes a string as a JSON string literal, quotes included.
std::string json_quote(std::string_view s);

// Receives a streamed request body (uploads). The server calls write() for
// each piece as it arrives and finish() once the body is complete; an error
// Response from write() stops the upload and is sent to the client. A sink
// destroyed without finish() must leave nothing behind.
class BodySink {
 public:
  virtual ~BodySink() = default;
  // Where the server reads the next body bytes into, which it then passes to
  // write(): a sink may hand out its own memory to save a copy. Default:
  // the server's `scratch` buffer.
  virtual std::span<std::byte> next_buffer(std::span<std::byte> scratch) { return scratch; }
  virtual std::optional<Response> write(std::span<const std::byte> data) = 0;
  virtual Response finish() = 0;
};

}  // namespace blobsync::http
