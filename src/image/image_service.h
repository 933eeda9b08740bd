// ImageService: a derived image by (source hash, params): from the cache,
// or rendered once however many requests ask for it at the same time
// (single flight), then cached. The HTTP layer calls only this, render.h's
// init() and can_save().
//
// Rendering runs on the calling thread, at most `workers` at once (the
// others wait for a slot); cache hits and waiters of a render in flight take
// no slot, so they are not held up by renders of other images beyond the
// caller's own thread pool.
//
// Thread safety: get() may be called from any number of threads at once.
#pragma once

#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <semaphore>
#include <string>
#include <unordered_map>

#include "core/digest.h"
#include "core/error.h"
#include "image/image_cache.h"
#include "image/image_params.h"
#include "image/render.h"

namespace blobsync::image {

struct ImageServiceOptions {
  std::filesystem::path cache_dir;           // DATA/image-cache
  std::uint64_t cache_bytes = 1ull << 30;    // image_cache_bytes
  RenderLimits limits;                       // image_max_pixels, image_timeout
  unsigned workers = 2;                      // image_workers: renders at once (1..64)
};

class ImageService {
 public:
  // Starts libvips and opens the cache. Errors: kInternal, kIOError.
  static Result<std::unique_ptr<ImageService>> open(ImageServiceOptions options);

  enum class Origin { kHit, kRendered, kShared };  // X-Image-Cache: hit, miss, shared
  struct Derived {
    std::shared_ptr<const std::string> bytes;
    Origin origin = Origin::kHit;
  };
  // Reads the source with `load` only when nothing cached or in flight has
  // the answer. Errors: load's own, and render()'s (render.h). A failed
  // render is not cached: the next request tries again.
  Result<Derived> get(const Digest& source, const ImageParams& p,
                      const std::function<Result<std::string>()>& load);

  ImageCache& cache() { return *cache_; }
  const RenderLimits& limits() const { return options_.limits; }

 private:
  using Outcome = Result<std::shared_ptr<const std::string>>;
  explicit ImageService(ImageServiceOptions o) : options_(std::move(o)) {}

  ImageServiceOptions options_;
  std::unique_ptr<ImageCache> cache_;
  std::unique_ptr<std::counting_semaphore<64>> render_slots_;  // `workers` of them
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_future<Outcome>> in_flight_;  // guarded by mu_
};

}  // namespace blobsync::image
