#include "image/image_params.h"

#include <algorithm>
#include <array>
#include <charconv>

#include "core/sha256.h"

namespace blobsync::image {

namespace {

Result<int> parse_int(std::string_view name, std::string_view v, int lo, int hi) {
  int n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size() || n < lo || n > hi)
    return fail(Errc::kInvalidArgument, "'{}' must be an integer {}..{}, not '{}'", name, lo, hi, v);
  return n;
}

struct Preset {
  std::string_view name;
  int width, height;
  Fit fit;
};
// Sizes as the Bluesky app asks its CDN for them: avatars and banners
// filled and cropped, post images scaled to fit (docs/http.md).
constexpr std::array<Preset, 4> kPresets{{
    {"avatar", 1000, 1000, Fit::kCover},
    {"banner", 3000, 1000, Fit::kCover},
    {"feed_thumbnail", 1000, 1000, Fit::kInside},
    {"feed_fullsize", 2000, 2000, Fit::kInside},
}};
constexpr std::array<std::string_view, 4> kPresetNames{"avatar", "banner", "feed_thumbnail", "feed_fullsize"};

int default_quality(Format f) { return f == Format::kPng ? 0 : kDefaultQuality; }

}  // namespace

int snap_size(int v) {
  for (int s : kSizeLadder)
    if (s >= v) return s;
  return kMaxSide;
}

Result<Format> parse_format(std::string_view s) {
  if (s == "jpeg" || s == "jpg") return Format::kJpeg;
  if (s == "webp") return Format::kWebp;
  if (s == "png") return Format::kPng;
  if (s == "avif") return Format::kAvif;
  return fail(Errc::kInvalidArgument, "format '{}' is not jpeg, webp, png or avif", s);
}

std::string_view format_name(Format f) {
  switch (f) {
    case Format::kJpeg: return "jpeg";
    case Format::kWebp: return "webp";
    case Format::kPng: return "png";
    case Format::kAvif: return "avif";
  }
  return "jpeg";
}

std::string_view format_mime(Format f) {
  switch (f) {
    case Format::kJpeg: return "image/jpeg";
    case Format::kWebp: return "image/webp";
    case Format::kPng: return "image/png";
    case Format::kAvif: return "image/avif";
  }
  return "image/jpeg";
}

std::string_view fit_name(Fit f) {
  switch (f) {
    case Fit::kCover: return "cover";
    case Fit::kContain: return "contain";
    case Fit::kInside: return "inside";
  }
  return "inside";
}

Result<ImageParams> parse_query(std::span<const std::pair<std::string, std::string>> query) {
  ImageParams p;
  std::optional<int> q;
  bool seen[5] = {};
  static constexpr std::string_view kNames[] = {"w", "h", "fit", "format", "q"};
  for (const auto& [k, v] : query) {
    auto it = std::find(std::begin(kNames), std::end(kNames), k);
    if (it == std::end(kNames))
      return fail(Errc::kInvalidArgument, "unknown image parameter '{}' (w, h, fit, format, q)", k);
    auto i = static_cast<std::size_t>(it - std::begin(kNames));
    if (seen[i]) return fail(Errc::kInvalidArgument, "image parameter '{}' given twice", k);
    seen[i] = true;
    if (k == "w" || k == "h") {
      auto n = parse_int(k, v, 1, kMaxSide);
      if (!n) return std::unexpected(n.error());
      (k == "w" ? p.width : p.height) = snap_size(*n);
    } else if (k == "fit") {
      if (v == "cover") p.fit = Fit::kCover;
      else if (v == "contain") p.fit = Fit::kContain;
      else if (v == "inside") p.fit = Fit::kInside;
      else return fail(Errc::kInvalidArgument, "fit '{}' is not cover, contain or inside", v);
    } else if (k == "format") {
      auto f = parse_format(v);
      if (!f) return std::unexpected(f.error());
      p.format = *f;
    } else {
      auto n = parse_int("q", v, 1, 100);
      if (!n) return std::unexpected(n.error());
      q = (*n + 4) / 5 * 5;  // snapped up to a multiple of 5
    }
  }
  if (p.width == 0 && p.height == 0) return fail(Errc::kInvalidArgument, "an image needs 'w' or 'h' (1..4096)");
  if (p.fit != Fit::kInside) {  // a box to fill: a missing side makes a square
    if (p.width == 0) p.width = p.height;
    if (p.height == 0) p.height = p.width;
  }
  p.quality = p.format == Format::kPng ? 0 : q.value_or(kDefaultQuality);
  return p;
}

Result<ImageParams> preset(std::string_view name, Format format) {
  for (const auto& pr : kPresets)
    if (pr.name == name)
      return ImageParams{.width = pr.width, .height = pr.height, .fit = pr.fit, .format = format,
                         .quality = default_quality(format)};
  return fail(Errc::kInvalidArgument, "unknown image preset '{}' (avatar, banner, feed_thumbnail, feed_fullsize)",
              name);
}

std::span<const std::string_view> preset_names() { return kPresetNames; }

Result<CdnPath> parse_cdn_path(std::string_view rest) {
  auto slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0)
    return fail(Errc::kInvalidArgument, "expected /img/<preset>/plain/<did>/<cid>@<format>");
  CdnPath out;
  out.preset = std::string(rest.substr(0, slash));
  rest.remove_prefix(slash + 1);
  if (!rest.starts_with("plain/"))
    return fail(Errc::kInvalidArgument, "only /img/<preset>/plain/... URLs are served (no signed URLs)");
  rest.remove_prefix(6);
  auto last = rest.rfind('/');
  if (last == std::string_view::npos || last == 0 || last + 1 == rest.size())
    return fail(Errc::kInvalidArgument, "expected /img/<preset>/plain/<did>/<cid>@<format>");
  out.did = std::string(rest.substr(0, last));
  if (!out.did.starts_with("did:")) return fail(Errc::kInvalidArgument, "'{}' is not a DID", out.did);
  std::string_view cid = rest.substr(last + 1);
  if (auto at = cid.find('@'); at != std::string_view::npos) {
    auto f = parse_format(cid.substr(at + 1));
    if (!f) return std::unexpected(f.error());
    out.format = *f;
    cid = cid.substr(0, at);
  }
  if (cid.empty()) return fail(Errc::kInvalidArgument, "the URL names no CID");
  out.cid = std::string(cid);
  return out;
}

std::string cache_key(const Digest& source, const ImageParams& p) {
  // v1: bump when rendering changes what a given key's bytes would be.
  std::string text = fmt::format("blobsync-image-v1|{}|{}x{}|{}|{}|q{}", source.hex(), p.width, p.height,
                                 fit_name(p.fit), format_name(p.format), p.quality);
  return Sha256::of(text.data(), text.size()).hex();
}

}  // namespace blobsync::image
