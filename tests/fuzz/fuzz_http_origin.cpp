// Fuzz target: the Origin and Host headers (OriginPolicy) and the preflight's
// Access-Control-Request-Headers. Input: origin, '\n', host, '\n', requested
// headers (missing parts are absent headers). A parsed origin must print and
// re-parse to itself, lower-case; a preflight must only echo header names
// made of token characters (no CR/LF or other header injection).
#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/origin.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace blobsync::http;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto nl = in.find('\n');
  std::string_view origin = in.substr(0, nl);
  std::optional<std::string_view> host, asked;
  if (nl != std::string_view::npos) {
    auto rest = in.substr(nl + 1);
    auto nl2 = rest.find('\n');
    host = rest.substr(0, nl2);
    if (nl2 != std::string_view::npos) asked = rest.substr(nl2 + 1);
  }
  if (auto o = parse_origin(origin)) {
    const std::string name = o->scheme + o->host;
    for (char c : name) FUZZ_CHECK(!std::isupper(static_cast<unsigned char>(c)));  // canonical: lower case
    auto again = parse_origin(o->str());
    FUZZ_CHECK(again && *again == *o);  // prints and re-parses to itself
  }
  static const auto policy = *OriginPolicy::make({.allowed = {"https://app.example", "capacitor://localhost"},
                                                  .public_url = "ws://127.0.0.1:3913/sync",
                                                  .peers = {"ws://[::1]:4000/sync"},
                                                  .hostname = "blobs.example"});
  bool allowed = policy.allows(origin, host);
  // What is allowed without a Host is allowed with any Host.
  FUZZ_CHECK(!policy.allows(origin, std::nullopt) || allowed);
  Request req;
  if (asked) req.headers.emplace_back("access-control-request-headers", std::string(*asked));
  auto pre = OriginPolicy::preflight("https://app.example", req);
  const std::string allow_headers(pre.header("access-control-allow-headers").value_or(""));
  for (char c : allow_headers) {
    auto u = static_cast<unsigned char>(c);
    FUZZ_CHECK(u >= 0x20 && u < 0x7f);  // no CR/LF or other header injection
  }
  return 0;
}
