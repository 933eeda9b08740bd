#include "cli/migrate_command.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fmt/format.h>
#include <memory>
#include <string>

#include "cli/cli_context.h"
#include "cli/progress.h"
#include "core/blob_id.h"
#include "store/migrate.h"
#include "store/s3/backend_url.h"

namespace blobsync {

namespace {

std::string mib(std::uint64_t bytes) { return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20)); }

void run_migrate(CliContext& ctx, const std::string& from_url, const std::string& to_url, bool stop_on_failure) {
  if (from_url == to_url) return ctx.fail_with("--from and --to name the same store", kExitUsage);
  auto from = open_store_url_or_disk(from_url, ctx.data_dir);
  if (!from) return ctx.fail_with(Error{from.error().code, "--from: " + from.error().message});
  auto to = open_store_url_or_disk(to_url, ctx.data_dir);
  if (!to) return ctx.fail_with(Error{to.error().code, "--to: " + to.error().message});

  Progress bar("migrate", 0);
  MigrateOptions options;
  options.stop_on_failure = stop_on_failure;
  std::size_t reported = 0;
  auto report_failures = [&](const MigrateProgress& p) {
    for (; reported < p.failures.size(); ++reported) {
      const auto& f = p.failures[reported];
      std::fprintf(stderr, "blobsync: %s: %s\n", to_hash_ref(f.digest).c_str(), f.error.message.c_str());
    }
  };
  options.on_progress = [&](const MigrateProgress& p) {
    bar.update(p.copied_bytes + p.skipped_bytes);
    report_failures(p);
  };
  auto result = (*from)->recover();  // leftovers of an interrupted run in either store go first
  if (result) result = (*to)->recover();
  if (!result) return ctx.fail_with(result.error());
  auto p = migrate_blobs(**from, **to, options);
  bar.finish();
  if (!p) return ctx.fail_with(p.error());
  std::printf("migrated %llu blobs: %llu copied (%s), %llu already there (%s), %llu deleted meanwhile, %zu failed\n",
              static_cast<unsigned long long>(p->blobs_seen), static_cast<unsigned long long>(p->copied),
              mib(p->copied_bytes).c_str(), static_cast<unsigned long long>(p->skipped), mib(p->skipped_bytes).c_str(),
              static_cast<unsigned long long>(p->vanished), p->failures.size());
  if (!p->failures.empty()) {
    bool corrupt = false;
    for (const auto& f : p->failures) corrupt |= f.error.code == Errc::kCorruption;
    ctx.fail_with(fmt::format("{} blob{} not copied (see above); run again to retry", p->failures.size(),
                              p->failures.size() == 1 ? "" : "s"),
                  corrupt ? kExitCorrupt : kExitError);
  }
}

}  // namespace

void add_migrate_command(CLI::App& app, CliContext& ctx) {
  for (const auto* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    if (sub->get_name() == "migrate") return;
  }
  auto* cmd = app.add_subcommand(
      "migrate",
      "Copy every blob from one blob store to another, re-hashing each; skips what the destination has (resumable)");
  struct Flags {
    std::string from, to;
    bool stop = false;
  };
  auto f = std::make_shared<Flags>();
  cmd->add_option("--from", f->from, "Source: disk (DATA/blobs), disk:DIR or s3://BUCKET?endpoint=...")->required();
  cmd->add_option("--to", f->to, "Destination, same forms")->required();
  cmd->add_flag("--stop-on-failure", f->stop, "Stop at the first blob that cannot be copied");
  cmd->callback([f, &ctx] { run_migrate(ctx, f->from, f->to, f->stop); });
}

}  // namespace blobsync
