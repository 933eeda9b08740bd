// Fuzz target: the derived-image path (image/render.h) on arbitrary bytes,
// as an upload reaches it. Whatever the bytes, render() returns an image or
// an error; a crash, a sanitizer report or a hang is the bug. Small limits
// keep each run short (a bomb must be refused from its header).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "image/render.h"

// Debian 12's libdav1d (reached through libheif for AVIF) leaks 40 bytes on
// some invalid input ("Input validation check 'in->data == NULL || in->sz'
// failed in dav1d_send_data"): not ours to fix here, so LeakSanitizer is told
// to ignore allocations made inside that library only. docs/security.md,
// "Derived images", names the leak.
extern "C" const char* __lsan_default_suppressions() { return "leak:libdav1d.so\n"; }

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace blobsync::image;
  static const bool started = static_cast<bool>(init());
  FUZZ_CHECK(started);
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const RenderLimits limits{.max_pixels = 4'000'000, .timeout = std::chrono::milliseconds(2000)};
  Format format = size > 0 && (data[size - 1] & 1) ? Format::kPng : Format::kJpeg;
  auto r = render(bytes, ImageParams{.width = 64, .height = 64, .fit = Fit::kCover, .format = format,
                                     .quality = format == Format::kPng ? 0 : 80},
                  limits);
  if (r) FUZZ_CHECK(r->width == 64 && r->height == 64 && !r->bytes.empty());
  return 0;
}
