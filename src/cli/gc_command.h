// `blobsync gc`: one garbage-collection sweep of unreferenced uploads now.
#pragma once

namespace CLI {
class App;
}

namespace blobsync {

struct CliContext;

// Adds `gc` with --grace and --config.
void add_gc_command(CLI::App& app, CliContext& ctx);

}  // namespace blobsync
