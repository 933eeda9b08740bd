// RateLimiter: attempts per key (an account, a client address) as token
// buckets, in bounded memory. Used for logins and sign-ups (config
// `login_rate`, `login_rate_address`, `create_account_rate_address`;
// docs/security.md, "Login").
//
// Each key has a bucket of `count` tokens that refills at count/per; an
// attempt takes one, and is refused when the bucket is empty, with the time
// until the next token. At most `max_keys` keys are tracked: a new key past
// the cap evicts the key used least recently. A key idle for a whole period
// has a full bucket, i.e. no state worth keeping, so eviction only forgets
// attempts when more than max_keys keys were active within one period.
//
// Thread safety: safe for concurrent use (one mutex).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace blobsync::http {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kDefaultMaxKeys = 10'000;

  // count 0: every attempt is allowed and nothing is tracked.
  RateLimiter(std::uint32_t count, std::chrono::seconds per, std::size_t max_keys = kDefaultMaxKeys);

  // Takes one attempt for `key` at `now`: nullopt if allowed, else how long
  // until an attempt would be (at least 1 s, rounded up to whole seconds).
  std::optional<std::chrono::seconds> take(std::string_view key, Clock::time_point now = Clock::now());

  std::size_t tracked() const;

 private:
  struct Bucket {
    double tokens;
    Clock::time_point updated;
    std::list<std::string>::iterator lru;  // position in lru_ (front: most recent)
  };
  const std::uint32_t count_;
  const double per_seconds_;
  const std::size_t max_keys_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // guarded by mu_
  std::list<std::string> lru_;                        // guarded by mu_
};

// The key a client address is limited under: "ip:port" / "[v6]:port" ->
// the IPv4 address, or the IPv6 /64 (one host usually holds a whole /64,
// so counting single IPv6 addresses would limit nothing). An IPv4-mapped
// IPv6 address counts as its IPv4 address.
std::string client_address_key(std::string_view remote);

}  // namespace blobsync::http
