// `blobsync ydoc ...`: inspect Yjs update files without a server.
//   ydoc json FILE... [--map N] [--array N] [--text N] [--xml N]
//   ydoc sv FILE
//   ydoc merge FILE... -o OUT
//   ydoc diff FILE --sv SVFILE -o OUT
// Bad input prints one line on stderr and exits non-zero.
//
// Thread safety: registration and callbacks run on the main thread only.
#pragma once

namespace CLI {
class App;
}

namespace blobsync {

// Adds (or extends) the `ydoc` subcommand of app.
void add_ydoc_command(CLI::App& app);

}  // namespace blobsync
