// `blobsync serve`: the HTTP server (see src/http/run.h and docs/http.md).
#pragma once

namespace CLI {
class App;
}

namespace blobsync {

struct CliContext;

// Adds `serve` with --listen, --config and one flag per config key.
void add_serve_command(CLI::App& app, CliContext& ctx);

}  // namespace blobsync
