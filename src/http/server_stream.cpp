// ServerStream and TlsContext (see server_stream.h): the only file with
// <boost/asio/ssl.hpp>. OpenSSL through Asio's ssl::stream over the
// connection's beast::tcp_stream, with the library's defaults for ciphers
// and TLS 1.2 as the floor.
#include "http/server_stream.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <system_error>

namespace blobsync::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;

struct TlsContext::State {
  ssl::context ctx{ssl::context::tls_server};
  std::string description;
};

struct ServerStream::Tls {
  Tls(beast::tcp_stream s, std::shared_ptr<TlsContext::State> st) : state(std::move(st)), stream(std::move(s), state->ctx) {}
  std::shared_ptr<TlsContext::State> state;  // keeps the context this connection started with
  ssl::stream<beast::tcp_stream> stream;
};

namespace {

std::string openssl_error() {
  unsigned long e = ERR_get_error();
  std::string out;
  while (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
    e = ERR_get_error();
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

std::string describe_cert(SSL_CTX* ctx) {
  X509* cert = SSL_CTX_get0_certificate(ctx);
  if (!cert) return "no certificate";
  char subject[512];
  X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
  std::string serial = "?";
  if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(cert), nullptr)) {
    if (char* hex = BN_bn2hex(bn)) {
      serial = hex;
      OPENSSL_free(hex);
    }
    BN_free(bn);
  }
  return fmt::format("subject={}, serial={}", subject, serial);
}

Result<std::shared_ptr<TlsContext::State>> make_state(const std::filesystem::path& cert,
                                                      const std::filesystem::path& key) {
  // Opened here first so a missing file says so plainly, not as an OpenSSL code.
  for (const auto* p : {&cert, &key}) {
    std::ifstream probe(*p);
    if (!probe)
      return fail(Errc::kInvalidArgument, "config '{}': cannot read '{}': {}", p == &cert ? "tls_cert" : "tls_key",
                  p->string(), std::error_code(errno, std::generic_category()).message());
  }
  auto st = std::make_shared<TlsContext::State>();
  SSL_CTX* ctx = st->ctx.native_handle();
  ERR_clear_error();
  // TLS 1.2 and 1.3 only; no renegotiation (a client-driven CPU cost) and
  // no compression. Ciphers: OpenSSL's defaults.
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1)
    return fail(Errc::kInvalidArgument, "config 'tls_cert': '{}' is not a usable PEM certificate (chain): {}",
                cert.string(), openssl_error());
  // Read apart from its use, so "not a key" and "not this certificate's key" get their own messages.
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(key.c_str(), "r"), &std::fclose);
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> pkey(
      f ? PEM_read_PrivateKey(f.get(), nullptr, nullptr, nullptr) : nullptr, &EVP_PKEY_free);
  if (!pkey)
    return fail(Errc::kInvalidArgument, "config 'tls_key': '{}' is not a usable PEM private key: {}", key.string(),
                openssl_error());
  if (SSL_CTX_use_PrivateKey(ctx, pkey.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1)
    return fail(Errc::kInvalidArgument, "config 'tls_key': '{}' does not match the certificate in '{}': {}",
                key.string(), cert.string(), openssl_error());
  st->description = describe_cert(ctx);
  return st;
}

}  // namespace

TlsContext::TlsContext(std::filesystem::path cert, std::filesystem::path key, std::shared_ptr<State> s)
    : cert_(std::move(cert)), key_(std::move(key)), state_(std::move(s)) {}

TlsContext::~TlsContext() = default;

Result<std::shared_ptr<TlsContext>> TlsContext::load(const std::filesystem::path& cert,
                                                     const std::filesystem::path& key) {
  if (cert.empty() != key.empty())
    return fail(Errc::kInvalidArgument, "config: tls_cert and tls_key go together (one is set, the other is not)");
  auto st = make_state(cert, key);
  if (!st) return std::unexpected(st.error());
  return std::shared_ptr<TlsContext>(new TlsContext(cert, key, std::move(*st)));
}

Result<> TlsContext::reload() {
  auto st = make_state(cert_, key_);
  if (!st) return std::unexpected(st.error());
  std::lock_guard lock(mu_);
  state_ = std::move(*st);
  return {};
}

std::string TlsContext::describe() const { return current()->description; }

std::shared_ptr<TlsContext::State> TlsContext::current() const {
  std::lock_guard lock(mu_);
  return state_;
}

ServerStream::ServerStream(asio::ip::tcp::socket s) : ex_(s.get_executor()), plain_(std::move(s)) {}
ServerStream::ServerStream(ServerStream&&) noexcept = default;
ServerStream::~ServerStream() = default;

beast::tcp_stream& ServerStream::next_layer() noexcept { return tls_ ? tls_->stream.next_layer() : plain_; }

asio::awaitable<boost::system::error_code> ServerStream::start_tls(const TlsContext& ctx, asio::const_buffer initial) {
  tls_ = std::make_unique<Tls>(std::move(plain_), ctx.current());
  auto [ec, used] = co_await tls_->stream.async_handshake(ssl::stream_base::server, initial,
                                                          asio::as_tuple(asio::use_awaitable));
  co_return ec;
}

// Bound to the connection's strand: Boost 1.81's any_completion_handler
// carries an executor that Beast's tcp_stream cannot post to (it requires
// blocking.never), and every caller runs on that strand anyway.
void ServerStream::tls_read(asio::mutable_buffer b, Handler h) {
  tls_->stream.async_read_some(b, asio::bind_executor(ex_, std::move(h)));
}

void ServerStream::tls_write(asio::const_buffer b, Handler h) {
  tls_->stream.async_write_some(b, asio::bind_executor(ex_, std::move(h)));
}

void ServerStream::async_shutdown(asio::any_completion_handler<void(boost::system::error_code)> handler) {
  if (!tls_) {
    boost::system::error_code ec;
    plain_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    plain_.close();
    return asio::post(ex_, [h = std::move(handler)]() mutable { std::move(h)(boost::system::error_code{}); });
  }
  // close_notify, then the peer's (or its EOF) for at most 5 s: a peer
  // that answers neither cannot hold the connection.
  tls_->stream.next_layer().expires_after(std::chrono::seconds(5));
  tls_->stream.async_shutdown([this, h = std::move(handler)](boost::system::error_code) mutable {
    tls_->stream.next_layer().close();
    std::move(h)(boost::system::error_code{});
  });
}

}  // namespace blobsync::http
