// `blobsync config`: the configuration file as an operator sees it.
//   example  prints a TOML file with every key commented out, made from the
//            table the server reads keys with (http::config_keys()), so the
//            packaged /etc/blobsync/blobsync.toml cannot drift from the code;
//   check    loads a config file (and BLOBSYNC_* variables) as `serve` would
//            and says what is wrong, without starting anything.
//
// Thread safety: used by the main thread only.
#pragma once

namespace CLI {
class App;
}

namespace blobsync {

struct CliContext;

void add_config_command(CLI::App& app, CliContext& ctx);

}  // namespace blobsync
