#include "client/tls_context.h"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <fstream>

namespace blobsync::client {

namespace ssl = boost::asio::ssl;

namespace {

std::string openssl_reason() {
  unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (e == 0) return "unknown error";
  const char* r = ERR_reason_error_string(e);
  return r ? r : "unknown error";
}

}  // namespace

TlsContext::TlsContext(TlsOptions options, std::unique_ptr<ssl::context> ctx)
    : options_(std::move(options)), ctx_(std::move(ctx)) {}
TlsContext::~TlsContext() = default;

Result<std::shared_ptr<TlsContext>> TlsContext::create(const TlsOptions& options) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  // TLS 1.0 and 1.1 are deprecated (RFC 8996).
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1)
    return fail(Errc::kInternal, "TLS: cannot require TLS 1.2: {}", openssl_reason());
  if (options.insecure) {
    ctx->set_verify_mode(ssl::verify_none);
  } else {
    ctx->set_verify_mode(ssl::verify_peer);
    if (!options.ca_file.empty()) {
      // Checked here so a typo fails at start, naming the file, rather than
      // as "unable to get local issuer certificate" on every connection.
      if (!std::ifstream(options.ca_file))
        return fail(Errc::kInvalidArgument, "TLS CA file {} cannot be read", options.ca_file);
      if (SSL_CTX_load_verify_locations(native, options.ca_file.c_str(), nullptr) != 1)
        return fail(Errc::kInvalidArgument, "TLS CA file {} holds no usable certificate: {}", options.ca_file,
                    openssl_reason());
    } else if (SSL_CTX_set_default_verify_paths(native) != 1) {
      return fail(Errc::kInternal, "TLS: cannot use the system's certificate store: {}", openssl_reason());
    }
  }
  return std::shared_ptr<TlsContext>(new TlsContext(options, std::move(ctx)));
}

Result<> tls_prepare(ssl_st* ssl, const std::string& host) {
  boost::system::error_code ec;
  auto ip = boost::asio::ip::make_address(host, ec);
  // OpenSSL's own name check (rather than a verify callback) leaves a verify
  // result that says what did not match, for tls_failure.
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (!ec) {
    if (X509_VERIFY_PARAM_set1_ip_asc(param, ip.to_string().c_str()) != 1)
      return fail(Errc::kInternal, "TLS: cannot check the address {}: {}", host, openssl_reason());
    return {};  // no SNI for an address (RFC 6066, 3)
  }
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (SSL_set1_host(ssl, host.c_str()) != 1)
    return fail(Errc::kInternal, "TLS: cannot check the host name {}: {}", host, openssl_reason());
  if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1)
    return fail(Errc::kInternal, "TLS: cannot set SNI {}: {}", host, openssl_reason());
  return {};
}

std::string tls_failure(ssl_st* ssl, const boost::system::error_code& ec) {
  long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK)
    return std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
  if (ec == boost::asio::ssl::error::stream_truncated) return "the peer closed the connection during the TLS handshake";
  return ec.message();
}

}  // namespace blobsync::client
