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

#include "core/error.h"
#include "http/config.h"

namespace blobsync::http {

class Server;
class Service;

// Lets other components (WebSocket rooms) attach to the running server, e.g.
// with Server::add_upgrade_handler("/sync/", ...). Called after the service
// is open and before the server runs.
using ServeExtension = std::function<Result<>(Server&, Service&)>;
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

// One GC sweep; prints a JSON report line on stdout.
Result<> run_gc(const ServerConfig& config);

}  // namespace blobsync::http
