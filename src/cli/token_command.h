// `blobsync token create`: prints a room token (sync/room_token.h) signed
// with the room-token key of a config file or a data directory.
//
// Thread safety: used by the main thread only.
#pragma once

namespace CLI {
class App;
}

namespace blobsync {

struct CliContext;

void add_token_command(CLI::App& app, CliContext& ctx);

}  // namespace blobsync
