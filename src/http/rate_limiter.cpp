#include "http/rate_limiter.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace blobsync::http {

RateLimiter::RateLimiter(std::uint32_t count, std::chrono::seconds per, std::size_t max_keys)
    : count_(count), per_seconds_(static_cast<double>(std::max<std::int64_t>(per.count(), 1))),
      max_keys_(std::max<std::size_t>(max_keys, 1)) {}

std::optional<std::chrono::seconds> RateLimiter::take(std::string_view key_view, Clock::time_point now) {
  if (count_ == 0) return std::nullopt;
  const double rate = count_ / per_seconds_;  // tokens per second
  std::lock_guard lock(mu_);
  std::string key(key_view);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) {
      buckets_.erase(lru_.back());
      lru_.pop_back();
    }
    lru_.push_front(key);
    it = buckets_.emplace(std::move(key), Bucket{static_cast<double>(count_), now, lru_.begin()}).first;
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    double elapsed = std::chrono::duration<double>(now - it->second.updated).count();
    if (elapsed > 0) {
      it->second.tokens = std::min<double>(count_, it->second.tokens + elapsed * rate);
      it->second.updated = now;
    }
  }
  Bucket& b = it->second;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return std::nullopt;
  }
  auto wait = static_cast<std::int64_t>(std::ceil((1.0 - b.tokens) / rate));
  return std::chrono::seconds(std::max<std::int64_t>(wait, 1));
}

std::size_t RateLimiter::tracked() const {
  std::lock_guard lock(mu_);
  return buckets_.size();
}

std::string client_address_key(std::string_view remote) {
  std::string host;
  if (remote.starts_with('[')) {
    auto close = remote.find(']');
    host = std::string(remote.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1));
  } else {
    host = std::string(remote.substr(0, remote.rfind(':')));
  }
  unsigned char v6[16];
  if (::inet_pton(AF_INET6, host.c_str(), v6) == 1) {
    static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(v6, v6 + 12, kMapped)) {
      char buf[INET_ADDRSTRLEN];
      if (::inet_ntop(AF_INET, v6 + 12, buf, sizeof buf)) return buf;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%02x%02x:%02x%02x:%02x%02x:%02x%02x::/64", v6[0], v6[1], v6[2], v6[3], v6[4],
                  v6[5], v6[6], v6[7]);
    return buf;
  }
  return host;
}

}  // namespace blobsync::http
