// ConnectionLimits (conn_limits.h): counts kept under one mutex.
#include "http/conn_limits.h"

#include <array>

namespace blobsync::http {

std::string ConnectionLimits::address_key(const boost::asio::ip::address& address) {
  if (address.is_v4()) return address.to_string();
  auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_string();
  auto bytes = v6.to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return boost::asio::ip::address_v6(bytes).to_string() + "/64";
}

std::shared_ptr<void> ConnectionLimits::try_open(const boost::asio::ip::address& address, Refusal& refusal) {
  auto key = address_key(address);
  {
    std::lock_guard lock(mu_);
    if (open_ >= max_total_) {
      refusal = Refusal::kTotal;
      return nullptr;
    }
    auto& n = by_key_[key];
    if (n >= max_per_address_) {
      refusal = Refusal::kPerAddress;
      return nullptr;
    }
    ++n;
    ++open_;
  }
  refusal = Refusal::kNone;
  // The slot points at the limits (never dereferenced); its deleter gives the place back.
  return std::shared_ptr<void>(static_cast<void*>(this),
                               [self = shared_from_this(), key = std::move(key)](void*) { self->release(key); });
}

void ConnectionLimits::release(const std::string& key) {
  std::lock_guard lock(mu_);
  --open_;
  if (auto it = by_key_.find(key); it != by_key_.end() && --it->second == 0) by_key_.erase(it);
}

std::size_t ConnectionLimits::open() const {
  std::lock_guard lock(mu_);
  return open_;
}

std::size_t ConnectionLimits::open_from(const boost::asio::ip::address& address) const {
  std::lock_guard lock(mu_);
  auto it = by_key_.find(address_key(address));
  return it == by_key_.end() ? 0 : it->second;
}

}  // namespace blobsync::http
