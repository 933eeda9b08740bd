// The vips C API is used directly (not vips-cpp): it is what the Debian
// package guarantees, and every call's failure is a plain return code.
#include "image/render.h"

#include <vips/vips.h>
#include <webp/mux.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>

namespace blobsync::image {

namespace {

// Owns one VipsImage reference.
struct Img {
  VipsImage* p = nullptr;
  Img() = default;
  Img(const Img&) = delete;
  Img& operator=(const Img&) = delete;
  ~Img() {
    if (p) g_object_unref(p);
  }
  void reset(VipsImage* n) {
    if (p) g_object_unref(p);
    p = n;
  }
};

// libvips' error text (its buffer is global: cleared after each read).
std::string vips_message() {
  std::string m = vips_error_buffer();
  vips_error_clear();
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  if (auto nl = m.rfind('\n'); nl != std::string::npos) m = m.substr(nl + 1);  // the last line says most
  return m.empty() ? std::string("libvips failed") : m;
}

// Decoders this server lets hostile bytes reach: the common web formats.
// TIFF, PDF, SVG, RAW and ImageMagick's long tail are refused (415).
bool allowed_loader(const char* name) {
  static constexpr const char* kAllowed[] = {"VipsForeignLoadJpegBuffer", "VipsForeignLoadPngBuffer",
                                             "VipsForeignLoadWebpBuffer", "VipsForeignLoadNsgifBuffer",
                                             "VipsForeignLoadHeifBuffer", "jpegload_buffer",
                                             "pngload_buffer",            "webpload_buffer",
                                             "gifload_buffer",            "heifload_buffer"};
  for (const char* a : kAllowed)
    if (std::strcmp(a, name) == 0) return true;
  return false;
}

struct Deadline {
  std::chrono::steady_clock::time_point end;
  std::atomic<bool> fired{false};
};

// The "eval" signal comes between tiles while pixels are computed: past the
// deadline, kill the evaluation (the saver then fails and we report kTimeout).
void on_eval(VipsImage* image, VipsProgress*, void* user) {
  auto* d = static_cast<Deadline*>(user);
  if (std::chrono::steady_clock::now() > d->end) {
    d->fired.store(true);
    vips_image_set_kill(image, TRUE);
  }
}

// Drops libvips' warnings (a hostile upload can produce thousands); its
// errors reach the caller through the error buffer instead.
void quiet(const gchar*, GLogLevelFlags, const gchar*, gpointer) {}

// libvips 8.14.1's webpsave writes an EXIF chunk (orientation, resolution)
// even with `strip` (and with no metadata on the image at all): libwebp's own
// mux API takes the metadata chunks out again.
Result<std::string> strip_webp(const void* buf, size_t len) {
  WebPData in{static_cast<const std::uint8_t*>(buf), len};
  WebPMux* mux = WebPMuxCreate(&in, 0);
  if (!mux) return fail(Errc::kInternal, "libwebp cannot parse the WebP libvips wrote");
  for (const char* chunk : {"EXIF", "XMP ", "ICCP"}) (void)WebPMuxDeleteChunk(mux, chunk);  // absent: fine
  WebPData out{};
  WebPMuxError err = WebPMuxAssemble(mux, &out);
  WebPMuxDelete(mux);
  if (err != WEBP_MUX_OK) return fail(Errc::kInternal, "libwebp cannot rewrite the WebP ({})", static_cast<int>(err));
  std::string bytes(reinterpret_cast<const char*>(out.bytes), out.size);
  WebPDataClear(&out);
  return bytes;
}

Error timeout_error(const RenderLimits& l) {
  return Error{Errc::kTimeout, fmt::format("the image took longer than {} ms to render (image_timeout)",
                                           l.timeout.count())};
}

}  // namespace

Result<> init() {
  static std::once_flag once;
  static bool ok = false;
  static std::string why;
  std::call_once(once, [] {
    if (VIPS_INIT("blobsync") != 0) {
      why = vips_message();
      return;
    }
    // One worker per pipeline: the caller's pool (image_workers) is then
    // the bound on CPU. No operation cache: every render is of new bytes,
    // and a cache would hold decoded sources in memory.
    vips_concurrency_set(1);
    vips_cache_set_max(0);
    vips_cache_set_max_mem(0);
    vips_cache_set_max_files(0);
    vips_block_untrusted_set(TRUE);
    g_log_set_handler("VIPS", static_cast<GLogLevelFlags>(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE), quiet,
                      nullptr);
    ok = true;
  });
  if (!ok) return fail(Errc::kInternal, "libvips did not start: {}", why);
  return {};
}

bool can_save(Format f) {
  if (f != Format::kAvif) return true;
  static const bool heif = vips_type_find("VipsOperation", "heifsave_buffer") != 0;
  return heif;
}

Result<Rendered> render(std::string_view source, const ImageParams& p, const RenderLimits& limits) {
  if (auto r = init(); !r) return std::unexpected(r.error());
  if (!can_save(p.format))
    return fail(Errc::kUnsupported, "this server's libvips cannot write {}", format_name(p.format));
  void* data = const_cast<char*>(source.data());  // libvips reads buffers through non-const pointers
  const char* loader = source.empty() ? nullptr : vips_foreign_find_load_buffer(data, source.size());
  vips_error_clear();
  if (!loader || !allowed_loader(loader))
    return fail(Errc::kUnsupported, "not an image this server decodes (JPEG, PNG, WebP, GIF, HEIF/AVIF)");

  // The header alone first: the pixel limit is checked before any pixel
  // is decoded (a 50000x50000 PNG of a few hundred bytes stops here).
  {
    Img head;
    head.p = vips_image_new_from_buffer(data, source.size(), "", "access", VIPS_ACCESS_SEQUENTIAL, nullptr);
    if (!head.p) return fail(Errc::kInvalidArgument, "cannot read the image header: {}", vips_message());
    std::uint64_t w = static_cast<std::uint64_t>(vips_image_get_width(head.p));
    std::uint64_t h = static_cast<std::uint64_t>(vips_image_get_height(head.p));
    std::uint64_t pages = static_cast<std::uint64_t>(std::max(1, vips_image_get_n_pages(head.p)));
    std::uint64_t pixels = 0;
    if (__builtin_mul_overflow(w, h, &pixels) || __builtin_mul_overflow(pixels, pages, &pixels) ||
        pixels > limits.max_pixels)
      return fail(Errc::kTooLarge, "the image declares {}x{} pixels x {} frame(s), over the limit of {} (image_max_pixels)",
                  w, h, pages, limits.max_pixels);
  }

  // Shrink-on-load: thumbnail picks a JPEG/WebP/HEIF decode scale from the
  // header, so a 12 MP JPEG is never decoded at full size. It also rotates
  // by the EXIF orientation, turns an embedded profile into sRGB, and takes
  // the first frame of an animation. (fail_on goes through the loader's
  // option string: 8.14.1's thumbnail_buffer ignores its own fail_on.)
  const int box_w = p.width ? p.width : VIPS_MAX_COORD;
  const int box_h = p.height ? p.height : VIPS_MAX_COORD;
  Img img;
  if (vips_thumbnail_buffer(data, source.size(), &img.p, box_w, "height", box_h, "size",
                            p.fit == Fit::kInside ? VIPS_SIZE_DOWN : VIPS_SIZE_BOTH, "crop",
                            p.fit == Fit::kCover ? VIPS_INTERESTING_CENTRE : VIPS_INTERESTING_NONE,
                            "export_profile", "srgb", "option_string", "fail_on=truncated", nullptr) != 0)
    return fail(Errc::kInvalidArgument, "cannot decode the image: {}", vips_message());

  // Colour to sRGB before the metadata (and with it the profile) goes.
  if (vips_image_get_interpretation(img.p) != VIPS_INTERPRETATION_sRGB) {
    VipsImage* out = nullptr;
    if (vips_colourspace(img.p, &out, VIPS_INTERPRETATION_sRGB, nullptr) != 0)
      return fail(Errc::kInvalidArgument, "cannot convert the image to sRGB: {}", vips_message());
    img.reset(out);
  }
  if (vips_image_get_format(img.p) != VIPS_FORMAT_UCHAR) {
    VipsImage* out = nullptr;
    if (vips_cast_uchar(img.p, &out, nullptr) != 0)
      return fail(Errc::kInvalidArgument, "cannot convert the image to 8 bits: {}", vips_message());
    img.reset(out);
  }
  const bool alpha = vips_image_hasalpha(img.p);
  if (alpha && p.format == Format::kJpeg) {  // JPEG has no alpha: onto white
    VipsArrayDouble* white = vips_array_double_newv(3, 255.0, 255.0, 255.0);
    VipsImage* out = nullptr;
    int rc = vips_flatten(img.p, &out, "background", white, nullptr);
    vips_area_unref(VIPS_AREA(white));
    if (rc != 0) return fail(Errc::kInvalidArgument, "cannot flatten the image: {}", vips_message());
    img.reset(out);
  }
  if (p.fit == Fit::kContain &&
      (vips_image_get_width(img.p) != p.width || vips_image_get_height(img.p) != p.height)) {
    // Letterbox: transparent where the format has alpha, else white.
    bool has_alpha = vips_image_hasalpha(img.p);
    int bands = vips_image_get_bands(img.p);
    VipsArrayDouble* bg = has_alpha ? vips_array_double_newv(bands == 4 ? 4 : 2, 0.0, 0.0, 0.0, 0.0)
                                    : vips_array_double_newv(bands == 3 ? 3 : 1, 255.0, 255.0, 255.0);
    VipsImage* out = nullptr;
    int rc = vips_gravity(img.p, &out, VIPS_COMPASS_DIRECTION_CENTRE, p.width, p.height, "extend",
                          VIPS_EXTEND_BACKGROUND, "background", bg, nullptr);
    vips_area_unref(VIPS_AREA(bg));
    if (rc != 0) return fail(Errc::kInvalidArgument, "cannot pad the image: {}", vips_message());
    img.reset(out);
  }

  // Metadata goes from the image itself, not only through the savers'
  // `strip`: libvips 8.14's webpsave still wrote the source's EXIF with it.
  {
    VipsImage* out = nullptr;
    if (vips_copy(img.p, &out, nullptr) != 0)
      return fail(Errc::kInternal, "cannot copy the image: {}", vips_message());
    img.reset(out);
    gchar** fields = vips_image_get_fields(img.p);
    static constexpr std::string_view kDrop[] = {"exif", "xmp", "iptc", "icc", "photoshop", "gps", "orientation"};
    for (gchar** f = fields; f && *f; ++f) {
      std::string_view name(*f);
      if (std::any_of(std::begin(kDrop), std::end(kDrop), [&](std::string_view d) { return name.starts_with(d); }))
        vips_image_remove(img.p, *f);
    }
    g_strfreev(fields);
  }

  Deadline deadline;
  deadline.end = std::chrono::steady_clock::now() + limits.timeout;
  vips_image_set_progress(img.p, TRUE);
  gulong eval_handler = g_signal_connect(img.p, "eval", G_CALLBACK(on_eval), &deadline);

  void* buf = nullptr;
  size_t len = 0;
  int rc = -1;
  // strip: no EXIF, XMP, IPTC or ICC in what we serve (GPS positions
  // and camera serials stay with the original).
  switch (p.format) {
    case Format::kJpeg:
      rc = vips_jpegsave_buffer(img.p, &buf, &len, "Q", p.quality, "strip", TRUE, nullptr);
      break;
    case Format::kWebp:
      rc = vips_webpsave_buffer(img.p, &buf, &len, "Q", p.quality, "strip", TRUE, nullptr);
      break;
    case Format::kPng:
      rc = vips_pngsave_buffer(img.p, &buf, &len, "strip", TRUE, "compression", 6, nullptr);
      break;
    case Format::kAvif:
      rc = vips_heifsave_buffer(img.p, &buf, &len, "Q", p.quality, "compression",
                                VIPS_FOREIGN_HEIF_COMPRESSION_AV1, "effort", 2, "strip", TRUE, nullptr);
      break;
  }
  g_signal_handler_disconnect(img.p, eval_handler);  // `deadline` dies before `img`
  Rendered r;
  r.width = vips_image_get_width(img.p);
  r.height = vips_image_get_height(img.p);
  if (rc != 0 || deadline.fired.load()) {
    g_free(buf);
    if (deadline.fired.load()) {
      vips_error_clear();
      return std::unexpected(timeout_error(limits));
    }
    return fail(Errc::kInvalidArgument, "cannot decode the image: {}", vips_message());
  }
  if (p.format == Format::kWebp) {
    auto stripped = strip_webp(buf, len);
    g_free(buf);
    if (!stripped) return std::unexpected(stripped.error());
    r.bytes = std::move(*stripped);
    return r;
  }
  r.bytes.assign(static_cast<const char*>(buf), len);
  g_free(buf);
  return r;
}

}  // namespace blobsync::image
