#include "core/filename.h"

#include <cstdint>

namespace blobsync {

namespace {

// Decodes one UTF-8 sequence at s[i]; returns its length, 0 if invalid
// (overlong forms, surrogates and values past U+10FFFF included).
std::size_t decode(std::string_view s, std::size_t i, char32_t& cp) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  std::size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

bool dropped(char32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200E || cp == 0x200F || cp == 0xFEFF;
}

}  // namespace

std::string sanitize_filename(std::string_view name) {
  std::string out;
  // Input past a few times the limit cannot add to what is kept.
  name = name.substr(0, 4 * kMaxFilenameBytes);
  for (std::size_t i = 0; i < name.size();) {
    char32_t cp = 0;
    std::size_t n = decode(name, i, cp);
    if (n == 0) {
      ++i;
      continue;
    }
    if (cp == '/' || cp == '\\') out += '_';
    else if (!dropped(cp)) out.append(name.substr(i, n));
    i += n;
  }
  auto is_space = [](char c) { return c == ' '; };
  std::size_t start = 0;
  while (start < out.size() && is_space(out[start])) ++start;
  std::size_t end = out.size();
  while (end > start && is_space(out[end - 1])) --end;
  out = out.substr(start, end - start);
  if (out.size() > kMaxFilenameBytes) {
    std::size_t cut = kMaxFilenameBytes;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;  // not inside a character
    out.resize(cut);
    while (!out.empty() && is_space(out.back())) out.pop_back();
  }
  if (out == "." || out == "..") return "";
  return out;
}

}  // namespace blobsync
