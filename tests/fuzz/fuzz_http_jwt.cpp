// Fuzz target: JWT parsing and verification. The first byte picks the mode:
//   even: the rest is a token, verified against a fixed secret (forgeries,
//         truncations, bad base64, hostile headers);
//   odd:  the rest is a payload, signed correctly with the secret, so the
//         claims parser sees arbitrary JSON behind a valid signature.
// A token that verifies must carry claims that sign and verify again to the
// same claims. base64url decode/encode must round-trip.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/jwt.h"

namespace {

const std::uint8_t kSecret[] = "fuzz-secret-0123456789abcdef";

std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::string sign(std::string_view payload) {
  using blobsync::http::base64url_encode;
  std::string input = base64url_encode(bytes_of(R"({"alg":"HS256","typ":"at+jwt"})")) + "." +
                      base64url_encode(bytes_of(payload));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), kSecret, sizeof kSecret - 1, reinterpret_cast<const unsigned char*>(input.data()), input.size(),
       mac, &len);
  return input + "." + base64url_encode({mac, len});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace blobsync::http;
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::span<const std::uint8_t> secret(kSecret, sizeof kSecret - 1);
  std::string token = data[0] % 2 ? sign(rest) : std::string(rest);
  auto claims = jwt_verify(token, secret, 1'700'000'000);
  if (claims) {
    // Re-signed claims verify to the same claims (unless re-encoding pushed
    // the token past the 8 KiB limit, which verify rightly refuses).
    std::string resigned = jwt_sign(*claims, secret);
    auto again = jwt_verify(resigned, secret, 1'700'000'000);
    if (resigned.size() <= 8192 && (!again || again->sub != claims->sub || again->scope != claims->scope || again->exp != claims->exp ||
        again->aud != claims->aud))
      std::abort();
  }
  if (auto decoded = base64url_decode(rest)) {
    auto round = base64url_decode(base64url_encode(bytes_of(*decoded)));
    if (!round || *round != *decoded) std::abort();
  }
  return 0;
}
