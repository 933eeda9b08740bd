// `blobsync serve` gains WebSocket rooms (/sync/<room>) and the server mesh
// through an http::ServeExtension registered here; `blobsync peers` shows a
// running server's mesh links.
//
// Thread safety: registration and callbacks run on the main thread only.
#pragma once

namespace CLI {
class App;
}

namespace blobsync {

struct CliContext;

void add_sync_commands(CLI::App& app, CliContext& ctx);

}  // namespace blobsync
