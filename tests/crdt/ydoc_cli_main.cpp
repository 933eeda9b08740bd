// Stand-alone host for `ydoc` subcommands (same error handling as
// src/cli/main.cpp) so the CLI can be tested without the full binary.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "cli/ydoc_command.h"

int main(int argc, char** argv) {
  CLI::App app{"ydoc test host"};
  app.require_subcommand(1);
  blobsync::add_ydoc_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "blobsync: %s (see --help)\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "blobsync: %s\n", e.what());
    return 1;
  }
  return 0;
}
