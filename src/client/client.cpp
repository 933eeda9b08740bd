#include "client/client.h"

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "client/streaming_download.h"
#include "client/room_client.h"
#include "core/blob_id.h"
#include "crdt/doc.h"
#include "store/blob_store.h"
#include "protocol/registry.h"

namespace blobsync::client {

namespace asio = boost::asio;

// A device's own copies (put, get) are pinned as the CLI's local puts are.
constexpr std::string_view kDevicePin = "pin:cli";

struct Client::Impl {
  ClientOptions options;
  WsUrl server;
  std::shared_ptr<TlsContext> tls;  // one for every wss:// connection
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::thread thread;
  std::unique_ptr<BlobStore> store;
  std::unique_ptr<crdt::Doc> doc = std::make_unique<crdt::Doc>();
  std::shared_ptr<RoomClient> main;
  std::mutex op_mutex;  // one blob operation at a time

  ~Impl() {
    if (main) asio::post(main->strand(), [m = main] { m->close(); });
    work.reset();
    // Give the close handshake a moment, then stop: a server that never
    // answers our close frame must not keep the caller waiting.
    for (int i = 0; i < 50 && !io.stopped(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    io.stop();
    if (thread.joinable()) thread.join();
  }

  // Runs f on `strand` and waits for its Done callback.
  Result<> await_done(Strand& strand, const std::function<void(RoomClient::Done)>& start) {
    auto promise = std::make_shared<std::promise<Result<>>>();
    auto future = promise->get_future();
    asio::post(strand, [start, promise] {
      auto fired = std::make_shared<bool>(false);
      start([promise, fired](Result<> r) {
        if (*fired) return;
        *fired = true;
        promise->set_value(std::move(r));
      });
    });
    return future.get();
  }

  Result<std::shared_ptr<RoomClient>> open_room(const WsUrl& url, bool with_doc) {
    RoomClientOptions o;
    o.server = url;
    o.tls = tls;
    o.room = options.room;
    o.token = options.token;
    o.sync_doc = with_doc;
    o.connect_timeout = options.timeout;
    o.idle_timeout = options.timeout;
    auto room = RoomClient::create(io.get_executor(), o, with_doc ? doc.get() : nullptr);
    auto r = await_done(room->strand(), [room](RoomClient::Done done) { room->open(std::move(done)); });
    if (!r) return std::unexpected(r.error());
    return room;
  }

  // Waits until the main connection reports synced (SyncStep2 received).
  Result<> wait_synced() {
    return await_done(main->strand(), [m = main, timeout = options.timeout](RoomClient::Done done) {
      if (m->is_synced()) return done({});
      auto timer = std::make_shared<asio::steady_timer>(m->strand(), timeout);
      // Whichever comes first completes the wait and cancels the timer, so no
      // stray timer keeps the I/O thread busy afterwards.
      auto finish = std::make_shared<RoomClient::Done>([timer, done = std::move(done)](Result<> r) {
        timer->cancel();
        done(std::move(r));
      });
      m->on_synced([finish] { (*finish)({}); });
      m->on_closed([finish](const Error& e) { (*finish)(std::unexpected(e)); });
      timer->async_wait([finish, timeout](const boost::system::error_code& ec) {
        if (!ec) (*finish)(fail(Errc::kTimeout, "room did not sync within {} ms", timeout.count()));
      });
    });
  }

  std::vector<std::string> holders_of(const Digest& hash) {
    std::vector<std::string> holders;
    auto promise = std::make_shared<std::promise<void>>();
    auto fut = promise->get_future();
    asio::post(main->strand(), [&, promise] {
      if (auto entry = protocol::registry_get(*doc, hash)) holders = entry->holders;
      promise->set_value();
    });
    fut.get();
    return holders;
  }

  // One attempt at one holder: download the missing chunks into `partial`.
  Result<> fetch_from(const std::string& holder, BlobSink& partial, const ProgressFn& progress,
                      std::uint64_t total) {
    auto url = parse_ws_url(holder);
    if (!url) return std::unexpected(url.error());
    std::shared_ptr<RoomClient> room;
    bool temporary = false;
    if (*url == server && main) {
      room = main;
    } else {
      auto opened = open_room(*url, /*with_doc=*/false);
      if (!opened) return std::unexpected(opened.error());
      room = *opened;
      temporary = true;
    }
    auto result = await_done(room->strand(), [room, &partial, progress, total](RoomClient::Done done) {
      room->download(
          partial, [progress, total](std::uint64_t done_bytes) { if (progress) progress(done_bytes, total); },
          std::move(done));
    });
    if (temporary) asio::post(room->strand(), [room] { room->close(); });
    return result;
  }
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::connect(const ClientOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  auto url = parse_ws_url(options.server);
  if (!url) return std::unexpected(url.error());
  impl->server = *url;
  auto tls = TlsContext::create(options.tls);
  if (!tls) return std::unexpected(tls.error());
  impl->tls = std::move(*tls);
  StoreOptions store_options;
  store_options.data_dir = options.data_dir;
  auto store = BlobStore::open(store_options);
  if (!store) return std::unexpected(store.error());
  impl->store = std::move(*store);
  impl->thread = std::thread([io = &impl->io] { io->run(); });
  auto main = impl->open_room(impl->server, options.sync_doc);
  if (!main) return std::unexpected(main.error());
  impl->main = *main;
  if (options.sync_doc)
    if (auto r = impl->wait_synced(); !r) return std::unexpected(r.error());
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Result<> Client::flush() {
  auto& m = impl_->main;
  return impl_->await_done(m->strand(), [m, timeout = impl_->options.timeout](RoomClient::Done done) {
    auto timer = std::make_shared<asio::steady_timer>(m->strand(), timeout);
    auto finish = std::make_shared<RoomClient::Done>([timer, done = std::move(done)](Result<> r) {
      timer->cancel();
      done(std::move(r));  // once: await_done ignores a second call
    });
    timer->async_wait([finish, timeout](const boost::system::error_code& ec) {
      if (!ec) (*finish)(fail(Errc::kTimeout, "updates not sent within {} ms", timeout.count()));
    });
    m->when_sent([finish](Result<> r) { (*finish)(std::move(r)); });
  });
}

Result<BlobRef> Client::put_blob(const std::filesystem::path& file, const ProgressFn& progress) {
  std::lock_guard lock(impl_->op_mutex);
  std::error_code ec;
  std::uint64_t size = std::filesystem::file_size(file, ec);
  if (ec) return fail(Errc::kNotFound, "cannot read {}: {}", file.string(), ec.message());
  PutOptions put;
  put.hold = std::string(kDevicePin);
  auto stored = impl_->store->put_file(file, put, [&](std::uint64_t done) {
    if (progress) progress(done / 2, size);  // local store: first half of the bar
  });
  if (!stored) return std::unexpected(stored.error());
  auto record = impl_->store->stat(stored->hash);  // with chunk hashes
  if (!record) return std::unexpected(record.error());
  std::string filename = file.filename().string();
  auto main = impl_->main;
  auto r = impl_->await_done(main->strand(), [&, main](RoomClient::Done done) {
    main->upload(
        *impl_->store, *record, filename,
        [progress, size](std::uint64_t sent) { if (progress) progress(size / 2 + std::min(sent, size) / 2, size); },
        std::move(done));
  });
  if (!r) return std::unexpected(r.error());
  if (progress) progress(size, size);
  return BlobRef{record->hash, record->size, record->mime_type, filename, record->chunk_count};
}

Result<BlobRecord> Client::get_blob(const Digest& hash, const ProgressFn& progress) {
  std::lock_guard lock(impl_->op_mutex);
  // A quarantined local copy is refetched (the ingest replaces it).
  if (auto local = impl_->store->stat(hash); local && local->quarantine.empty()) return local;

  // Chunks stream into the store as they arrive; a resumable copy is kept
  // in DATA/partial in case this process gives up (another run resumes).
  StreamingOptions streaming;
  streaming.partial_dir = impl_->options.data_dir / "partial";
  streaming.hold = std::string(kDevicePin);
  auto partial = StreamingDownload::open(*impl_->store, hash, streaming);
  if (!partial) return std::unexpected(partial.error());
  auto& sink = **partial;
  if (sink.bytes_present() > 0 && impl_->options.on_resume) impl_->options.on_resume(sink.bytes_present(), sink.size());
  std::mt19937_64 rng(std::random_device{}());
  Error last{Errc::kNotFound, "no holder is listed for " + to_hash_ref(hash)};
  auto backoff = impl_->options.backoff;
  for (int round = 0; round < impl_->options.rounds; ++round) {
    if (round > 0) {
      std::this_thread::sleep_for(backoff);
      backoff *= 2;
    }
    std::vector<std::string> holders = impl_->options.sync_doc ? impl_->holders_of(hash) : std::vector<std::string>{};
    std::shuffle(holders.begin(), holders.end(), rng);
    // Preferred holders first (if listed), in the order given.
    const auto& preferred = impl_->options.preferred_holders;
    for (auto it = preferred.rbegin(); it != preferred.rend(); ++it) {
      auto pos = std::find(holders.begin(), holders.end(), *it);
      if (pos != holders.end()) std::rotate(holders.begin(), pos, pos + 1);
    }
    std::string self = to_string(impl_->server);
    bool listed = std::any_of(holders.begin(), holders.end(), [&](const std::string& h) {
      auto u = parse_ws_url(h);
      return u && *u == impl_->server;
    });
    if (!listed) holders.push_back(self);  // the connected server may have it or fetch it
    for (const auto& holder : holders) {
      auto r = impl_->fetch_from(holder, sink, progress, sink.size());
      if (!r) {
        // Makes what arrived durable before the next holder; if that fails, a
        // later resume fetches those chunks again. The holder's error is the
        // one reported.
        (void)sink.checkpoint();
        last = Error{r.error().code, fmt::format("{}: {}", holder, r.error().message)};
        if (impl_->options.on_holder_error) impl_->options.on_holder_error(holder, r.error());
        continue;
      }
      if (!sink.complete()) continue;
      auto stored = sink.finish();
      if (stored) return impl_->store->stat(hash);
      // Every chunk matched the hashes the holders sent, but not the blob hash:
      // the chunk hashes were lies. finish() reset the download: start over.
      last = stored.error();
    }
  }
  return std::unexpected(Error{last.code, fmt::format("cannot fetch {} after {} rounds: {}", to_hash_ref(hash),
                                                      impl_->options.rounds, last.message)});
}

void Client::with_doc(const std::function<void(crdt::Doc&)>& f) {
  auto promise = std::make_shared<std::promise<void>>();
  auto fut = promise->get_future();
  asio::post(impl_->main->strand(), [&, promise] {
    f(*impl_->doc);
    promise->set_value();
  });
  fut.get();
}

std::string Client::doc_json() {
  std::string json;
  with_doc([&](crdt::Doc& d) { json = d.to_json(); });
  return json;
}

BlobStore& Client::store() { return *impl_->store; }

}  // namespace blobsync::client
