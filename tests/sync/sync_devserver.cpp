// sync_devserver: a test-only server with just the sync endpoint: http::Server
// + an empty Router + SyncService over a BlobStore in --data. Prints
// "listening on HOST:PORT" like `blobsync serve`, so the interop tests can
// run against either (BLOBSYNC_SYNC_BIN).
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>

#include "http/access_log.h"
#include "http/config.h"
#include "http/metrics.h"
#include "http/router.h"
#include "http/server.h"
#include "store/blob_store.h"
#include "sync/sync_service.h"

using namespace blobsync;

int main(int argc, char** argv) {
  CLI::App app("sync_devserver: the /sync/<room> endpoint alone, for tests");
  std::string listen = "127.0.0.1:0", data = "data", url, log_level = "warn";
  std::vector<std::string> tokens, ro_tokens;
  std::uint64_t idle_ms = 60'000, max_blob = 100ull << 20, compact_updates = 1000;
  unsigned threads = 2;
  bool no_fsync = false;
  app.add_option("--listen", listen, "HOST:PORT (port 0: any)");
  app.add_option("--data", data, "data directory");
  app.add_option("--url", url, "public sync URL (default ws://HOST:PORT/sync)");
  app.add_option("--token", tokens, "read-write token (repeatable)");
  app.add_option("--read-only-token", ro_tokens, "read-only token (repeatable)");
  app.add_option("--room-idle-ms", idle_ms, "unload rooms idle this long");
  app.add_option("--max-blob-bytes", max_blob, "largest blob-channel upload");
  app.add_option("--compact-updates", compact_updates, "fold the log into a snapshot past this many updates");
  app.add_option("--threads", threads, "I/O threads");
  app.add_flag("--no-fsync", no_fsync, "synchronous=NORMAL instead of FULL");
  app.add_option("--log-level", log_level, "spdlog level");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::from_str(log_level));

  auto hp = http::parse_listen(listen);
  if (!hp) {
    std::cerr << hp.error().to_string() << "\n";
    return 2;
  }
  http::ServerConfig config;
  config.data_dir = data;
  config.listen_host = hp->first;
  config.listen_port = hp->second;
  config.threads = threads;

  StoreOptions so;
  so.data_dir = data;
  auto store = BlobStore::open(so);
  if (!store) {
    std::cerr << store.error().to_string() << "\n";
    return 1;
  }
  http::Router router;
  http::Metrics metrics;
  auto log = http::AccessLog::open("off");
  if (!log) return 1;
  http::Server server(config, router, metrics, **log);
  auto bound = server.listen();
  if (!bound) {
    std::cerr << bound.error().to_string() << "\n";
    return 1;
  }

  sync::SyncConfig sc;
  sc.data_dir = data;
  sc.url = url.empty() ? "ws://" + *bound + "/sync" : url;
  sc.tokens = tokens;
  sc.read_only_tokens = ro_tokens;
  sc.room_idle_timeout = std::chrono::milliseconds(idle_ms);
  sc.max_blob_bytes = max_blob;
  sc.compact_updates = compact_updates;
  sc.fsync = !no_fsync;
  auto sync = sync::SyncService::create(sc, **store);
  if (!sync) {
    std::cerr << sync.error().to_string() << "\n";
    return 1;
  }
  (*sync)->attach(server);
  std::printf("listening on %s\n", bound->c_str());
  std::fflush(stdout);
  auto r = server.run();
  (*sync)->stop();
  sync->reset();
  return r ? 0 : 1;
}
