#include "http/record_syntax.h"

#include <cctype>

namespace blobsync::http {

bool valid_nsid(std::string_view s) {
  if (s.empty() || s.size() > 317) return false;
  std::size_t segments = 0, start = 0;
  while (start <= s.size()) {
    auto dot = s.find('.', start);
    if (dot == std::string_view::npos) dot = s.size();
    auto seg = s.substr(start, dot - start);
    if (seg.empty() || seg.size() > 63 || !std::isalpha(static_cast<unsigned char>(seg.front()))) return false;
    for (char c : seg)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    ++segments;
    start = dot + 1;
  }
  return segments >= 3;
}

bool valid_rkey(std::string_view s) {
  if (s.empty() || s.size() > 512 || s == "." || s == "..") return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && std::string_view("._:~-").find(c) == std::string_view::npos)
      return false;
  return true;
}

}  // namespace blobsync::http
