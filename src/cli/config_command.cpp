#include "cli/config_command.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/cli_context.h"
#include "http/config.h"
#include "http/run.h"

namespace blobsync {

namespace {

// `set`: KEY=VALUE lines written uncommented (a package's own choices).
void print_example(const std::vector<std::string>& set) {
  std::printf(
      "# blobsync configuration (TOML), read by `blobsync serve --config FILE`.\n"
      "# Every key is commented out, showing its built-in default. Remove the\n"
      "# `#` before a key to set it. Environment variables (BLOBSYNC_<KEY>) and\n"
      "# command-line flags (--<key-with-dashes>) override this file.\n"
      "# Defaults, units and what happens at each limit: docs/http.md and\n"
      "# docs/security.md (\"Limits\"); `blobsync serve --help` lists the same keys.\n");
  // The defaults as build_config makes them (the allow-list filled in).
  auto defaults = http::build_config({});
  for (const auto& info : http::config_keys()) {
    std::string value;
    for (const auto& kv : set)
      if (kv.starts_with(info.key + "=")) value = kv.substr(info.key.size() + 1);
    if (!value.empty()) {
      std::printf("\n# %s\n%s = %s\n", info.help.c_str(), info.key.c_str(), value.c_str());
      continue;
    }
    auto def = defaults ? http::render_config_value(*defaults, info.key) : std::nullopt;
    if (def) std::printf("\n# %s\n#%s = %s\n", info.help.c_str(), info.key.c_str(), def->c_str());
    else std::printf("\n# %s (unset by default)\n#%s =\n", info.help.c_str(), info.key.c_str());
  }
}

}  // namespace

void add_config_command(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("config", "The server's configuration file: print an example, or check one");
  cmd->require_subcommand(1);
  auto* example = cmd->add_subcommand("example", "Print a TOML config with every key commented out (/etc/blobsync/blobsync.toml)");
  auto set = std::make_shared<std::vector<std::string>>();
  example->add_option("--set", *set, "KEY=VALUE (a TOML value) written uncommented; repeatable");
  example->callback([set, &ctx] {
    for (const auto& kv : *set) {
      auto eq = kv.find('=');
      bool known = false;
      for (const auto& info : http::config_keys()) known = known || (eq != std::string::npos && kv.substr(0, eq) == info.key);
      if (!known) return ctx.fail_with("config example --set '" + kv + "': not KEY=VALUE with a known key", 2);
    }
    print_example(*set);
  });
  auto* check = cmd->add_subcommand("check", "Load a config file and BLOBSYNC_* variables as serve would; exit 2 on an error");
  auto file = std::make_shared<std::string>();
  check->add_option("--config", *file, "TOML config file")->required();
  check->callback([file, &ctx] {
    http::ConfigSources sources;
    sources.config_file = *file;
    sources.defaults["data"] = ctx.data_dir.string();
    auto config = http::load_config(sources);
    if (!config) return ctx.fail_with(config.error().to_string(), 2);
    std::printf("%s: ok\n", file->c_str());
  });
}

}  // namespace blobsync
