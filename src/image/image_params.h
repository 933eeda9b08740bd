// ImageParams: what a derived image is (size, fit, format, quality), parsed
// from the query of GET /blobs/<hash>/image or from an /img/<preset> URL, and
// the canonical key the image cache stores it under.
//
// Widths and heights are snapped up to a fixed ladder of sizes (kSizeLadder)
// and the quality up to a multiple of 5, so arbitrary values cannot fill the
// cache with near-duplicates: a client asking w=401 gets (and caches) 480.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/digest.h"
#include "core/error.h"

namespace blobsync::image {

enum class Fit {
  kCover,    // fills w x h exactly, the excess cropped around the centre
  kContain,  // fits inside w x h, padded to exactly w x h
  kInside,   // fits inside w x h, never enlarged, no padding
};
enum class Format { kJpeg, kWebp, kPng, kAvif };

inline constexpr int kMaxSide = 4096;
// Every width or height a query can ask for (presets use their own sizes).
inline constexpr int kSizeLadder[] = {16,  32,  48,  64,  96,   128,  160,  192,  256,  320,  400,  480, 512,
                                      640, 768, 800, 960, 1000, 1024, 1280, 1600, 2000, 2048, 2560, 3200, 4096};
inline constexpr int kDefaultQuality = 80;

struct ImageParams {
  int width = 0;   // 0: unconstrained (only with Fit::kInside)
  int height = 0;  // 0: unconstrained (only with Fit::kInside)
  Fit fit = Fit::kInside;
  Format format = Format::kJpeg;
  int quality = kDefaultQuality;  // 0 for PNG (lossless: quality means nothing)

  bool operator==(const ImageParams&) const = default;
};

// The smallest ladder size >= v. REQUIRES 1 <= v <= kMaxSide.
int snap_size(int v);

// Query parameters w, h, fit, format, q (each at most once) -> params.
// At least one of w and h; cover and contain with only one of them make a
// square. Errors: kInvalidArgument naming the parameter (unknown ones too).
Result<ImageParams> parse_query(std::span<const std::pair<std::string, std::string>> query);

// "jpeg", "webp", "png", "avif" (and "jpg"). Errors: kInvalidArgument.
Result<Format> parse_format(std::string_view s);
std::string_view format_name(Format f);   // "jpeg"
std::string_view format_mime(Format f);   // "image/jpeg"
std::string_view fit_name(Fit f);         // "cover"

// The ATProto CDN presets (docs/http.md, "Derived images"): avatar,
// banner, feed_thumbnail, feed_fullsize. Errors: kInvalidArgument.
Result<ImageParams> preset(std::string_view name, Format format);
std::span<const std::string_view> preset_names();

// /img/<preset>/plain/<did>/<cid>[@<format>] -> its parts (the path after
// "/img/"). Errors: kInvalidArgument saying what is malformed.
struct CdnPath {
  std::string preset, did, cid;
  Format format = Format::kJpeg;
};
Result<CdnPath> parse_cdn_path(std::string_view after_img);

// The cache key of (source, params): 64 hex characters, a SHA-256 over a
// versioned canonical text, so a change of the rendering code can change the
// version and never serve an old rendering.
std::string cache_key(const Digest& source, const ImageParams& p);

}  // namespace blobsync::image
