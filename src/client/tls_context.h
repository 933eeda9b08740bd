// TlsContext: the trust settings of this process's outbound TLS connections
// (wss:// sync URLs: the CLI's --server, mesh peers and holders). One OpenSSL
// context (TLS 1.2 or later, peer verification on) built once from
// TlsOptions and shared by every connection; tls_prepare() then sets SNI and
// the name or address the peer's certificate must carry on one connection.
//
// `insecure` turns verification off entirely. It exists for tests only (a
// self-signed server with no CA at hand); callers warn loudly whenever it is
// used (docs/security.md, "Outbound TLS").
//
// Only tls_context.cpp and room_client.cpp include <boost/asio/ssl.hpp>
// (it is slow to compile); this header forward-declares what it names.
//
// Thread safety: a TlsContext is immutable after create() and may be shared
// by connections on any thread (OpenSSL contexts are, once configured).
// tls_prepare and tls_failure touch only the connection they are given.
#pragma once

#include <memory>
#include <string>

#include "core/error.h"

namespace boost::asio::ssl {
class context;
}
namespace boost::system {
class error_code;
}
struct ssl_st;  // OpenSSL's SSL

namespace blobsync::client {

struct TlsOptions {
  std::string ca_file;    // PEM CA bundle to trust; empty: the system's default store
  bool insecure = false;  // verify nothing: tests only
  bool operator==(const TlsOptions&) const = default;
};

class TlsContext {
 public:
  // Errors: kInvalidArgument when ca_file cannot be read or holds no
  // certificate (named, with OpenSSL's reason); kInternal if OpenSSL fails.
  static Result<std::shared_ptr<TlsContext>> create(const TlsOptions& options);
  ~TlsContext();

  const TlsOptions& options() const { return options_; }
  boost::asio::ssl::context& native() { return *ctx_; }

 private:
  TlsContext(TlsOptions options, std::unique_ptr<boost::asio::ssl::context> ctx);
  TlsOptions options_;
  std::unique_ptr<boost::asio::ssl::context> ctx_;
};

// Sets SNI (host names only, RFC 6066) and requires the peer's certificate
// to match `host`: a DNS name against its subjectAltName DNS entries, an IP
// literal against its IP entries. Errors: kInternal if OpenSSL refuses.
Result<> tls_prepare(ssl_st* ssl, const std::string& host);

// Why a TLS handshake failed, in words a person can act on:
// "certificate verify failed: unable to get local issuer certificate" when
// the peer's chain did not verify (OpenSSL's verify result), else the error
// code's message.
std::string tls_failure(ssl_st* ssl, const boost::system::error_code& ec);

// The warning every use of `insecure` prints or logs.
inline constexpr char kInsecureWarning[] =
    "TLS certificate verification is OFF (--insecure / tls_insecure): anyone on the path can read and change "
    "this traffic; for tests only";

}  // namespace blobsync::client
