#include "core/error.h"

#include <cerrno>
#include <cstring>

namespace blobsync {

std::string_view errc_name(Errc code) {
  switch (code) {
    case Errc::kInvalidArgument: return "InvalidArgument";
    case Errc::kNotFound: return "NotFound";
    case Errc::kAlreadyExists: return "AlreadyExists";
    case Errc::kCorruption: return "Corruption";
    case Errc::kIOError: return "IOError";
    case Errc::kNoSpace: return "NoSpace";
    case Errc::kPermissionDenied: return "PermissionDenied";
    case Errc::kTooLarge: return "TooLarge";
    case Errc::kUnsupported: return "Unsupported";
    case Errc::kUnauthenticated: return "Unauthenticated";
    case Errc::kForbidden: return "Forbidden";
    case Errc::kConflict: return "Conflict";
    case Errc::kTimeout: return "Timeout";
    case Errc::kCancelled: return "Cancelled";
    case Errc::kInternal: return "Internal";
  }
  return "Unknown";
}

std::string Error::to_string() const { return fmt::format("{}: {}", errc_name(code), message); }

Error errno_error(int err, std::string_view what) {
  Errc code = Errc::kIOError;
  switch (err) {
    case ENOSPC:
    case EDQUOT: code = Errc::kNoSpace; break;
    case EACCES:
    case EPERM:
    case EROFS: code = Errc::kPermissionDenied; break;
    case ENOENT: code = Errc::kNotFound; break;
    default: break;
  }
  return Error{code, fmt::format("{}: {}", what, std::strerror(err))};
}

}  // namespace blobsync
