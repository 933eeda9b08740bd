#include "http/admin_auth.h"

#include <arpa/inet.h>

#include <cstring>
#include <string>

#include "core/secret_compare.h"

namespace blobsync::http {

bool is_loopback(std::string_view remote) {
  std::string host;
  if (remote.starts_with('[')) {
    auto close = remote.find(']');
    if (close == std::string_view::npos) return false;
    host = std::string(remote.substr(1, close - 1));
  } else {
    host = std::string(remote.substr(0, remote.rfind(':')));
  }
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) != 1) return false;
  static const std::uint8_t loop6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  static const std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(v6.s6_addr, loop6, 16) == 0) return true;
  return std::memcmp(v6.s6_addr, mapped, 12) == 0 && v6.s6_addr[12] == 127;  // ::ffff:127.x.y.z
}

bool has_admin_token(const Request& req, std::string_view admin_token) {
  if (admin_token.empty()) return false;
  auto h = req.header("authorization");
  if (!h) return false;
  auto given = bearer_token(*h);
  return !given.empty() && secrets_equal(given, admin_token);
}

std::optional<Response> refuse_admin(const Request& req, std::string_view admin_token, bool loopback_open) {
  if (loopback_open && is_loopback(req.remote)) return std::nullopt;
  if (has_admin_token(req, admin_token)) return std::nullopt;
  if (admin_token.empty())
    return xrpc_error(403, "Forbidden", "this endpoint answers loopback clients only (no admin_token is configured)");
  return xrpc_error(401, "AuthenticationRequired", "this endpoint needs Authorization: Bearer <admin_token>");
}

}  // namespace blobsync::http
