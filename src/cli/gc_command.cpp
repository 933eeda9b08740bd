#include "cli/gc_command.h"

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "cli/cli_context.h"
#include "http/run.h"
#include "sync/room_store.h"

namespace blobsync {

void add_gc_command(CLI::App& app, CliContext& ctx) {
  auto* cmd = app.add_subcommand(
      "gc", "Collect blobs nothing holds (no record, room registry entry or pin) once the grace period has passed");
  struct Flags {
    std::string config, grace, log_level, metadata, store;
    bool dry_run = false;
  };
  auto f = std::make_shared<Flags>();
  cmd->add_flag("--dry-run", f->dry_run, "List what would be collected and why; change nothing");
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
    http::GcRun run;
    run.dry_run = f->dry_run;
    // Registries live in the rooms of a running server, which this process
    // must not edit: a blob this server announced in a room is left to the
    // server's own sweeper, which withdraws it first.
    auto rooms = sync::RoomStore::open(config->data_dir / "meta.db", true);
    if (!rooms) return ctx.fail_with(rooms.error());
    std::shared_ptr<sync::RoomStore> shared_rooms = std::move(*rooms);
    run.withdraw = [shared_rooms](const Digest& hash) -> Result<> {
      auto names = shared_rooms->rooms_announcing(hash);
      if (!names) return std::unexpected(names.error());
      if (names->empty()) return {};
      return fail(Errc::kConflict, "this server lists it in room {} (the server's own gc withdraws it first)",
                  names->front());
    };
    if (auto r = http::run_gc(*config, run); !r) ctx.fail_with(r.error());
  });
}

}  // namespace blobsync
