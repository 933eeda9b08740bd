#include "cli/backup_command.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "cli/cli_context.h"
#include "cli/progress.h"
#include "core/blob_id.h"
#include "store/backup.h"
#include "store/backup_files.h"
#include "store/blob_lifecycle.h"
#include "store/env.h"
#include "store/shared_store.h"
#include "store/s3/backend_url.h"
#include "store/s3/s3_backend.h"
#include "store/s3/s3_snapshot_store.h"

namespace blobsync {

namespace {

std::string mib(std::uint64_t bytes) { return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20)); }

// Test hooks: BLOBSYNC_TEST_BACKUP_CRASH_AFTER=N exits as a crash (no pins
// released, the snapshot left partial) once N blobs are done;
// BLOBSYNC_TEST_BACKUP_SLOW_MS=M says on stderr when the copy starts and
// sleeps M ms after each blob, so a test can run GC meanwhile.
std::uint64_t test_hook(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : 0;
}

// A backup location: DIR (blobs in DIR/blobs, snapshots in DIR/snapshots) or
// s3://BUCKET[/PREFIX]?... (PREFIX blobs/ and PREFIX snapshots/).
struct BackupLocation {
  std::shared_ptr<BlobBackend> blobs;
  std::unique_ptr<SnapshotStore> snapshots;
};

Result<BackupLocation> open_backup(const CliContext& ctx, const std::string& where, bool for_backup) {
  BackupLocation out;
  if (where.starts_with("s3://")) {
    auto s3 = s3::open_s3_backend(where);
    if (!s3) return std::unexpected(s3.error());
    std::shared_ptr<s3::S3Backend> backend = std::move(*s3);
    // Staged next to meta.db (same disk, same space), removed once uploaded.
    out.snapshots = s3::s3_snapshot_store(*backend, ctx.data_dir / "backup-staging");
    out.blobs = std::move(backend);
  } else {
    const std::filesystem::path dir(where);
    if (for_backup) {
      for (const auto& d : {dir, dir / "snapshots"})
        if (auto r = make_private_dir(Env::posix(), d); !r) return std::unexpected(r.error());
    } else if (std::error_code ec; !std::filesystem::is_directory(dir / "snapshots", ec)) {
      return fail(Errc::kNotFound, "{} is not a blobsync backup (no snapshots/ in it)", where);
    }
    auto blobs = open_store_url_or_disk("disk:" + where, ctx.data_dir);
    if (!blobs) return std::unexpected(blobs.error());
    out.blobs = std::move(*blobs);
    out.snapshots = dir_snapshot_store(dir);
  }
  if (for_backup) {
    if (auto r = out.blobs->recover(); !r) return std::unexpected(r.error());
  }
  return out;
}

void run_backup_command(CliContext& ctx, const std::string& to) {
  if (ctx.metadata.starts_with("sqlite:"))
    return ctx.fail_with("backup needs the blob index in DATA/meta.db (the default) or PostgreSQL, not " + ctx.metadata,
                         kExitUsage);
  const bool index_in_meta_db = !ctx.metadata.starts_with("postgres");
  std::error_code ec;
  if (!std::filesystem::exists(ctx.data_dir / (index_in_meta_db ? "meta.db" : ""), ec))
    return ctx.fail_with(fmt::format("no data directory to back up at {}{}", ctx.data_dir.string(),
                                     index_in_meta_db ? " (no meta.db)" : ""));
  if (!to.starts_with("s3://") &&
      std::filesystem::weakly_canonical(to, ec) == std::filesystem::weakly_canonical(ctx.data_dir, ec))
    return ctx.fail_with("--to is the data directory itself", kExitUsage);

  auto opened = ctx.open_store();
  if (!opened) return ctx.fail_with(opened.error());
  auto lifecycle = BlobLifecycle::open(opened->db, opened->store->unfenced(), opened->fence);
  if (!lifecycle) return ctx.fail_with(lifecycle.error());
  auto target = open_backup(ctx, to, true);
  if (!target) return ctx.fail_with(Error{target.error().code, "--to: " + target.error().message});
  auto& dest_blobs = target->blobs;
  auto& snapshots = target->snapshots;

  BackupSource src;
  src.db = opened->db.get();
  src.metadata = &opened->store->metadata();
  src.lifecycle = lifecycle->get();
  src.blobs = &opened->store->backend();
  src.data_dir = ctx.data_dir;
  src.index_in_meta_db = index_in_meta_db;

  Progress bar("backup", 0);
  BackupOptions options;
  const std::uint64_t crash = test_hook("BLOBSYNC_TEST_BACKUP_CRASH_AFTER");
  const std::uint64_t slow_ms = test_hook("BLOBSYNC_TEST_BACKUP_SLOW_MS");
  options.on_progress = [&](const BackupProgress& p) {
    bar.update(p.copied_bytes + p.skipped_bytes);
    if (slow_ms && p.done == 0) std::fprintf(stderr, "blobsync: test hook: copying %llu blobs\n",
                                             static_cast<unsigned long long>(p.blobs));
    if (slow_ms) std::this_thread::sleep_for(std::chrono::milliseconds(slow_ms));
    if (crash && p.done >= crash) {
      std::fprintf(stderr, "blobsync: BLOBSYNC_TEST_BACKUP_CRASH_AFTER=%llu: exiting as a crash would\n",
                   static_cast<unsigned long long>(crash));
      std::_Exit(137);
    }
  };
  auto rep = run_backup(src, *snapshots, *dest_blobs, options);
  bar.finish();
  if (!rep) return ctx.fail_with(rep.error());
  for (const auto& holder : rep->stale_pins)
    std::printf("released %s, left by an interrupted backup\n", holder.c_str());
  if (rep->removed_partials)
    std::printf("removed %llu unfinished snapshot%s of an interrupted backup\n",
                static_cast<unsigned long long>(rep->removed_partials), rep->removed_partials == 1 ? "" : "s");
  const auto& p = rep->progress;
  std::printf("backup %s: %llu blobs (%s): %llu copied (%s), %llu already in the backup (%s), %zu failed\n",
              rep->id.c_str(), static_cast<unsigned long long>(p.blobs), mib(rep->bytes).c_str(),
              static_cast<unsigned long long>(p.copied), mib(p.copied_bytes).c_str(),
              static_cast<unsigned long long>(p.skipped), mib(p.skipped_bytes).c_str(),
              rep->failures.size() + rep->damaged.size());
  if (!rep->pin_warning.empty()) std::fprintf(stderr, "blobsync: warning: %s\n", rep->pin_warning.c_str());
  if (!rep->failures.empty()) {
    bool corrupt = false;
    for (const auto& f : rep->failures) {
      std::fprintf(stderr, "blobsync: %s: %s\n", to_hash_ref(f.digest).c_str(), f.error.message.c_str());
      corrupt |= f.error.code == Errc::kCorruption;
    }
    return ctx.fail_with(fmt::format("{} blob{} not copied (see above): no snapshot was completed", rep->failures.size(),
                                     rep->failures.size() == 1 ? "" : "s"),
                         corrupt ? kExitCorrupt : kExitError);
  }
  std::printf("snapshot %s/%s complete: meta.db, %zu secret file%s, manifest%s\n", snapshots->describe().c_str(),
              rep->id.c_str(), rep->secrets.size(),
              rep->secrets.size() == 1 ? "" : "s",
              src.index_in_meta_db ? "" : " (the blob index is in PostgreSQL: back it up with pg_dump)");
  if (!rep->damaged.empty()) {
    for (const auto& f : rep->damaged)
      std::fprintf(stderr, "blobsync: %s: %s\n", to_hash_ref(f.digest).c_str(), f.error.message.c_str());
    ctx.fail_with(fmt::format("{} blob{} damaged in the live store (see above) and not in the snapshot (quarantined "
                              "in it); run `blobsync verify`, then heal or re-upload {}",
                              rep->damaged.size(), rep->damaged.size() == 1 ? " is" : "s are",
                              rep->damaged.size() == 1 ? "it" : "them"),
                  kExitCorrupt);
  }
}

void run_restore_command(CliContext& ctx, const std::string& from, const std::string& snapshot) {
  auto backup = open_backup(ctx, from, false);
  if (!backup) return ctx.fail_with(Error{backup.error().code, "--from: " + backup.error().message});
  Progress bar("restore", 0);
  RestoreOptions options;
  options.snapshot = snapshot;
  options.on_progress = [&](const RestoreProgress& p) { bar.update(p.bytes); };
  auto rep = run_restore(*backup->snapshots, *backup->blobs, ctx.data_dir, options);
  bar.finish();
  if (!rep) return ctx.fail_with(rep.error());  // a blob missing or corrupt in the backup: exit 3
  std::printf("restored snapshot %s into %s: %llu blobs (%s) verified, meta.db, %zu secret file%s\n", rep->id.c_str(),
              ctx.data_dir.string().c_str(), static_cast<unsigned long long>(rep->blobs), mib(rep->bytes).c_str(),
              rep->secrets.size(), rep->secrets.size() == 1 ? "" : "s");
  if (!rep->index_in_meta_db)
    std::printf("the blob index was in PostgreSQL: restore it from your pg_dump and serve with --metadata\n");
}

}  // namespace

void add_backup_commands(CLI::App& app, CliContext& ctx) {
  add_store_location_options(app, ctx);
  auto to = std::make_shared<std::string>();
  auto* backup = app.add_subcommand(
      "backup", "Write a consistent snapshot of the data directory (metadata, rooms, secrets, blobs) while the "
                "server runs; blobs already in the backup are not copied again");
  backup->add_option("--to", *to,
                     "Backup directory (created 0700; holds blobs/ and snapshots/) or "
                     "s3://BUCKET[/PREFIX]?endpoint=...: the same layout as objects")
      ->required();
  backup->callback([&ctx, to] { run_backup_command(ctx, *to); });

  auto from = std::make_shared<std::string>();
  auto snapshot = std::make_shared<std::string>();
  auto* restore = app.add_subcommand(
      "restore", "Rebuild a data directory (--data NEWDIR, new or empty) from a backup, re-hashing every blob");
  restore->add_option("--from", *from, "Backup written by `blobsync backup --to` (a directory or s3://...)")->required();
  restore->add_option("--snapshot", *snapshot, "Snapshot ID (a name under DIR/snapshots; default: the newest)");
  restore->callback([&ctx, from, snapshot] { run_restore_command(ctx, *from, *snapshot); });
}

}  // namespace blobsync
