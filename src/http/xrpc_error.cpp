#include "http/xrpc_error.h"

#include <spdlog/spdlog.h>

namespace blobsync::http {

XrpcFailure to_xrpc(const Error& e) {
  switch (e.code) {
    case Errc::kInvalidArgument: return {400, "InvalidRequest", e.message};
    case Errc::kNotFound: return {400, "NotFound", e.message};
    case Errc::kAlreadyExists: return {400, "InvalidRequest", e.message};
    case Errc::kCorruption: return {400, "InvalidRequest", e.message};
    case Errc::kTooLarge: return {413, "PayloadTooLarge", "request entity too large"};
    case Errc::kUnsupported: return {415, "UnsupportedMediaType", e.message};
    case Errc::kUnauthenticated: return {401, "AuthenticationRequired", e.message};
    case Errc::kForbidden: return {403, "Forbidden", e.message};
    case Errc::kConflict: return {409, "Conflict", e.message};
    case Errc::kTimeout: return {504, "UpstreamTimeout", "Operation timed out, please try again."};
    case Errc::kNoSpace: return {507, "InsufficientStorage", "The server is out of storage space"};
    default:
      spdlog::error("internal error: {}", e.to_string());
      return {};
  }
}

Response to_response(const XrpcFailure& f) { return xrpc_error(f.status, f.name, f.message); }

}  // namespace blobsync::http
