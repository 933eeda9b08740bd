// run_server / run_gc: the bodies of `blobsync serve` and `blobsync gc`,
// kept in the library so tests and the CLI share them.
//
// Config layering (flags > BLOBSYNC_* env > TOML > defaults) is done here from
// the raw values the CLI collected.
//
// Thread safety: call from the main thread.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "core/digest.h"
#include "core/error.h"
#include "http/config.h"

namespace blobsync::http {

class Server;
class Router;
class Api;

// Lets other components (WebSocket rooms) attach to the running server, e.g.
// with Server::add_upgrade_handler("/sync/", ...). Called after the Api
// is open and the port is bound (`bound` is "HOST:PORT"), before the server
// runs. An extension may return a stop hook, run after the server stopped,
// and a heal hook, called (from the scrubber's thread, must not block) for a
// blob the store quarantined: fetch a verified copy from elsewhere.
struct ExtensionHandle {
  std::function<void()> after_stop;
  std::function<void(const Digest&)> heal;
};
using ServeExtension = std::function<Result<ExtensionHandle>(Server&, Router&, Api&, const ServerConfig&,
                                                             const std::string& bound)>;
void add_serve_extension(ServeExtension ext);

struct ConfigSources {
  std::optional<std::string> config_file;  // --config
  ConfigValues defaults;                   // e.g. the CLI's default data dir
  ConfigValues flags;                      // given on the command line
};

// Loads the layered config. Errors name the source and key.
Result<ServerConfig> load_config(const ConfigSources& sources);

// Runs the server until SIGTERM/SIGINT. Prints "listening on HOST:PORT" on
// stdout once the port is bound.
Result<> run_server(const ServerConfig& config);

struct GcRun {
  bool dry_run = false;  // list what would go and why; change nothing
  // Takes this server out of the registries that list a blob before it goes
  // (BlobLifecycle::Withdraw); empty: none.
  std::function<Result<>(const Digest&)> withdraw;
};

// One GC sweep. Prints one JSON line per blob collected (or, with dry_run,
// that would be), {"hash","size","why"}, then a summary line
// {"blobsDeleted","bytesDeleted","released","deferred","claimsDropped"}.
Result<> run_gc(const ServerConfig& config, const GcRun& run);

}  // namespace blobsync::http
