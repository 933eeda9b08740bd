// `blobsync migrate --from STORE --to STORE`: copies every blob of one blob
// backend into another, verified and resumable (see store/migrate.h).
//
// Thread safety: registration and the command run on the main thread.
#pragma once

namespace CLI {
class App;
}

namespace blobsync {

struct CliContext;

// Registers the subcommand on `app`; does nothing if it is already there.
void add_migrate_command(CLI::App& app, CliContext& ctx);

}  // namespace blobsync
