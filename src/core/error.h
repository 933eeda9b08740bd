// Error and Result: how every fallible operation in blobsync reports failure.
//
// Functions return Result<T>: a [[nodiscard]] std::expected<T, Error>. An
// Error carries a machine-readable code and one human-readable line; no
// exceptions cross a layer boundary. The HTTP layer maps codes to statuses
// and XRPC error names, the CLI prints the message and exits non-zero.
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

// std::expected<T, E> that cannot be dropped silently (as absl::Status
// cannot): libstdc++ 12's std::expected is not [[nodiscard]], this is. It is a
// std::expected (public base, every constructor inherited, implicit from a
// std::expected), so values, std::unexpected, `return {};` and comparisons
// work as before. A deliberate drop is written `(void)call();` with a comment
// saying why the failure may be ignored (or, better, the failure is logged).
//
// libstdc++ 12 has no and_then/transform/or_else (GCC 13 adds them); when it
// does, redeclare them here so that they take and return BasicResults.
template <class T, class E>
class [[nodiscard("handle the failure, or cast to (void) and say why it may be ignored")]] BasicResult
    : public std::expected<T, E> {
  using Base = std::expected<T, E>;

 public:
  using Base::Base;
  constexpr BasicResult() = default;
  constexpr BasicResult(const Base& e) : Base(e) {}
  constexpr BasicResult(Base&& e) : Base(std::move(e)) {}
};

// Comparisons are std::expected's. These two exist only because std's
// `expected == U` would otherwise also match U = BasicResult (for `1 == r`
// and `r1 == r2`) and recurse.
template <class T1, class E1, class T2, class E2>
constexpr bool operator==(const BasicResult<T1, E1>& x, const BasicResult<T2, E2>& y) {
  return static_cast<const std::expected<T1, E1>&>(x) == static_cast<const std::expected<T2, E2>&>(y);
}
template <class T, class E, class U>
constexpr bool operator==(const BasicResult<T, E>& x, const U& v) {
  return static_cast<const std::expected<T, E>&>(x) == v;
}

template <class T = void>
using Result = BasicResult<T, Error>;

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
