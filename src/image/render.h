// Rendering derived images with libvips: the only place its headers are
// included (render.cpp). Everything a hostile image can do is bounded here:
// the decoder is chosen from an allow-list (JPEG, PNG, WebP, GIF, HEIF/AVIF;
// libvips' "untrusted" loaders are blocked), the pixel count is read from the
// header before any pixel is decoded, and a render that runs past its time
// limit is killed through libvips' eval signal.
//
// Thread safety: init() once before any render() (idempotent, thread-safe);
// render() may then run on any number of threads at once, each using one
// libvips worker (init sets the concurrency to 1, so the caller's pool size
// bounds the CPU image work takes).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"
#include "image/image_params.h"

namespace blobsync::image {

struct RenderLimits {
  std::uint64_t max_pixels = 100'000'000;  // width * height * pages, from the header
  std::chrono::milliseconds timeout{10'000};
};

struct Rendered {
  std::string bytes;
  int width = 0, height = 0;
};

// Starts libvips (VIPS_INIT) with its operation cache off and one worker per
// pipeline. Errors: kInternal when libvips cannot start.
Result<> init();

// Whether this libvips can write `f` (AVIF needs libheif with an AV1 encoder).
bool can_save(Format f);

// Decodes `source`, auto-rotates it by its EXIF orientation, scales it by
// shrink-on-load, converts it to sRGB and encodes it as `p` says, with no
// metadata (EXIF, XMP, IPTC, ICC) in the output; an animation gives its
// first frame. Errors: kUnsupported (not an image this server decodes, or
// a format it cannot write), kTooLarge (more pixels than limits.max_pixels),
// kTimeout (over limits.timeout), kInvalidArgument (truncated or corrupt).
Result<Rendered> render(std::string_view source, const ImageParams& p, const RenderLimits& limits);

}  // namespace blobsync::image
