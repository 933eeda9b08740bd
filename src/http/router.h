// Router: maps (method, path) to a Route. XRPC methods are exact paths
// (/xrpc/<nsid>); the plain blob API uses a prefix (/blobs/).
//
// A Route either gets the whole body buffered (JSON procedures, bounded by
// max_json_bytes) or streams it into a BodySink (uploads). Handlers never see
// Beast. HEAD requests are routed to the GET handler; the server drops the
// body and keeps the headers.
//
// Thread safety: build the router before the server starts; after that it is
// read-only and safe to share between threads.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "http/http_types.h"

namespace blobsync::http {

using Handler = std::function<Response(Request&)>;
// Called with the request head only. Returns an error Response (the body is
// then not read and the connection is closed) or a sink for the body.
using StreamStart = std::variant<Response, std::unique_ptr<BodySink>>;
using StreamHandler = std::function<StreamStart(Request&)>;

struct Route {
  std::string name;       // metrics and access-log label
  Handler handler;        // buffered body
  StreamHandler stream;   // streamed body (set instead of handler)
  bool blocking = false;  // slow CPU work (password hashing): run off the I/O threads
  bool upload = false;    // counts in the upload latency histogram
  bool images = false;    // derived images: run on the image pool (image_workers threads)
};

class Router {
 public:
  void add(std::string_view method, std::string path, Route route);
  void add_prefix(std::string_view method, std::string prefix, Route route);
  // Paths starting with `prefix` and ending with `suffix` (/blobs/<id>/image).
  void add_pattern(std::string_view method, std::string prefix, std::string suffix, Route route);

  // nullptr when nothing matches; `fallback` then holds the error to send
  // (404, or for /xrpc/ 400 "Incorrect HTTP method" / 501 MethodNotImplemented).
  const Route* match(std::string_view method, std::string_view path, Response& fallback) const;

 private:
  struct Entry {
    std::string method, path;
    bool prefix;
    std::string suffix;  // add_pattern only
    Route route;
  };
  std::vector<Entry> entries_;
};

}  // namespace blobsync::http
