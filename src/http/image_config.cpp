// The image_* config keys (kept out of config.cpp, which is at its size limit).
#include <charconv>

#include "http/config.h"

namespace blobsync::http {

Result<> apply_image_key(ServerConfig& c, std::string_view key, std::string_view value) {
  auto bad = [&](std::string_view want) {
    return fail(Errc::kInvalidArgument, "config '{}': '{}' is not {}", key, value, want);
  };
  if (key == "image_cache_bytes" || key == "image_max_pixels") {
    auto n = parse_size(value);
    if (!n || *n == 0) return bad("a size > 0 (e.g. 1GiB, 100M)");
    (key == "image_cache_bytes" ? c.image_cache_bytes : c.image_max_pixels) = *n;
  } else if (key == "image_timeout") {
    auto d = parse_duration_ms(value);
    if (!d || d->count() == 0) return bad("a duration > 0 (e.g. 10s, 500ms)");
    c.image_timeout = *d;
  } else if (key == "image_workers") {
    unsigned n = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || p != value.data() + value.size() || n == 0 || n > 64) return bad("1..64");
    c.image_workers = n;
  } else {
    return fail(Errc::kInvalidArgument, "unknown config key '{}'", key);
  }
  return {};
}

}  // namespace blobsync::http
