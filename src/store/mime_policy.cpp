#include "store/mime_policy.h"

#include <fmt/format.h>

#include <array>
#include <utility>

namespace blobsync {

namespace {

bool declares_nothing(std::string_view m) {
  // x-www-form-urlencoded: what curl --data-binary sends when told nothing.
  return m.empty() || m == "application/octet-stream" || m == "*/*" || m == "binary/octet-stream" ||
         m == "application/x-www-form-urlencoded";
}

bool textual(std::string_view m) { return m.starts_with("text/") || m == "application/json"; }

// Container formats libmagic and clients name differently.
bool same_family(std::string_view a, std::string_view b) {
  static constexpr std::array<std::array<std::string_view, 4>, 4> families = {{
      {"video/mp4", "video/quicktime", "audio/mp4", "video/x-m4v"},
      {"video/webm", "audio/webm", "video/x-matroska", ""},
      {"audio/ogg", "application/ogg", "video/ogg", "audio/opus"},
      {"image/heic", "image/heif", "image/heic-sequence", "image/heif-sequence"},
  }};
  for (const auto& f : families) {
    bool ha = false, hb = false;
    for (auto m : f) {
      if (m.empty()) continue;
      ha |= m == a;
      hb |= m == b;
    }
    if (ha && hb) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> default_allowed_mime() {
  return {
      // The list.
      "image/jpeg", "image/png", "image/gif", "image/webp", "video/mp4", "video/quicktime", "video/webm",
      // Other formats Bluesky clients produce or accept.
      "image/avif", "image/heic", "image/heif", "image/bmp", "image/tiff", "audio/mpeg", "audio/mp4",
      "audio/ogg", "audio/wav", "audio/webm", "audio/flac", "text/vtt", "text/plain", "application/pdf",
      "application/json",
      // Content libmagic cannot recognise, declared as opaque bytes.
      "application/octet-stream"};
}

std::string MimePolicy::canonical(std::string_view m) {
  static constexpr std::pair<std::string_view, std::string_view> aliases[] = {
      {"image/jpg", "image/jpeg"},      {"image/pjpeg", "image/jpeg"},   {"audio/mp3", "audio/mpeg"},
      {"audio/x-wav", "audio/wav"},     {"audio/wave", "audio/wav"},     {"audio/x-flac", "audio/flac"},
      {"audio/x-m4a", "audio/mp4"},     {"image/x-ms-bmp", "image/bmp"}, {"video/x-quicktime", "video/quicktime"},
      {"application/x-pdf", "application/pdf"},
  };
  for (auto [from, to] : aliases)
    if (m == from) return std::string(to);
  return std::string(m);
}

bool MimePolicy::allowed(std::string_view mime) const {
  std::string m = canonical(mime);
  for (const auto& a : allowed_) {
    if (a == m || a == "*/*") return true;
    if (a.ends_with("/*") && m.starts_with(std::string_view(a).substr(0, a.size() - 1))) return true;
  }
  return false;
}

Result<std::string> MimePolicy::decide(std::string_view declared_in, std::string_view sniffed_in) const {
  std::string declared = canonical(declared_in);
  std::string sniffed = canonical(sniffed_in);
  if (!sniffed.empty()) {
    if (!declares_nothing(declared) && declared != sniffed && !same_family(declared, sniffed)) {
      if (textual(declared) && textual(sniffed)) {
        // Text is text: keep what the client said (served with nosniff and a sandbox CSP).
        if (!allowed(declared))
          return fail(Errc::kUnsupported, "Uploads of type {} are not allowed", declared);
        return declared;
      }
      return fail(Errc::kInvalidArgument, "Content is {} but was declared as {}", sniffed, declared);
    }
    if (!allowed(sniffed))
      return fail(Errc::kUnsupported, "Uploads of type {} are not allowed", sniffed);
    return sniffed;
  }
  std::string type = declares_nothing(declared) ? std::string("application/octet-stream") : declared;
  if (!allowed(type))
    return fail(Errc::kUnsupported, "Uploads of type {} are not allowed", type);
  return type;
}

}  // namespace blobsync
