#include "http/content_disposition.h"

#include <fmt/format.h>

#include "core/filename.h"

namespace blobsync::http {

namespace {

// RFC 5987 attr-char: ALPHA / DIGIT / "!#$&+-.^_`|~".
bool attr_char(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '&': case '+': case '-': case '.': case '^': case '_': case '`': case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string attachment_disposition(std::string_view name, std::string_view fallback) {
  // Sanitized again: a stored name always is, but this header must hold for any input.
  std::string kept = sanitize_filename(name);
  if (kept.empty()) kept = sanitize_filename(fallback);
  if (kept.empty()) kept = "download";
  // The ASCII fallback: printable ASCII but the quoted string's own '"' and
  // '\', and '%' (some clients decode it); each non-ASCII character is one '_'.
  std::string ascii;
  for (std::size_t i = 0; i < kept.size(); ++i) {
    auto c = static_cast<unsigned char>(kept[i]);
    if (c >= 0x80) {
      if ((c & 0xC0) != 0x80) ascii += '_';  // one per character, not per byte
      continue;
    }
    ascii += (c < 0x20 || c == 0x7F || c == '"' || c == '\\' || c == '%') ? '_' : static_cast<char>(c);
  }
  std::string encoded;
  for (unsigned char c : kept) {
    if (attr_char(c)) encoded += static_cast<char>(c);
    else encoded += fmt::format("%{:02X}", static_cast<unsigned>(c));
  }
  return fmt::format("attachment; filename=\"{}\"; filename*=UTF-8''{}", ascii, encoded);
}

}  // namespace blobsync::http
