#include "sync/room_name.h"

#include <cctype>

namespace blobsync::sync {

namespace {

bool plain(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  switch (c) {
    case '.': case '_': case '~': case ':': case '@': case '!': case '$': case '&': case '\'':
    case '(': case ')': case '*': case '+': case ',': case ';': case '=': case '-':
      return true;
    default:
      return false;
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<> validate_room_name(std::string_view name) {
  if (name.empty()) return fail(Errc::kInvalidArgument, "room name is empty");
  if (name.size() > kMaxRoomName) return fail(Errc::kInvalidArgument, "room name longer than {} bytes", kMaxRoomName);
  std::size_t seg_start = 0;
  for (std::size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '/') {
      auto seg = name.substr(seg_start, i - seg_start);
      if (seg.empty()) return fail(Errc::kInvalidArgument, "room name has an empty path segment");
      if (seg == "." || seg == "..") return fail(Errc::kInvalidArgument, "room name has a '{}' segment", seg);
      seg_start = i + 1;
      continue;
    }
    char c = name[i];
    if (c == '%') {
      if (i + 2 >= name.size() || hex_value(name[i + 1]) < 0 || hex_value(name[i + 2]) < 0)
        return fail(Errc::kInvalidArgument, "room name has a bad %-escape at byte {}", i);
      i += 2;
      continue;
    }
    if (!plain(c))
      return fail(Errc::kInvalidArgument, "room name has a character not allowed at byte {} (0x{:02x})", i,
                  static_cast<unsigned char>(c));
  }
  return {};
}

Result<std::string> room_from_target(std::string_view target, std::string_view prefix) {
  auto q = target.find('?');
  auto path = target.substr(0, q);
  if (!path.starts_with(prefix)) return fail(Errc::kInvalidArgument, "path does not start with {}", prefix);
  std::string room(path.substr(prefix.size()));
  if (auto ok = validate_room_name(room); !ok) return std::unexpected(ok.error());
  return room;
}

std::string query_param(std::string_view target, std::string_view key) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  auto query = target.substr(q + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) != key) continue;
    std::string_view raw = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    std::string out;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '%' && i + 2 < raw.size() && hex_value(raw[i + 1]) >= 0 && hex_value(raw[i + 2]) >= 0) {
        out.push_back(static_cast<char>(hex_value(raw[i + 1]) * 16 + hex_value(raw[i + 2])));
        i += 2;
      } else if (raw[i] == '+') {
        out.push_back(' ');
      } else {
        out.push_back(raw[i]);
      }
    }
    return out;
  }
  return {};
}

}  // namespace blobsync::sync
