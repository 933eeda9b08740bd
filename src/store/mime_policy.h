// MimePolicy: which uploads are accepted and under which MIME type.
//
// It is store policy: HTTP uploads and the blob channel both apply it. A
// refusal is kInvalidArgument (the content is not what was declared: HTTP
// 400 InvalidMimeType) or kUnsupported (not on the allow-list: 415).
//
//   1. The declared type is the request's Content-Type, normalised (lower
//      case, parameters dropped). application/octet-stream and */* declare
//      nothing.
//   2. If the content's type is certain (store/mime_sniffer.h: a strong
//      signature such as a real ELF or PE header or a PNG signature, or text
//      libmagic names, such as HTML), that type must match the declared one
//      (aliases such as image/jpg = image/jpeg are equal), else 400
//      InvalidMimeType ("an executable declared as image/png"); and it must
//      be on the allow-list, else 415 UnsupportedMediaType. The stored type
//      is the certain one.
//   3. Otherwise (libmagic's weak guesses included: random bytes often look
//      like a DOS executable or zlib), the declared type must be on the
//      allow-list (415 otherwise) and is stored as is.
// Allow-list entries may be "type/*".
//
// Thread safety: immutable after construction.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace blobsync {

// The allow-list `allowed_mime` defaults to.
std::vector<std::string> default_allowed_mime();

class MimePolicy {
 public:
  explicit MimePolicy(std::vector<std::string> allowed) : allowed_(std::move(allowed)) {}

  // declared: normalised Content-Type. sniffed: the certain type
  // (MimeSniff::specific) or "". Returns the type to store.
  Result<std::string> decide(std::string_view declared, std::string_view sniffed) const;
  bool allowed(std::string_view mime) const;

  // Canonical spelling for comparisons (image/jpg -> image/jpeg ...).
  static std::string canonical(std::string_view mime);

 private:
  std::vector<std::string> allowed_;
};

}  // namespace blobsync
