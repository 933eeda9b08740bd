#include "store/s3/sigv4.h"

#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <map>

#include "core/sha256.h"

namespace blobsync::s3 {

namespace {

constexpr char kHexUpper[] = "0123456789ABCDEF";
constexpr char kHexLower[] = "0123456789abcdef";

std::string to_hex(std::span<const unsigned char> bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    out.push_back(kHexLower[b >> 4]);
    out.push_back(kHexLower[b & 15]);
  }
  return out;
}

using Mac = std::array<unsigned char, 32>;

Mac hmac_sha256(std::span<const unsigned char> key, std::string_view data) {
  Mac out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len);
  return out;
}

std::span<const unsigned char> as_bytes(std::string_view s) {
  return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

// Header values are trimmed and inner runs of spaces collapse to one.
std::string normalize_value(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string uri_encode(std::string_view text, bool keep_slash) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHexUpper[c >> 4]);
      out.push_back(kHexUpper[c & 15]);
    }
  }
  return out;
}

std::string canonical_query(const QueryParams& params) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(params.size());
  for (const auto& [k, v] : params) encoded.emplace_back(uri_encode(k, false), uri_encode(v, false));
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [k, v] : encoded) {
    if (!out.empty()) out.push_back('&');
    out += k;
    out.push_back('=');
    out += v;
  }
  return out;
}

std::string sha256_hex(std::span<const std::byte> data) { return Sha256::of(data).hex(); }

SigV4Result sign(const SigV4Request& request, const SigV4Key& key, std::string_view amz_date) {
  SigV4Result r;
  // Lowercased names, sorted; repeated headers join their values with ','.
  std::map<std::string, std::string> headers;
  for (const auto& [name, value] : request.headers) {
    std::string lower(name);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    auto& slot = headers[lower];
    if (!slot.empty()) slot.push_back(',');
    slot += normalize_value(value);
  }
  std::string canonical_headers;
  for (const auto& [name, value] : headers) {
    canonical_headers += name + ":" + value + "\n";
    if (!r.signed_headers.empty()) r.signed_headers.push_back(';');
    r.signed_headers += name;
  }
  r.canonical_request = request.method + "\n" + request.canonical_uri + "\n" + request.canonical_query + "\n" +
                        canonical_headers + "\n" + r.signed_headers + "\n" + request.payload_hash;

  std::string_view date = amz_date.substr(0, 8);
  std::string scope = std::string(date) + "/" + key.region + "/" + key.service + "/aws4_request";
  std::string creq_hash = Sha256::of(r.canonical_request.data(), r.canonical_request.size()).hex();
  r.string_to_sign = "AWS4-HMAC-SHA256\n" + std::string(amz_date) + "\n" + scope + "\n" + creq_hash;

  Mac k = hmac_sha256(as_bytes("AWS4" + key.secret_key), date);
  k = hmac_sha256(k, key.region);
  k = hmac_sha256(k, key.service);
  k = hmac_sha256(k, "aws4_request");
  r.signature = to_hex(hmac_sha256(k, r.string_to_sign));
  r.authorization = "AWS4-HMAC-SHA256 Credential=" + key.access_key + "/" + scope +
                    ", SignedHeaders=" + r.signed_headers + ", Signature=" + r.signature;
  return r;
}

}  // namespace blobsync::s3
