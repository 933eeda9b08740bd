#include "cli/gc_command.h"

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "cli/cli_context.h"
#include "http/serve.h"

namespace blobsync {

void add_gc_command(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand(
      "gc", "Delete unreferenced uploads older than the grace period, and blobs whose last reference is gone");
  struct Flags {
    std::string config, grace, log_level, metadata, store;
  };
  auto f = std::make_shared<Flags>();
  cmd->add_option("--config", f->config, "TOML config file");
  auto* grace = cmd->add_option("--grace", f->grace, "Grace period for unreferenced uploads (default 6h; 0 = all)");
  auto* metadata = cmd->add_option("--metadata", f->metadata,
                                   "Metadata database, as for serve (default: $BLOBSYNC_METADATA, else DATA/meta.db)");
  auto* store = cmd->add_option("--store", f->store, "Blob backend, as for serve (default: $BLOBSYNC_STORE, else disk)");
  cmd->callback([f, grace, metadata, store, &ctx, &app] {
    http::ConfigSources s;
    if (!f->config.empty()) s.config_file = f->config;
    s.defaults["data"] = ctx.data_dir.string();
    s.defaults["log_level"] = "warn";
    if (const auto* data = app.get_option_no_throw("--data"); data && data->count() > 0)
      s.flags["data"] = ctx.data_dir.string();
    if (grace->count() > 0) s.flags["gc_grace"] = f->grace;
    // The global --metadata/--store (or their env vars) apply unless gc's own flags say otherwise.
    if (!ctx.metadata.empty()) s.flags["metadata"] = ctx.metadata;
    if (!ctx.store.empty()) s.flags["store"] = ctx.store;
    if (metadata->count() > 0) s.flags["metadata"] = f->metadata;
    if (store->count() > 0) s.flags["store"] = f->store;
    auto config = http::load_config(s);
    if (!config) return ctx.fail_with(config.error());
    if (auto r = http::run_gc(*config); !r) ctx.fail_with(r.error());
  });
}

}  // namespace blobsync
