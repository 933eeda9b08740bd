// XrpcFailure: an error already shaped for the wire (status + XRPC error
// name + message), and the mapping from core Errc codes.
//
// Layers below HTTP return Result<T> with an Errc; the HTTP stores and
// handlers that know the reference PDS's error names (BlobNotFound,
// InvalidMimeType...) return XResult<T>.
//
// Thread safety: plain values.
#pragma once

#include <expected>
#include <string>

#include "core/error.h"
#include "http/http_types.h"

namespace blobsync::http {

struct XrpcFailure {
  int status = 500;
  std::string name = "InternalServerError";
  std::string message = "Internal Server Error";
};

// [[nodiscard]] like Result (see core/error.h).
template <class T = void>
using XResult = BasicResult<T, XrpcFailure>;

inline std::unexpected<XrpcFailure> xfail(int status, std::string name, std::string message) {
  return std::unexpected(XrpcFailure{status, std::move(name), std::move(message)});
}

// kInvalidArgument -> 400 InvalidRequest, kNotFound -> 400 NotFound,
// kTooLarge -> 413 PayloadTooLarge, kUnauthenticated -> 401,
// kForbidden -> 403, kNoSpace -> 507, everything else 500 (message hidden
// and logged).
XrpcFailure to_xrpc(const Error& e);

Response to_response(const XrpcFailure& f);

}  // namespace blobsync::http
