// ConnectionLimits: the server's open connections, in total and per client
// address, HTTP and WebSocket alike (max_connections, max_connections_per_ip).
// A connection holds a slot from accept until its socket closes; an upgraded
// connection's slot moves with it to the WebSocket session
// (UpgradeContext::slot), so WebSocket sessions count too.
//
// Thread safety: safe from any thread; a slot may be released on any thread.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace blobsync::http {

class ConnectionLimits : public std::enable_shared_from_this<ConnectionLimits> {
 public:
  enum class Refusal { kNone, kTotal, kPerAddress };

  ConnectionLimits(std::size_t max_total, std::size_t max_per_address)
      : max_total_(max_total), max_per_address_(max_per_address) {}

  // A slot for one connection from `address` (released when the last copy
  // goes), or nullptr with the reason in `refusal`. REQUIRES: owned by a shared_ptr.
  std::shared_ptr<void> try_open(const boost::asio::ip::address& address, Refusal& refusal);
  std::size_t open() const;
  std::size_t open_from(const boost::asio::ip::address& address) const;

  // What connections are counted under: an IPv4 address (also when mapped
  // into IPv6) as is, an IPv6 address by its /64, which one host may hold whole.
  static std::string address_key(const boost::asio::ip::address& address);

 private:
  void release(const std::string& key);

  const std::size_t max_total_, max_per_address_;
  mutable std::mutex mu_;
  std::size_t open_ = 0;                                // guarded by mu_
  std::unordered_map<std::string, std::size_t> by_key_;  // guarded by mu_
};

}  // namespace blobsync::http
