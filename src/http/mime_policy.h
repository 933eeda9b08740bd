// MimePolicy: which uploads are accepted and under which MIME type.
//
//   1. The declared type is the request's Content-Type, normalised (lower
//      case, parameters dropped). application/octet-stream and */* declare
//      nothing.
//   2. If libmagic recognises the content (a specific type, not a generic
//      fallback such as text/plain or application/octet-stream), that type
//      must match the declared one (aliases such as image/jpg = image/jpeg
//      are equal), else 400 InvalidMimeType ("an executable declared as
//      image/png"); and it must be on the allow-list, else 415
//      UnsupportedMediaType. The stored type is the recognised one.
//   3. If the content is not recognised, the declared type must be on the
//      allow-list (415 otherwise) and is stored as is.
// Allow-list entries may be "type/*".
//
// Thread safety: immutable after construction.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "http/xrpc_error.h"

namespace blobsync::http {

class MimePolicy {
 public:
  explicit MimePolicy(std::vector<std::string> allowed) : allowed_(std::move(allowed)) {}

  // declared: normalised Content-Type. sniffed: libmagic's specific type or
  // "" when the content was not recognised. Returns the type to store.
  XResult<std::string> decide(std::string_view declared, std::string_view sniffed) const;
  bool allowed(std::string_view mime) const;

  // Canonical spelling for comparisons (image/jpg -> image/jpeg ...).
  static std::string canonical(std::string_view mime);

 private:
  std::vector<std::string> allowed_;
};

}  // namespace blobsync::http
