#include "client/ws_url.h"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <cctype>

namespace blobsync::client {

namespace {
std::string percent_encode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    bool unreserved = std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/');
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}
}  // namespace

Result<WsUrl> parse_ws_url(std::string_view text) {
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) return fail(Errc::kInvalidArgument, "invalid server URL '{}': {}", text, parsed.error().message());
  const auto& u = *parsed;
  std::string scheme(u.scheme());
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "ws" && scheme != "wss")
    return fail(Errc::kInvalidArgument, "server URL '{}' must start with ws:// or wss://", text);
  if (u.encoded_host().empty()) return fail(Errc::kInvalidArgument, "server URL '{}' has no host", text);
  if (u.has_query() || u.has_fragment())
    return fail(Errc::kInvalidArgument, "server URL '{}' must not have a query or fragment", text);
  if (u.has_userinfo()) return fail(Errc::kInvalidArgument, "server URL '{}' must not have user information", text);
  WsUrl out;
  out.tls = scheme == "wss";
  out.host = std::string(u.encoded_host());
  if (out.host.size() > 2 && out.host.front() == '[') out.host = out.host.substr(1, out.host.size() - 2);
  out.port = u.has_port() && !u.port().empty() ? std::string(u.port()) : out.tls ? "443" : "80";
  out.path = std::string(u.encoded_path());
  while (!out.path.empty() && out.path.back() == '/') out.path.pop_back();
  return out;
}

std::string room_target(const WsUrl& url, std::string_view room, std::string_view token) {
  std::string target = url.path + "/" + percent_encode(room, true);
  if (!token.empty()) target += "?token=" + percent_encode(token, false);
  return target;
}

std::string to_string(const WsUrl& url) {
  bool v6 = url.host.find(':') != std::string::npos;
  return (url.tls ? "wss://" : "ws://") + (v6 ? "[" + url.host + "]" : url.host) + ":" + url.port + url.path;
}

}  // namespace blobsync::client
