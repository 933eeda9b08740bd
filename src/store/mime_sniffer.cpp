#include "store/mime_sniffer.h"

#include <magic.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string_view>

#include "store/strong_signature.h"

namespace blobsync {

namespace {

struct MagicHandle {
  magic_t cookie = nullptr;
  MagicHandle() {
    // MAGIC_NO_CHECK_COMPRESS: never spawn decompressors on untrusted input.
    cookie = magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS | MAGIC_ERROR);
    if (cookie && magic_load(cookie, nullptr) != 0) {
      magic_close(cookie);
      cookie = nullptr;
    }
  }
  ~MagicHandle() {
    if (cookie) magic_close(cookie);
  }
  MagicHandle(const MagicHandle&) = delete;
  MagicHandle& operator=(const MagicHandle&) = delete;
};

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$&-^_.+").find(c) != std::string_view::npos;
}

// libmagic's answers about text, read from its syntax.
bool textual(std::string_view m) {
  return m.starts_with("text/") || m == "application/json" || m == "application/xml" ||
         m == "application/javascript" || m.ends_with("+xml") || m.ends_with("+json");
}

// What libmagic counts as text: no control bytes but BEL BS HT LF FF CR ESC.
// 16 KiB of random bytes pass with probability (230/256)^16384, i.e. never.
bool is_text(std::span<const std::byte> head) {
  return std::ranges::all_of(head, [](std::byte b) {
    auto c = static_cast<unsigned char>(b);
    return c >= 0x20 ? c != 0x7f : (c >= 7 && c <= 10) || c == 12 || c == 13 || c == 27;
  });
}

}  // namespace

bool is_generic_mime(std::string_view mime) {
  return mime.empty() || mime == "application/octet-stream" || mime == "text/plain" || mime == "application/x-empty" ||
         mime == "inode/x-empty" || mime == "application/x-data";
}

bool may_be_specific(std::span<const std::byte> head) {
  head = head.first(std::min(head.size(), kSniffBytes));
  // The two ways sniff_mime's answer becomes specific (below).
  return is_text(head) || strong_signature(head) != nullptr;
}

bool sniffs_as_octet_stream(std::span<const std::byte> head) {
  // What libmagic reads of binary content (sniff_mime's quick look).
  auto quick = head.first(std::min(head.size(), kQuickSniffBytes));
  auto starts = [&](std::string_view prefix) {
    return quick.size() >= prefix.size() && std::memcmp(quick.data(), prefix.data(), prefix.size()) == 0;
  };
  // libmagic's text encodings (ASCII, UTF-8, Latin-1, extended ASCII,
  // EBCDIC) all refuse a NUL; UTF-16/32 and UTF-7 need their marks first.
  using namespace std::string_view_literals;
  if (starts("\xfe\xff"sv) || starts("\xff\xfe"sv) || starts("\0\0\xfe\xff"sv) || starts("+/v"sv)) return false;
  if (std::ranges::find(quick, std::byte{0}) == quick.end()) return false;
  // The binary rules that answer text/plain begin with these bytes.
  if (std::string_view("#V[;\r").find(static_cast<char>(quick[0])) != std::string_view::npos) return false;
  return strong_signature(head) == nullptr;
}

MimeSniff sniff_mime(std::span<const std::byte> head) {
  thread_local MagicHandle handle;
  MimeSniff out;
  head = head.first(std::min(head.size(), kSniffBytes));
  if (handle.cookie) {
    // Binary formats are recognised from their first bytes, and libmagic's
    // cost grows with the buffer (random 64 KiB: 0.49 ms, 16 KiB: 0.36 ms), so
    // look at kQuickSniffBytes first. Only text needs more (JSON is recognised
    // only when it parses completely), so text gets a second look at all of it.
    std::span<const std::byte> quick = head.first(std::min(head.size(), kQuickSniffBytes));
    const char* type = magic_buffer(handle.cookie, quick.data(), quick.size());
    if (type && quick.size() < head.size() && std::string_view(type).starts_with("text/"))
      type = magic_buffer(handle.cookie, head.data(), head.size());
    if (type) out.guess = normalize_mime(type);
  }
  if (const StrongSignature* sig = strong_signature(head)) {
    if (auto certain = confirmed_mime(*sig, out.guess); !certain.empty()) {
      out.mime = certain;
      out.specific = true;
      return out;
    }
  }
  if (is_generic_mime(out.guess)) {
    out.mime = out.guess;
  } else if (textual(out.guess) && is_text(head)) {
    out.mime = out.guess;
    out.specific = true;
  } else {
    out.mime = "application/octet-stream";  // a weak guess names nothing
  }
  return out;
}

std::string normalize_mime(std::string_view declared) {
  auto semi = declared.find(';');
  if (semi != std::string_view::npos) declared = declared.substr(0, semi);
  while (!declared.empty() && std::isspace(static_cast<unsigned char>(declared.front()))) declared.remove_prefix(1);
  while (!declared.empty() && std::isspace(static_cast<unsigned char>(declared.back()))) declared.remove_suffix(1);
  auto slash = declared.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == declared.size() || declared.size() > 255) return "";
  std::string out;
  out.reserve(declared.size());
  for (std::size_t i = 0; i < declared.size(); ++i) {
    char c = declared[i];
    if (i == slash) {
      out.push_back('/');
      continue;
    }
    if (!is_token_char(c)) return "";
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

}  // namespace blobsync
