// blobsync: the command-line entry point. Each subcommand lives in its own file
// and registers itself on the CLI11 app; this file only wires global options
// and turns every failure into one line on stderr and a non-zero exit.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "cli/backup_command.h"
#include "cli/cli_context.h"
#include "cli/config_command.h"
#include "cli/ydoc_command.h"
#include "cli/gc_command.h"
#include "cli/serve_command.h"
#include "cli/sync_commands.h"
#include "cli/token_command.h"

#ifndef BLOBSYNC_VERSION
#define BLOBSYNC_VERSION "0.0.0"
#endif

namespace {

std::string one_line_failure(const CLI::App*, const CLI::Error& e) {
  return std::string("blobsync: ") + e.what() + " (see --help)\n";
}

}  // namespace

int main(int argc, char** argv) {
  // Diagnostics go to stderr: stdout carries command output (BlobRef JSON,
  // `ls` listings, `listening on ...`) that scripts parse.
  spdlog::set_default_logger(spdlog::stderr_color_mt("blobsync"));
  blobsync::CliContext ctx;
  if (const char* env = std::getenv("BLOBSYNC_DATA"); env && *env) ctx.data_dir = env;

  CLI::App app{"blobsync: a content-addressed blob store and leaderless Yjs sync server"};
  app.set_version_flag("--version", std::string("blobsync ") + BLOBSYNC_VERSION);
  app.failure_message(one_line_failure);
  app.require_subcommand(1);
  app.fallthrough();  // global options may also follow the subcommand
  app.add_option("--data", ctx.data_dir, "Data directory (default ./data, or $BLOBSYNC_DATA)");

  blobsync::add_store_commands(app, ctx);
  blobsync::add_ydoc_command(app);
  blobsync::add_remote_commands(app, ctx);
  blobsync::add_serve_command(app, ctx);
  blobsync::add_gc_command(app, ctx);
  blobsync::add_sync_commands(app, ctx);
  blobsync::add_token_command(app, ctx);
  blobsync::add_config_command(app, ctx);
  blobsync::add_backup_commands(app, ctx);

  // "blobsync frob" should say so, not "a subcommand is required".
  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    for (const auto* sub : app.get_subcommands([](CLI::App*) { return true; })) known |= sub->get_name() == argv[1];
    if (!known) {
      std::fprintf(stderr, "blobsync: unknown command '%s' (see --help)\n", argv[1]);
      return blobsync::kExitUsage;
    }
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return blobsync::kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "blobsync: %s\n", e.what());
    return blobsync::kExitError;
  }
  return ctx.exit_code;
}
