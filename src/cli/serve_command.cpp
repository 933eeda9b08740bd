#include "cli/serve_command.h"

#include <CLI/CLI.hpp>
#include <malloc.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "cli/cli_context.h"
#include "http/run.h"

namespace blobsync {

namespace {

struct ServeFlags {
  std::string config;
  std::vector<std::string> peer;  // --peer URL, repeatable: joins `peers`
  std::vector<std::pair<std::string, CLI::Option*>> options;
  std::vector<std::unique_ptr<std::string>> values;
};

std::string dashed(std::string key) {
  for (auto& c : key)
    if (c == '_') c = '-';
  return key;
}

// Raw config layers from the CLI: the default data dir, then flags given.
http::ConfigSources sources(const CLI::App& app, const CliContext& ctx, const ServeFlags& f) {
  http::ConfigSources s;
  if (!f.config.empty()) s.config_file = f.config;
  // --data (global, lead-owned) or $BLOBSYNC_DATA beat the TOML file; the
  // built-in default does not.
  const CLI::App* root = &app;
  while (root->get_parent()) root = root->get_parent();
  const CLI::Option* data = nullptr;
  try {
    data = root->get_option("--data");
  } catch (const CLI::Error&) {
  }
  s.defaults["data"] = ctx.data_dir.string();
  if (data && data->count() > 0) s.flags["data"] = ctx.data_dir.string();
  // The global --metadata/--store (or their env vars); serve's own flags below win.
  if (!ctx.metadata.empty()) s.flags["metadata"] = ctx.metadata;
  if (!ctx.store.empty()) s.flags["store"] = ctx.store;
  for (std::size_t i = 0; i < f.options.size(); ++i)
    if (f.options[i].second->count() > 0) s.flags[f.options[i].first] = *f.values[i];
  for (const auto& peer : f.peer) {
    auto& peers = s.flags["peers"];
    peers += (peers.empty() ? "" : ",") + peer;
  }
  return s;
}

void add_config_flags(CLI::App* cmd, ServeFlags& f, bool all) {
  cmd->add_option("--config", f.config, "TOML config file (keys as in docs/http.md)");
  for (const auto& info : http::config_keys()) {
    if (info.key == "data") continue;
    if (!all && info.key != "gc_grace" && info.key != "log_level") continue;
    f.values.push_back(std::make_unique<std::string>());
    auto* opt = cmd->add_option("--" + dashed(info.key), *f.values.back(), info.help);
    f.options.emplace_back(info.key, opt);
  }
}

// A server moves blobs through short-lived buffers of 256 KiB to a few MiB
// (chunk frames; ingest ring slots have their own cache in the store,
// store/hash_pipeline.cpp). glibc would mmap and
// munmap each one, or trim it off the heap when freed, so every transfer
// page-faults its buffers in afresh (about 10% of a replicating server's CPU).
// Keep them on the heap and let freed memory be reused: at most 64 MiB
// stays unreturned per arena top, and the peak is unchanged.
void keep_transfer_buffers_on_the_heap() {
  (void)mallopt(M_MMAP_THRESHOLD, 32 << 20);
  (void)mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

}  // namespace

void add_serve_command(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand("serve", "Run the server: ATProto XRPC blobs, accounts, records, /blobs/<hash>, WebSocket rooms /sync/<room>, the mesh");
  auto flags = std::make_shared<ServeFlags>();
  add_config_flags(cmd, *flags, true);
  cmd->add_option("--peer", flags->peer, "Another server's sync URL ws://host:port/sync or wss://... (repeatable; adds to --peers)");
  cmd->callback([cmd, flags, &ctx] {
    auto config = http::load_config(sources(*cmd, ctx, *flags));
    if (!config) return ctx.fail_with(config.error());
    keep_transfer_buffers_on_the_heap();
    if (auto r = http::run_server(*config); !r) ctx.fail_with(r.error());
  });
}

}  // namespace blobsync
