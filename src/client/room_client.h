// RoomClient: one WebSocket connection to a room on a blobsync server
// (`/sync/<room>`), speaking the y-websocket protocol to keep a crdt::Doc in
// sync and the blob channel to upload and download blobs.
//
// It is asynchronous (Asio, C++20 coroutines) so the same class serves the
// blocking C++ client (client.h) and server-to-server replication, which
// runs it on the server's own I/O threads.
//
// A wss:// server is reached over TLS (tls_context.h): SNI, the certificate
// checked against the URL's host; a failed check fails open() with
// "cannot connect to wss://...: certificate verify failed: <reason>".
//
// Thread safety: every method must be called on strand(); every callback is
// invoked there. The Doc passed in must only be touched on that strand.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/strand.hpp>

#include "client/tls_context.h"
#include "client/ws_url.h"
#include "core/error.h"
#include "crdt/fwd.h"
#include "store/fwd.h"
#include "store/metadata.h"

namespace blobsync::client {

class BlobSink;

struct RoomClientOptions {
  WsUrl server;
  // Trust for wss:// (server.tls): share one per process. Null: the
  // system's store, built for this connection.
  std::shared_ptr<TlsContext> tls;
  std::string room;
  std::string token;
  // Keep `doc` in sync with the room. When false (or doc is null) Yjs
  // messages go to `on_yjs_frame` if set (a relay, e.g. server-to-server
  // links) and are ignored otherwise (a connection used only to move blobs).
  bool sync_doc = true;
  std::function<void(std::span<const std::uint8_t>)> on_yjs_frame;
  // Sent as User-Agent, for logs only: a server decides what a connection
  // may do from its token alone (sync/access.h).
  std::string user_agent = "blobsync-client";
  std::chrono::milliseconds connect_timeout{10000};
  // A transfer fails when its holder sends nothing for this long.
  std::chrono::milliseconds idle_timeout{30000};
};

using Strand = boost::asio::strand<boost::asio::any_io_executor>;

class RoomClient : public std::enable_shared_from_this<RoomClient> {
 public:
  using Done = std::function<void(Result<>)>;
  using Progress = std::function<void(std::uint64_t bytes_done)>;

  // REQUIRES: doc (if not null) outlives the client and is used only on strand().
  static std::shared_ptr<RoomClient> create(boost::asio::any_io_executor ex, RoomClientOptions options,
                                            crdt::Doc* doc);
  ~RoomClient();

  Strand& strand();

  // Connects; `on_open` gets the handshake's result. With a doc, the client
  // then sends SyncStep1 and `on_synced` fires once the server's SyncStep2
  // arrived. Local doc updates are sent as they happen.
  void open(Done on_open);
  void on_synced(std::function<void()> f);
  // Called once when the connection ends (error or close()).
  void on_closed(std::function<void(const Error&)> f);
  bool is_open() const;
  bool is_synced() const;

  // Downloads the chunks `sink` lacks. REQUIRES: sink outlives the call.
  void download(BlobSink& sink, Progress progress, Done done);
  // Uploads a blob held in `store` (record with chunk hashes).
  void upload(BlobStore& store, BlobRecord record, std::string filename, Progress progress, Done done);

  // Queues one raw frame (a Yjs message being relayed). Frames are sent in
  // order, one per WebSocket message.
  void send_frame(std::vector<std::uint8_t> frame);

  // Calls `done` once every frame queued so far is written to the socket
  // (success), or the connection ended first (its error). Strand.
  void when_sent(Done done);

  void close();

  struct Impl;  // opaque; defined in room_client.cpp

 private:
  explicit RoomClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace blobsync::client
