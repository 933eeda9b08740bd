// `blobsync backup --to DIR` and `blobsync restore --from DIR --data NEWDIR`:
// consistent snapshots of a live data directory, incremental in their blobs,
// and the data directory rebuilt from one (see store/backup.h).
//
// Thread safety: registration and the commands run on the main thread.
#pragma once

namespace CLI {
class App;
}

namespace blobsync {

struct CliContext;

// Registers both subcommands on `app`.
void add_backup_commands(CLI::App& app, CliContext& ctx);

}  // namespace blobsync
