// TlsContext: the trust settings of outbound TLS. What a person gets wrong
// (a missing or non-PEM CA file) fails at once and names the file; the
// defaults build; tls_failure turns OpenSSL's verify result into words.
#include "client/tls_context.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>
#include <filesystem>
#include <fstream>

namespace blobsync::client {
namespace {

std::filesystem::path temp_file(const std::string& name, const std::string& text) {
  auto p = std::filesystem::temp_directory_path() / ("blobsync-tls-test-" + std::to_string(::getpid()) + "-" + name);
  std::ofstream(p) << text;
  return p;
}

TEST(TlsContext, DefaultsAndInsecureBuild) {
  auto sys = TlsContext::create({});
  ASSERT_TRUE(sys) << sys.error().message;
  EXPECT_EQ(SSL_CTX_get_verify_mode((*sys)->native().native_handle()), SSL_VERIFY_PEER);
  EXPECT_EQ(SSL_CTX_get_min_proto_version((*sys)->native().native_handle()), TLS1_2_VERSION);
  auto off = TlsContext::create({.ca_file = "", .insecure = true});
  ASSERT_TRUE(off) << off.error().message;
  EXPECT_EQ(SSL_CTX_get_verify_mode((*off)->native().native_handle()), SSL_VERIFY_NONE);
  EXPECT_TRUE((*off)->options().insecure);
}

TEST(TlsContext, BadCaFilesAreNamed) {
  auto missing = TlsContext::create({.ca_file = "/nonexistent/blobsync-ca.pem"});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::kInvalidArgument);
  EXPECT_NE(missing.error().message.find("/nonexistent/blobsync-ca.pem"), std::string::npos) << missing.error().message;
  auto junk = temp_file("junk.pem", "not a certificate\n");
  auto bad = TlsContext::create({.ca_file = junk.string()});
  std::filesystem::remove(junk);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find(junk.string()), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("no usable certificate"), std::string::npos) << bad.error().message;
}

TEST(TlsContext, PrepareSetsSniForNamesOnly) {
  auto ctx = TlsContext::create({});
  ASSERT_TRUE(ctx);
  SSL* named = SSL_new((*ctx)->native().native_handle());
  ASSERT_TRUE(tls_prepare(named, "peer.example"));
  EXPECT_STREQ(SSL_get_servername(named, TLSEXT_NAMETYPE_host_name), "peer.example");
  EXPECT_STREQ(SSL_get0_peername(named), nullptr);  // set once a certificate matched
  SSL* addr = SSL_new((*ctx)->native().native_handle());
  ASSERT_TRUE(tls_prepare(addr, "127.0.0.1"));
  EXPECT_EQ(SSL_get_servername(addr, TLSEXT_NAMETYPE_host_name), nullptr);  // RFC 6066: no SNI for an address
  SSL* v6 = SSL_new((*ctx)->native().native_handle());
  EXPECT_TRUE(tls_prepare(v6, "::1"));
  SSL_free(named);
  SSL_free(addr);
  SSL_free(v6);
}

TEST(TlsContext, FailureNamesTheVerifyResult) {
  auto ctx = TlsContext::create({});
  ASSERT_TRUE(ctx);
  SSL* ssl = SSL_new((*ctx)->native().native_handle());
  SSL_set_verify_result(ssl, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
  EXPECT_EQ(tls_failure(ssl, boost::system::error_code()),
            "certificate verify failed: unable to get local issuer certificate");
  SSL_set_verify_result(ssl, X509_V_ERR_IP_ADDRESS_MISMATCH);
  EXPECT_EQ(tls_failure(ssl, {}), "certificate verify failed: IP address mismatch");
  SSL_set_verify_result(ssl, X509_V_OK);
  auto ec = boost::system::errc::make_error_code(boost::system::errc::connection_reset);
  EXPECT_EQ(tls_failure(ssl, ec), ec.message());
  SSL_free(ssl);
}

}  // namespace
}  // namespace blobsync::client
