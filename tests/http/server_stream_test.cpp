// ServerStream over TLS against an OpenSSL client on a loopback socket (the
// in-memory BIO engine, under ASan in CI), and TlsContext's loading and
// reloading. Keys and certificates are made here with OpenSSL's API.
#include "http/server_stream.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

namespace blobsync::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/blobsync-stream-test-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// A self-signed P-256 certificate with common name `cn`, written as PEM.
void make_cert(const fs::path& cert, const fs::path& key, const char* cn) {
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  ASSERT_NE(pkey, nullptr);
  X509* x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), static_cast<long>(std::random_device{}() & 0x7fffffff));
  X509_gmtime_adj(X509_getm_notBefore(x), -60);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, pkey);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509_set_issuer_name(x, name);
  ASSERT_GT(X509_sign(x, pkey, EVP_sha256()), 0);
  FILE* f = std::fopen(cert.c_str(), "w");
  PEM_write_X509(f, x);
  std::fclose(f);
  f = std::fopen(key.c_str(), "w");
  PEM_write_PrivateKey(f, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  X509_free(x);
  EVP_PKEY_free(pkey);
}

TEST(TlsContextTest, LoadsReloadsAndKeepsTheOldCertificateOnAFailedReload) {
  TempDir d;
  auto cert = d.path() / "cert.pem", key = d.path() / "key.pem";
  make_cert(cert, key, "first");
  auto ctx = TlsContext::load(cert, key);
  ASSERT_TRUE(ctx) << ctx.error().message;
  EXPECT_NE((*ctx)->describe().find("subject=/CN=first"), std::string::npos) << (*ctx)->describe();

  make_cert(cert, key, "second");
  ASSERT_TRUE((*ctx)->reload());
  EXPECT_NE((*ctx)->describe().find("CN=second"), std::string::npos);

  std::ofstream(cert) << "not PEM\n";
  auto r = (*ctx)->reload();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("tls_cert"), std::string::npos) << r.error().message;
  EXPECT_NE((*ctx)->describe().find("CN=second"), std::string::npos) << "the old certificate stays";
}

TEST(TlsContextTest, ClearErrors) {
  TempDir d;
  auto cert = d.path() / "cert.pem", key = d.path() / "key.pem";
  auto cert2 = d.path() / "cert2.pem", key2 = d.path() / "key2.pem";
  make_cert(cert, key, "a");
  make_cert(cert2, key2, "b");
  auto missing = TlsContext::load(d.path() / "nope.pem", key);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::kInvalidArgument);
  EXPECT_NE(missing.error().message.find("cannot read"), std::string::npos) << missing.error().message;
  auto mismatch = TlsContext::load(cert, key2);
  ASSERT_FALSE(mismatch);
  EXPECT_NE(mismatch.error().message.find("does not match the certificate"), std::string::npos)
      << mismatch.error().message;
  auto lone = TlsContext::load(cert, "");
  ASSERT_FALSE(lone);
  EXPECT_NE(lone.error().message.find("go together"), std::string::npos);
}

// A blocking OpenSSL client on its own thread: handshake, send `out`, read
// back as many bytes, close. Returns what it read.
std::string tls_client(std::uint16_t port, const std::string& out) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  asio::io_context io;
  tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  SSL_set_fd(ssl, s.native_handle());
  std::string in;
  if (SSL_connect(ssl) == 1) {
    std::size_t sent = 0;
    while (sent < out.size()) {
      int n = SSL_write(ssl, out.data() + sent, static_cast<int>(std::min<std::size_t>(out.size() - sent, 100000)));
      if (n <= 0) break;
      sent += static_cast<std::size_t>(n);
    }
    std::vector<char> buf(64 * 1024);
    while (in.size() < out.size()) {
      int n = SSL_read(ssl, buf.data(), static_cast<int>(buf.size()));
      if (n <= 0) break;
      in.append(buf.data(), static_cast<std::size_t>(n));
    }
    SSL_shutdown(ssl);
  }
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return in;
}

TEST(ServerStreamTest, EchoesMegabytesOverTls) {
  TempDir d;
  auto cert = d.path() / "cert.pem", key = d.path() / "key.pem";
  make_cert(cert, key, "echo");
  auto ctx = TlsContext::load(cert, key);
  ASSERT_TRUE(ctx) << ctx.error().message;

  asio::io_context io;
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  auto port = acceptor.local_endpoint().port();
  std::string payload(3 * 1024 * 1024 + 17, '\0');
  std::mt19937 rng(7);
  for (auto& ch : payload) ch = static_cast<char>(rng());

  bool served = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto kTuple = asio::as_tuple(asio::use_awaitable);
        auto [aec, sock] = co_await acceptor.async_accept(kTuple);
        EXPECT_FALSE(aec);
        ServerStream stream(std::move(sock));
        std::vector<unsigned char> first(16 * 1024);
        auto [rec, n] = co_await stream.async_read_some(asio::buffer(first), kTuple);
        EXPECT_FALSE(rec);
        EXPECT_EQ(first[0], 0x16) << "a TLS handshake record";
        auto hs = co_await stream.start_tls(**ctx, asio::buffer(first.data(), n));
        EXPECT_FALSE(hs) << hs.message();
        EXPECT_TRUE(stream.is_tls());
        // Echo in odd-sized pieces, each written whole.
        std::vector<char> buf(70001);
        std::size_t echoed = 0;
        while (echoed < payload.size()) {
          auto [ec, got] = co_await stream.async_read_some(asio::buffer(buf), kTuple);
          if (ec) break;
          auto [wec, w] = co_await asio::async_write(stream, asio::buffer(buf.data(), got), kTuple);
          if (wec) break;
          echoed += got;
        }
        EXPECT_EQ(echoed, payload.size());
        served = true;
      },
      asio::detached);
  std::string back;
  std::thread client([&] { back = tls_client(port, payload); });
  io.run();
  client.join();
  EXPECT_TRUE(served);
  EXPECT_EQ(back.size(), payload.size());
  EXPECT_TRUE(back == payload) << "the bytes came back changed";
}

}  // namespace
}  // namespace blobsync::http
