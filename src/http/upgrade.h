// UpgradeContext: what the HTTP server hands to another component when a
// request asks to switch protocols (WebSocket /sync/<room>, issue 5).
//
// The receiver owns the stream (TCP or TLS, already past its handshake) from then on (timeouts are disabled at
// hand-over; set your own), gets the parsed upgrade request (pass it to
// websocket::stream::async_accept) and any bytes already read past the
// request head.
//
// `slot` is the connection's place under max_connections and
// max_connections_per_ip (conn_limits.h): keep it while the connection lives.
//
// Thread safety: the stream's executor is a strand; use it from there.
#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <memory>

#include "http/server_stream.h"

namespace blobsync::http {

struct UpgradeContext {
  ServerStream stream;  // plain TCP or TLS (server_stream.h)
  boost::beast::http::request<boost::beast::http::string_body> request;
  boost::beast::flat_buffer buffer;
  std::shared_ptr<void> slot;
};

}  // namespace blobsync::http
