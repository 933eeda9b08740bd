#include "client/room_client.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <deque>
#include <utility>
#include <vector>
#include <map>
#include <optional>

#include "client/blob_transfer.h"
#include "client/blob_sink.h"
#include "core/chunking.h"
#include "crdt/doc.h"
#include "crdt/lib0.h"
#include "protocol/blob_messages.h"
#include "protocol/y_protocol.h"

namespace blobsync::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using PlainWs = websocket::stream<beast::tcp_stream>;
using TlsWs = websocket::stream<asio::ssl::stream<beast::tcp_stream>>;

namespace {

constexpr std::size_t kMaxFrame = protocol::kMaxBlobFrame + 1024;

Error net_error(const boost::system::error_code& ec, std::string_view what) {
  Errc code = ec == asio::error::operation_aborted ? Errc::kCancelled
              : ec == beast::error::timeout         ? Errc::kTimeout
                                                    : Errc::kIOError;
  return Error{code, fmt::format("{}: {}", what, ec.message())};
}

using protocol::kMsgAuth;
using protocol::kMsgSync;
using protocol::kSyncStep1;
using protocol::kSyncStep2;
using protocol::kSyncUpdate;

Frame sync_frame(std::uint64_t sub, const crdt::Bytes& payload) {
  crdt::Encoder e;
  e.write_var_uint(kMsgSync);
  e.write_var_uint(sub);
  e.write_var_bytes(payload);
  return e.take();
}

}  // namespace

struct Transfer {
  std::unique_ptr<DownloadSession> down;
  std::unique_ptr<UploadSession> up;
  RoomClient::Progress progress;
  RoomClient::Done done;
  std::unique_ptr<asio::steady_timer> idle;
  std::uint64_t bytes = 0;
};

struct RoomClient::Impl {
  Impl(asio::any_io_executor ex, RoomClientOptions o, crdt::Doc* d)
      : strand(asio::make_strand(ex)), opts(std::move(o)), doc(d) {}

  // f(stream) on whichever stream is in use; both calls return the same type.
  template <class F>
  decltype(auto) ws(F&& f) {
    return tls ? f(*tls) : f(*plain);
  }

  Strand strand;
  RoomClientOptions opts;
  crdt::Doc* doc;
  std::shared_ptr<TlsContext> tls_ctx;  // declared first: outlives `tls`, which refers to it
  // One of the two, chosen by the URL's scheme when run() starts (a stream
  // chosen at run time: only this file instantiates Beast over TLS).
  std::optional<PlainWs> plain;
  std::optional<TlsWs> tls;
  std::deque<Frame> outq;
  bool writing = false, open = false, synced = false, closed = false;
  std::map<std::uint64_t, std::unique_ptr<Transfer>> transfers;
  std::uint64_t next_req = 1;  // odd: we opened the connection (docs/protocol.md)
  int update_handle = 0;
  std::function<void()> synced_cb;
  std::function<void(const Error&)> closed_cb;
  std::vector<RoomClient::Done> sent_cbs;  // when_sent(): told once outq is written (or the connection ends)
};

std::shared_ptr<RoomClient> RoomClient::create(asio::any_io_executor ex, RoomClientOptions options, crdt::Doc* doc) {
  return std::shared_ptr<RoomClient>(new RoomClient(std::make_unique<Impl>(ex, std::move(options), doc)));
}

RoomClient::RoomClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RoomClient::~RoomClient() {
  if (impl_->doc && impl_->update_handle) impl_->doc->off(impl_->update_handle);
}

Strand& RoomClient::strand() { return impl_->strand; }
bool RoomClient::is_open() const { return impl_->open && !impl_->closed; }
bool RoomClient::is_synced() const { return impl_->synced; }
void RoomClient::on_synced(std::function<void()> f) { impl_->synced_cb = std::move(f); }
void RoomClient::on_closed(std::function<void(const Error&)> f) { impl_->closed_cb = std::move(f); }

namespace {

// The pieces of the protocol that need the shared pointer to keep the client
// alive across suspension points live in these free coroutines.
asio::awaitable<void> write_loop(std::shared_ptr<RoomClient> self, RoomClient::Impl* s);

}  // namespace

// Fails every outstanding transfer and reports the close once.
static void shutdown(RoomClient::Impl* s, const Error& why) {
  if (s->closed) return;
  s->closed = true;
  auto transfers = std::move(s->transfers);
  s->transfers.clear();
  for (auto& [req, t] : transfers) {
    if (t->idle) t->idle->cancel();
    if (t->done) t->done(std::unexpected(why));
  }
  for (auto& f : std::exchange(s->sent_cbs, {})) f(std::unexpected(why));
  if (s->closed_cb) s->closed_cb(why);
}

static void queue_frame(const std::shared_ptr<RoomClient>& self, RoomClient::Impl* s, Frame frame) {
  if (s->closed) return;
  s->outq.push_back(std::move(frame));
  if (!s->writing) {
    s->writing = true;
    asio::co_spawn(s->strand, write_loop(self, s), asio::detached);
  }
}

namespace {

// `self` keeps the client alive while the coroutine is suspended.
asio::awaitable<void> write_loop(std::shared_ptr<RoomClient> self, RoomClient::Impl* s) {
  boost::system::error_code ec;
  (void)self;
  while (!s->outq.empty() && !s->closed) {
    Frame frame = std::move(s->outq.front());
    s->outq.pop_front();
    co_await s->ws([&](auto& ws) {
      return ws.async_write(asio::buffer(frame), asio::redirect_error(asio::use_awaitable, ec));
    });
    if (ec) {
      shutdown(s, net_error(ec, "send failed"));
      break;
    }
  }
  s->writing = false;
  if (!s->closed)
    for (auto& f : std::exchange(s->sent_cbs, {})) f({});
}

void finish_transfer(RoomClient::Impl* s, std::uint64_t req, Result<> result) {
  auto it = s->transfers.find(req);
  if (it == s->transfers.end()) return;
  auto t = std::move(it->second);
  s->transfers.erase(it);
  if (t->idle) t->idle->cancel();
  if (t->done) t->done(std::move(result));
}

void arm_idle_timer(const std::shared_ptr<RoomClient>& self, RoomClient::Impl* s, std::uint64_t req, Transfer& t) {
  if (!t.idle) t.idle = std::make_unique<asio::steady_timer>(s->strand);
  t.idle->expires_after(s->opts.idle_timeout);
  t.idle->async_wait([self, s, req](const boost::system::error_code& ec) {
    if (ec) return;  // re-armed or cancelled
    queue_frame(self, s, protocol::encode_blob_message(protocol::CancelMsg{req}));
    finish_transfer(s, req, fail(Errc::kTimeout, "holder sent nothing for {} ms", s->opts.idle_timeout.count()));
  });
}

void handle_blob_frame(const std::shared_ptr<RoomClient>& self, RoomClient::Impl* s, std::span<const std::uint8_t> f) {
  std::uint64_t req = 0;
  auto msg = protocol::decode_blob_message(f, &req);
  auto it = s->transfers.find(req);
  if (it == s->transfers.end()) return;  // late message for a finished transfer
  Transfer& t = *it->second;
  if (!msg) return finish_transfer(s, req, fail(Errc::kInvalidArgument, "holder sent a malformed message: {}",
                                                 msg.error().message));
  std::vector<Frame> out;
  Result<TransferStatus> status = t.down ? t.down->on_message(*msg, out) : t.up->on_message(*msg, out);
  for (auto& frame : out) queue_frame(self, s, std::move(frame));
  if (!status) {
    if (!std::holds_alternative<protocol::ErrorMsg>(*msg))
      queue_frame(self, s, protocol::encode_blob_message(protocol::CancelMsg{req}));
    return finish_transfer(s, req, std::unexpected(status.error()));
  }
  if (auto* chunk = std::get_if<protocol::ChunkMsg>(&*msg); chunk && t.down) t.bytes += chunk->data.size();
  if (t.up) t.bytes = t.up->chunks_sent() * kChunkSize;
  if (t.progress) t.progress(t.bytes);
  if (*status == TransferStatus::kDone) return finish_transfer(s, req, {});
  arm_idle_timer(self, s, req, t);
}

void handle_yjs_frame(const std::shared_ptr<RoomClient>& self, RoomClient::Impl* s, std::span<const std::uint8_t> f) {
  if (!s->doc || !s->opts.sync_doc) {
    if (s->opts.on_yjs_frame) s->opts.on_yjs_frame(f);
    return;
  }
  crdt::Decoder d(f);
  std::uint64_t type = d.read_var_uint();
  if (!d.ok()) return;
  if (type == kMsgSync) {
    std::uint64_t sub = d.read_var_uint();
    crdt::Bytes payload = d.read_var_bytes();
    if (!d.ok()) return;
    if (sub == kSyncStep1) {
      auto update = s->doc->encode_state_as_update_for(payload);
      if (update) queue_frame(self, s, sync_frame(kSyncStep2, *update));
    } else if (sub == kSyncStep2 || sub == kSyncUpdate) {
      // A bad update from the server is dropped; the connection stays useful.
      (void)s->doc->apply_update(payload, self.get());
      if (sub == kSyncStep2 && !s->synced) {
        s->synced = true;
        if (s->synced_cb) s->synced_cb();
      }
    }
  } else if (type == kMsgAuth) {
    shutdown(s, Error{Errc::kForbidden, "server denied access to the room"});
    s->ws([&](auto& ws) { ws.async_close(websocket::close_code::normal, [self](const boost::system::error_code&) {}); });
  }
  // Awareness (1) and queryAwareness (3): this client publishes no awareness state.
}

// Sets up the TLS stream for a wss:// server. Errors: a bad context or host.
Result<> make_tls_stream(RoomClient::Impl* s) {
  if (!s->opts.tls) {
    auto ctx = TlsContext::create({});
    if (!ctx) return std::unexpected(ctx.error());
    s->opts.tls = *ctx;
  }
  s->tls_ctx = s->opts.tls;
  s->tls.emplace(s->strand, s->tls_ctx->native());
  return tls_prepare(s->tls->next_layer().native_handle(), s->opts.server.host);
}

asio::awaitable<void> run(std::shared_ptr<RoomClient> self, RoomClient::Impl* s, RoomClient::Done on_open) {
  boost::system::error_code ec;
  std::string where = to_string(s->opts.server);
  auto give_up = [&](Error e) {
    s->closed = true;
    on_open(std::unexpected(std::move(e)));
  };
  if (s->opts.server.tls) {
    if (auto r = make_tls_stream(s); !r)
      co_return give_up(Error{r.error().code, "cannot connect to " + where + ": " + r.error().message});
  } else {
    s->plain.emplace(s->strand);
  }
  tcp::resolver resolver(s->strand);
  auto endpoints = co_await resolver.async_resolve(s->opts.server.host, s->opts.server.port,
                                                   asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return give_up(net_error(ec, "cannot resolve " + s->opts.server.host));
  auto& tcp_layer = s->ws([](auto& ws) -> beast::tcp_stream& { return beast::get_lowest_layer(ws); });
  // One deadline for connect, TLS and WebSocket handshakes together.
  tcp_layer.expires_after(s->opts.connect_timeout);
  co_await tcp_layer.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
  if (!ec && s->tls) {
    co_await s->tls->next_layer().async_handshake(asio::ssl::stream_base::client,
                                                  asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      Errc code = ec == beast::error::timeout ? Errc::kTimeout : Errc::kIOError;
      co_return give_up(Error{code, fmt::format("cannot connect to {}: {}", where,
                                                tls_failure(s->tls->next_layer().native_handle(), ec))});
    }
  }
  if (!ec) {
    std::string host = s->opts.server.host + ":" + s->opts.server.port;
    if (host.find(':') != host.rfind(':')) host = "[" + s->opts.server.host + "]:" + s->opts.server.port;
    std::string target = room_target(s->opts.server, s->opts.room, s->opts.token);
    co_await s->ws([&](auto& ws) {
      ws.set_option(websocket::stream_base::decorator([ua = s->opts.user_agent](websocket::request_type& req) {
        req.set(beast::http::field::user_agent, ua);
      }));
      ws.read_message_max(kMaxFrame);
      return ws.async_handshake(host, target, asio::redirect_error(asio::use_awaitable, ec));
    });
  }
  if (ec) co_return give_up(net_error(ec, "cannot connect to " + where));
  tcp_layer.expires_never();
  s->ws([](auto& ws) {
    websocket::stream_base::timeout t = websocket::stream_base::timeout::suggested(beast::role_type::client);
    t.keep_alive_pings = true;  // the server must hear from us even while we only receive
    t.idle_timeout = std::chrono::seconds(60);
    ws.set_option(t);
    ws.binary(true);
  });
  s->open = true;

  if (s->doc && s->opts.sync_doc) {
    RoomClient* raw = self.get();
    std::weak_ptr<RoomClient> weak = self;
    s->update_handle = s->doc->on_update([weak, raw, s](const crdt::Bytes& update, const crdt::Transaction& txn) {
      if (txn.origin == raw) return;  // it came from the server
      if (auto strong = weak.lock()) queue_frame(strong, s, sync_frame(kSyncUpdate, update));
    });
    queue_frame(self, s, sync_frame(kSyncStep1, s->doc->encode_state_vector()));
  }
  on_open({});

  beast::flat_buffer buffer;
  while (!s->closed) {
    co_await s->ws([&](auto& ws) { return ws.async_read(buffer, asio::redirect_error(asio::use_awaitable, ec)); });
    if (ec) {
      shutdown(s, ec == websocket::error::closed ? Error{Errc::kCancelled, "connection closed"}
                                                 : net_error(ec, "connection lost"));
      break;
    }
    auto data = buffer.cdata();
    std::span<const std::uint8_t> frame(static_cast<const std::uint8_t*>(data.data()), data.size());
    if (protocol::is_blob_frame(frame)) handle_blob_frame(self, s, frame);
    else handle_yjs_frame(self, s, frame);
    buffer.consume(buffer.size());
  }
}

}  // namespace

void RoomClient::open(Done on_open) {
  asio::co_spawn(impl_->strand, run(shared_from_this(), impl_.get(), std::move(on_open)), asio::detached);
}

void RoomClient::download(BlobSink& partial, Progress progress, Done done) {
  auto* s = impl_.get();
  if (s->closed || !s->open) return done(fail(Errc::kIOError, "connection is not open"));
  std::uint64_t req = s->next_req;
  s->next_req += 2;
  auto t = std::make_unique<Transfer>();
  t->down = std::make_unique<DownloadSession>(req, partial);
  t->progress = std::move(progress);
  t->done = std::move(done);
  t->bytes = partial.bytes_present();
  Frame first = t->down->request_frame();
  auto& ref = *t;
  s->transfers.emplace(req, std::move(t));
  auto self = shared_from_this();
  queue_frame(self, s, std::move(first));
  arm_idle_timer(self, s, req, ref);
}

void RoomClient::upload(BlobStore& store, BlobRecord record, std::string filename, Progress progress, Done done) {
  auto* s = impl_.get();
  if (s->closed || !s->open) return done(fail(Errc::kIOError, "connection is not open"));
  std::uint64_t req = s->next_req;
  s->next_req += 2;
  auto t = std::make_unique<Transfer>();
  t->up = std::make_unique<UploadSession>(req, store, std::move(record), std::move(filename));
  t->progress = std::move(progress);
  t->done = std::move(done);
  Frame first = t->up->upload_frame();
  auto& ref = *t;
  s->transfers.emplace(req, std::move(t));
  auto self = shared_from_this();
  queue_frame(self, s, std::move(first));
  arm_idle_timer(self, s, req, ref);
}

void RoomClient::send_frame(std::vector<std::uint8_t> frame) {
  queue_frame(shared_from_this(), impl_.get(), std::move(frame));
}

void RoomClient::when_sent(Done done) {
  auto* s = impl_.get();
  if (s->closed) return done(fail(Errc::kCancelled, "connection closed"));
  if (s->outq.empty() && !s->writing) return done({});
  s->sent_cbs.push_back(std::move(done));
}

void RoomClient::close() {
  auto* s = impl_.get();
  if (s->closed) return;
  bool was_open = s->open;
  shutdown(s, Error{Errc::kCancelled, "connection closed"});
  if (was_open) {
    auto self = shared_from_this();
    s->ws([&](auto& ws) { ws.async_close(websocket::close_code::normal, [self](const boost::system::error_code&) {}); });
  }
}

}  // namespace blobsync::client
