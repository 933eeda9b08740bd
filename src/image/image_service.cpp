#include "image/image_service.h"

#include <algorithm>

namespace blobsync::image {

Result<std::unique_ptr<ImageService>> ImageService::open(ImageServiceOptions options) {
  if (auto r = init(); !r) return std::unexpected(r.error());
  std::unique_ptr<ImageService> s(new ImageService(std::move(options)));
  auto cache = ImageCache::open(s->options_.cache_dir, s->options_.cache_bytes);
  if (!cache) return std::unexpected(cache.error());
  s->cache_ = std::move(*cache);
  s->render_slots_ = std::make_unique<std::counting_semaphore<64>>(
      static_cast<std::ptrdiff_t>(std::clamp(s->options_.workers, 1u, 64u)));
  return s;
}

Result<ImageService::Derived> ImageService::get(const Digest& source, const ImageParams& p,
                                                const std::function<Result<std::string>()>& load) {
  const std::string key = cache_key(source, p);
  if (auto hit = cache_->get(key)) return Derived{std::make_shared<const std::string>(std::move(*hit)), Origin::kHit};

  std::promise<Outcome> promise;
  std::shared_future<Outcome> flight;
  {
    std::lock_guard lock(mu_);
    if (auto it = in_flight_.find(key); it != in_flight_.end()) {
      flight = it->second;
    } else {
      flight = promise.get_future().share();
      in_flight_.emplace(key, flight);
      flight = {};  // we lead: compute below
    }
  }
  if (flight.valid()) {  // the same request is being rendered: wait for it
    const Outcome& o = flight.get();
    if (!o) return std::unexpected(o.error());
    return Derived{*o, Origin::kShared};
  }

  // Leader. A render that finished between our miss and our lock put its
  // bytes in the cache: look once more before doing the work again.
  Outcome outcome = [&]() -> Outcome {
    try {  // followers wait on the promise: it must be set, whatever happens
      if (auto hit = cache_->get(key)) return std::make_shared<const std::string>(std::move(*hit));
      // The slot covers the source in memory too, so `workers` bounds both.
      render_slots_->acquire();
      struct Release {
        std::counting_semaphore<64>& s;
        ~Release() { s.release(); }
      } release{*render_slots_};
      auto bytes = load();
      if (!bytes) return std::unexpected(bytes.error());
      auto rendered = render(*bytes, p, options_.limits);
      if (!rendered) return std::unexpected(rendered.error());
      auto shared = std::make_shared<const std::string>(std::move(rendered->bytes));
      // A cache that cannot store (disk full) still serves this answer.
      (void)cache_->put(key, *shared);
      return shared;
    } catch (const std::exception& e) {
      return fail(Errc::kInternal, "image render failed: {}", e.what());
    }
  }();
  promise.set_value(outcome);
  {
    std::lock_guard lock(mu_);
    in_flight_.erase(key);
  }
  if (!outcome) return std::unexpected(outcome.error());
  return Derived{*outcome, Origin::kRendered};
}

}  // namespace blobsync::image
