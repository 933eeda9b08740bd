// Fuzz target: room tokens (sync/room_token.h). The first byte picks the mode:
//   0: the rest is a token, verified against a fixed key (forgeries, bad
//      base64, hostile headers, huge inputs);
//   1: the rest is a payload, signed correctly as a room token, so the claims
//      parser sees arbitrary JSON behind a valid signature; a token that
//      verifies must mint and verify again to the same claims;
//   2: the rest is "pattern\nname": room_pattern_matches must agree with a
//      plain dynamic-programming glob matcher (on inputs short enough for it).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "http/jwt.h"
#include "sync/room_token.h"
#include "fuzz_check.h"

namespace {

const std::string kKey = "fuzz-room-key-0123456789abcdef-0123";
constexpr std::int64_t kNow = 1'700'000'000;

std::span<const std::uint8_t> key() { return {reinterpret_cast<const std::uint8_t*>(kKey.data()), kKey.size()}; }

bool reference_match(std::string_view p, std::string_view s) {
  // m[i][j]: p[0,i) matches s[0,j).
  std::vector<std::vector<char>> m(p.size() + 1, std::vector<char>(s.size() + 1, 0));
  m[0][0] = 1;
  for (std::size_t i = 1; i <= p.size(); ++i)
    for (std::size_t j = 0; j <= s.size(); ++j)
      m[i][j] = p[i - 1] == '*' ? (m[i - 1][j] || (j > 0 && m[i][j - 1]))
                                : (j > 0 && m[i - 1][j - 1] && p[i - 1] == s[j - 1]);
  return m[p.size()][s.size()];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace blobsync::sync;
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0:
      (void)verify_room_token(rest, key(), kNow, 0);
      break;
    case 1: {
      boost::system::error_code ec;
      auto v = boost::json::parse(rest, ec);
      if (ec || !v.is_object()) break;
      auto token = blobsync::http::jwt_sign_json(kRoomTokenType, v.as_object(), key());
      auto t = verify_room_token(token, key(), kNow, 0);
      if (t) {
        auto again = verify_room_token(mint_room_token(*t, key()), key(), kNow, 0);
        FUZZ_CHECK(again && again->rooms == t->rooms && again->scope == t->scope && again->iat == t->iat &&
                   again->exp == t->exp);  // mint(verify(x)) verifies to the same claims
      }
      break;
    }
    default: {
      auto nl = rest.find('\n');
      if (nl == std::string_view::npos) break;
      auto pattern = rest.substr(0, nl), name = rest.substr(nl + 1);
      bool got = room_pattern_matches(pattern, name);
      if (pattern.size() <= 64 && name.size() <= 256) FUZZ_CHECK(got == reference_match(pattern, name));
      break;
    }
  }
  return 0;
}
