// CliContext: state shared by all `blobsync` subcommands (global options and
// the outcome of the command that ran).
//
// Every subcommand reports failure through fail_with(): one line on stderr,
// non-zero exit. Nothing aborts or prints a stack trace.
//
// Thread safety: used by the main thread only.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"

namespace CLI {
class App;
}

namespace blobsync {

class BlobStore;
struct SharedStore;

struct CliContext {
  std::filesystem::path data_dir = "data";  // --data, $BLOBSYNC_DATA
  // --metadata, $BLOBSYNC_METADATA: as for serve ("" = DATA/meta.db).
  std::string metadata;
  // --store, $BLOBSYNC_STORE: as for serve ("" = disk in DATA).
  std::string store;
  int exit_code = 0;

  // Prints "blobsync: <message>" to stderr and sets a non-zero exit code.
  void fail_with(const Error& error);
  void fail_with(std::string_view message, int code = 1);

  // Opens the store a server with the same --data/--metadata/--store uses,
  // through open_shared_store(): its uploads take the upload/GC fence, so
  // the CLI is safe next to a running server (or `blobsync gc`).
  Result<SharedStore> open_store() const;
};

// The global --metadata and --store options (with their environment
// variables) on the top-level app. Safe to call more than once.
void add_store_location_options(CLI::App& app, CliContext& ctx);

// Exit codes: 1 operational error, 2 usage error, 3 data corruption found.
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitCorrupt = 3;

// Where a command talks to a server instead of the local store.
struct RemoteOptions {
  std::string server;  // --server ws://host:port/sync or wss://... (empty: local only)
  std::string room;    // --room
  std::string token;   // --token, or $BLOBSYNC_TOKEN
  double timeout_s = 30;
  std::vector<std::string> prefer;  // --prefer-holder URL (get)
  std::string ca_file;              // --ca-file: trust for wss:// (default: the system's store)
  bool insecure = false;            // --insecure: no certificate checks (tests only)
};

// Adds --ca-file FILE and --insecure (TLS trust for wss:// and https://).
void add_tls_options(CLI::App* cmd, std::string& ca_file, bool& insecure);
// Prints the loud --insecure warning to stderr when `insecure`; every run.
void warn_if_insecure(bool insecure);

void add_store_commands(CLI::App& app, CliContext& ctx);
// Adds --server/--room/--token/--timeout and the TLS options to a subcommand.
void add_remote_options(CLI::App* cmd, RemoteOptions& remote);

// Remote halves of put/get, and `ydoc dump` (remote_commands.cpp).
void run_remote_put(CliContext& ctx, const RemoteOptions& remote, const std::vector<std::string>& files);
void run_remote_get(CliContext& ctx, const RemoteOptions& remote, const std::string& id, const std::string& out);
void add_remote_commands(CLI::App& app, CliContext& ctx);

// Writes a stored blob to `out` ("" or "-" = stdout) verifying every byte;
// a file is written under a temporary name and renamed when complete.
void write_blob_verified(CliContext& ctx, BlobStore& store, const std::string& id, const std::string& out);

}  // namespace blobsync
