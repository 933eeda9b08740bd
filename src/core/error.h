// Error and Result: how every fallible operation in blobsync reports failure.
//
// Functions return Result<T> (std::expected<T, Error>). An Error carries a
// machine-readable code and one human-readable line; no exceptions cross a
// layer boundary. The HTTP layer maps codes to statuses and XRPC error names,
// the CLI prints the message and exits non-zero.
//
// Thread safety: plain values, safe to copy and move between threads.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace blobsync {

enum class Errc {
  kInvalidArgument,   // malformed input from a caller or the network
  kNotFound,          // no such blob, account, record, room...
  kAlreadyExists,
  kCorruption,        // stored or received bytes do not match their hash
  kIOError,           // the OS or a remote backend failed
  kNoSpace,           // disk full (ENOSPC, EDQUOT)
  kPermissionDenied,  // the OS refused access (EACCES, EROFS)
  kTooLarge,          // over a configured size limit
  kUnsupported,       // e.g. a MIME type not on the allow-list
  kUnauthenticated,
  kForbidden,
  kConflict,
  kTimeout,
  kCancelled,
  kInternal,          // a bug: an invariant did not hold
};

std::string_view errc_name(Errc code);

struct Error {
  Errc code = Errc::kInternal;
  std::string message;

  // "NotFound: blob sha256:... is not stored"
  std::string to_string() const;
};

template <class T = void>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> make_error(Errc code, std::string message) {
  return std::unexpected<Error>(Error{code, std::move(message)});
}

template <class... Args>
std::unexpected<Error> fail(Errc code, fmt::format_string<Args...> f, Args&&... args) {
  return make_error(code, fmt::format(f, std::forward<Args>(args)...));
}

// Error from errno after a failed syscall: ENOSPC -> kNoSpace, EACCES/EROFS ->
// kPermissionDenied, ENOENT -> kNotFound, everything else kIOError.
Error errno_error(int err, std::string_view what);

}  // namespace blobsync
