#include "http/range.h"

#include <charconv>

namespace blobsync::http {

namespace {
bool parse_num(std::string_view s, std::uint64_t& v) {
  if (s.empty() || s.size() > 19) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size();
}
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace

RangeResult parse_range(std::optional<std::string_view> header, std::uint64_t size, ByteRange& out) {
  if (!header) return RangeResult::kNone;
  std::string_view h = trim(*header);
  if (!h.starts_with("bytes=")) return RangeResult::kNone;
  h.remove_prefix(6);
  if (h.find(',') != std::string_view::npos) return RangeResult::kNone;
  h = trim(h);
  auto dash = h.find('-');
  if (dash == std::string_view::npos) return RangeResult::kNone;
  std::string_view first = trim(h.substr(0, dash)), last = trim(h.substr(dash + 1));
  std::uint64_t a = 0, b = 0;
  if (first.empty()) {
    // Suffix range: the last N bytes.
    if (!parse_num(last, b)) return RangeResult::kNone;
    if (b == 0 || size == 0) return RangeResult::kUnsatisfiable;
    if (b > size) b = size;
    out = {size - b, b};
    return RangeResult::kSatisfiable;
  }
  if (!parse_num(first, a)) return RangeResult::kNone;
  if (last.empty()) {
    b = size == 0 ? 0 : size - 1;
  } else {
    if (!parse_num(last, b)) return RangeResult::kNone;
    if (b < a) return RangeResult::kNone;  // invalid syntax: ignore the header
    if (b >= size) b = size == 0 ? 0 : size - 1;
  }
  if (a >= size) return RangeResult::kUnsatisfiable;
  out = {a, b - a + 1};
  return RangeResult::kSatisfiable;
}

}  // namespace blobsync::http
