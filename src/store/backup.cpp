// run_backup (see backup.h); run_restore is in restore.cpp.
#include "store/backup.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <optional>
#include <unordered_set>

#include "core/blob_id.h"
#include "sql/sql_db.h"
#include "sql/sqlite_db.h"
#include "store/backup_files.h"
#include "store/blob_lifecycle.h"
#include "store/env.h"
#include "store/metadata.h"
#include "store/migrate.h"
#include "store/paged_walk.h"

namespace blobsync {

namespace {

constexpr std::size_t kBatch = 1000;

Digest digest_of(std::span<const std::uint8_t> bytes) {
  Digest d;
  if (bytes.size() == d.bytes.size()) std::copy(bytes.begin(), bytes.end(), d.bytes.begin());
  return d;
}

// 20261207T041500Z: sortable, so the newest snapshot is the greatest name.
std::string utc_id() {
  std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}{:02}{:02}T{:02}{:02}{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}

// Releases `holder` on `hashes` in batches (one transaction each).
Result<> release_all(BlobLifecycle& lifecycle, std::string_view holder, const std::vector<Digest>& hashes) {
  for (std::size_t i = 0; i < hashes.size(); i += kBatch) {
    std::span<const Digest> part(hashes.data() + i, std::min(kBatch, hashes.size() - i));
    if (auto r = lifecycle.release(holder, part); !r) return r;
  }
  return {};
}

// Pins of crashed runs. Only called with the "backup" lock held, so no
// pin:backup-* belongs to a live run.
Result<> clear_stale_pins(const BackupSource& src, BackupReport& rep) {
  auto holders = src.db->read("SELECT DISTINCT holder FROM blob_hold WHERE holder LIKE 'pin:backup-%'");
  if (!holders) return std::unexpected(holders.error());
  for (std::size_t i = 0; i < holders->rows(); ++i) {
    std::string holder = holders->text(i, 0);
    auto rows = src.db->read("SELECT hash FROM blob_hold WHERE holder = ?", {std::string_view(holder)});
    if (!rows) return std::unexpected(rows.error());
    std::vector<Digest> hashes;
    for (std::size_t j = 0; j < rows->rows(); ++j) hashes.push_back(digest_of(rows->bytes(j, 0)));
    if (auto r = release_all(*src.lifecycle, holder, hashes); !r) return r;
    rep.stale_pins.push_back(holder);
    rep.stale_pinned_blobs += hashes.size();
  }
  return {};
}

// Releases the run's pins however it ends.
struct PinGuard {
  BlobLifecycle& lifecycle;
  std::string holder;
  std::vector<Digest> pinned;
  std::string* warning;
  ~PinGuard() {
    if (auto r = release_all(lifecycle, holder, pinned); !r) {
      *warning = fmt::format("could not release the hold {} ({}); the next backup releases it, or run "
                             "`blobsync unpin --label {}` on the blobs `blobsync stat` shows it on",
                             holder, r.error().message, holder.substr(4));
    }
  }
};

// Pins every row of the blob index; returns the digests pinned.
Result<> pin_every_row(const BackupSource& src, PinGuard& guard) {
  PagedWalk<BlobRecord> rows([&](std::optional<Digest> after, std::size_t limit) {
    return src.metadata->list_blobs(after, limit);
  }, [](const BlobRecord& r) { return r.hash; }, kBatch);
  std::vector<Digest> batch;
  auto flush = [&]() -> Result<> {
    if (batch.empty()) return {};
    if (auto r = src.lifecycle->hold(guard.holder, batch); !r) return r;
    guard.pinned.insert(guard.pinned.end(), batch.begin(), batch.end());
    batch.clear();
    return {};
  };
  for (;;) {
    auto row = rows.next();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    batch.push_back((*row)->hash);
    if (batch.size() == kBatch) {
      if (auto r = flush(); !r) return r;
    }
  }
  return flush();
}

// The blobs the snapshot names, in digest order: its own `blobs` table, or
// (PostgreSQL) the live index read again after pinning.
Result<std::vector<BackendStat>> snapshot_blobs(const BackupSource& src, SqliteDb* snap) {
  std::vector<BackendStat> out;
  if (snap) {
    auto st = snap->prepare("SELECT hash, size FROM blobs ORDER BY hash");
    if (!st) return std::unexpected(st.error());
    for (;;) {
      auto more = st->step();
      if (!more) return std::unexpected(more.error());
      if (!*more) break;
      out.push_back({digest_of(st->column_blob(0)), static_cast<std::uint64_t>(st->column_int64(1))});
    }
    return out;
  }
  std::optional<Digest> after;
  for (;;) {
    auto page = src.metadata->list_blobs(after, kBatch);
    if (!page) return std::unexpected(page.error());
    for (const auto& r : *page) out.push_back({r.hash, r.size});
    if (page->size() < kBatch) break;
    after = page->back().hash;
  }
  return out;
}

// Pins rows that appeared between pinning and the snapshot. One collected in
// between was unheld: it leaves the snapshot's index as it left the live one.
Result<> pin_latecomers(const BackupSource& src, SqliteDb* snap, PinGuard& guard, std::vector<BackendStat>& blobs,
                        BackupReport& rep) {
  std::unordered_set<Digest> pinned(guard.pinned.begin(), guard.pinned.end());
  std::vector<BackendStat> kept;
  kept.reserve(blobs.size());
  for (const auto& b : blobs) {
    if (pinned.contains(b.digest)) {
      kept.push_back(b);
      continue;
    }
    auto r = src.lifecycle->hold_stored(guard.holder, b.digest);
    if (r) {
      guard.pinned.push_back(b.digest);
      kept.push_back(b);
      continue;
    }
    if (r.error().code != Errc::kNotFound) return std::unexpected(r.error());
    ++rep.collected_meanwhile;
    if (!snap) continue;
    auto lock = snap->lock();
    for (const char* sql : {"UPDATE blob_totals SET blob_count = blob_count - 1, total_bytes = total_bytes - "
                            "(SELECT size FROM blobs WHERE hash = ?1), quarantined = quarantined - (SELECT CASE WHEN "
                            "quarantine IS NOT NULL AND quarantine <> '' THEN 1 ELSE 0 END FROM blobs WHERE hash = ?1) "
                            "WHERE slot = (SELECT min(slot) FROM blob_totals)",
                            "DELETE FROM blobs WHERE hash = ?1"}) {
      auto st = snap->prepare(sql);
      if (!st) return std::unexpected(st.error());
      st->bind_blob(1, std::span<const std::uint8_t>(b.digest.bytes.data(), b.digest.bytes.size()));
      if (auto x = st->run(); !x) return x;
    }
  }
  blobs = std::move(kept);
  return {};
}

// Copies `blobs` into DIR/blobs, merge-joined with what is there already.
void copy_blobs(const BackupSource& src, BlobBackend& dest, const std::vector<BackendStat>& blobs,
                const BackupOptions& opt, BackupReport& rep) {
  auto& p = rep.progress;
  PagedWalk<BackendStat> have_walk(
      [&dest](std::optional<Digest> after, std::size_t limit) { return dest.enumerate(after, limit); },
      [](const BackendStat& s) { return s.digest; });
  std::optional<BackendStat> have;
  bool have_done = false;
  std::vector<std::byte> buf(1 << 20);
  for (const auto& b : blobs) {
    while (!have_done && (!have || have->digest < b.digest)) {
      auto d = have_walk.next();
      // A listing error only costs the skip: the copy below is idempotent.
      if (!d || !*d) {
        have_done = true;
        have.reset();
      } else {
        have = **d;
      }
    }
    if (have && have->digest == b.digest && have->size == b.size) {
      ++p.skipped;
      p.skipped_bytes += b.size;
    } else if (auto r = copy_blob_verified(*src.blobs, dest, b, buf); r) {
      ++p.copied;
      p.copied_bytes += b.size;
    } else if (Error e = r.error(); e.code == Errc::kCorruption || e.code == Errc::kNotFound) {
      if (e.code == Errc::kNotFound) e.message = "pinned, yet missing from the live store: " + e.message;
      rep.damaged.push_back({b.digest, e});
    } else {
      rep.failures.push_back({b.digest, e});
    }
    ++p.done;
    if (opt.on_progress) opt.on_progress(p);
  }
}

// Blobs whose live bytes are bad leave the manifest; their rows in the
// snapshot are quarantined (as `verify` would have done), so the restored
// server never serves them and heals them from a peer.
Result<> leave_out_damaged(const std::filesystem::path& meta_db, bool index_in_meta_db,
                           const std::vector<BackupReport::Failure>& damaged, std::vector<BackendStat>& blobs) {
  std::unordered_set<Digest> bad;
  for (const auto& f : damaged) bad.insert(f.digest);
  std::erase_if(blobs, [&](const BackendStat& b) { return bad.contains(b.digest); });
  if (!index_in_meta_db) return {};
  auto db = SqliteDb::open(meta_db);
  if (!db) return std::unexpected(db.error());
  auto lock = (*db)->lock();
  auto tx = (*db)->begin();
  if (!tx) return std::unexpected(tx.error());
  for (const auto& f : damaged) {
    auto st = (*db)->prepare("UPDATE blobs SET quarantine = ? WHERE hash = ? AND (quarantine IS NULL OR quarantine = '')");
    if (!st) return std::unexpected(st.error());
    st->bind(1, "backup: " + f.error.message);
    st->bind_blob(2, std::span<const std::uint8_t>(f.digest.bytes.data(), f.digest.bytes.size()));
    if (auto r = st->run(); !r) return r;
    if ((*db)->changes() == 0) continue;
    if (auto r = (*db)->exec("UPDATE blob_totals SET quarantined = quarantined + 1 "
                             "WHERE slot = (SELECT min(slot) FROM blob_totals)");
        !r)
      return r;
  }
  if (auto r = tx->commit(); !r) return r;
  return (*db)->exec("PRAGMA journal_mode=DELETE");
}

// Pins, snapshots meta.db, copies the blobs and completes the snapshot.
Result<> snapshot_and_copy(const BackupSource& src, Env* env, SnapshotStore& dest, BlobBackend& dest_blobs,
                           const BackupOptions& opt, PinGuard& guard, BackupReport& rep) {
  if (auto r = pin_every_row(src, guard); !r) return fail(r.error().code, "pinning the blobs: {}", r.error().message);
  if (opt.on_step) opt.on_step("pinned");

  const auto partial = dest.staging_dir(rep.id);
  if (auto r = make_private_dir(env, partial); !r) return std::unexpected(r.error());
  // With PostgreSQL metadata DATA/meta.db holds only rooms, and exists once a server ran.
  const bool have_meta = env->stat(src.data_dir / "meta.db").has_value();
  if (!have_meta && src.index_in_meta_db)
    return fail(Errc::kNotFound, "no {} to back up", (src.data_dir / "meta.db").string());
  if (have_meta) {
    auto live = SqliteDb::open(src.data_dir / "meta.db");
    if (!live) return fail(live.error().code, "opening {}: {}", (src.data_dir / "meta.db").string(), live.error().message);
    if (auto r = (*live)->backup_into(partial / "meta.db"); !r) return std::unexpected(r.error());
  }
  if (opt.on_step) opt.on_step("snapshot");
  std::vector<BackendStat> blobs;
  {
    std::unique_ptr<SqliteDb> snap;
    if (have_meta) {
      auto opened = SqliteDb::open(partial / "meta.db");
      if (!opened) return std::unexpected(opened.error());
      snap = std::move(*opened);
    }
    SqliteDb* index = src.index_in_meta_db ? snap.get() : nullptr;
    auto listed = snapshot_blobs(src, index);
    if (!listed) return fail(listed.error().code, "reading the snapshot's blobs: {}", listed.error().message);
    blobs = std::move(*listed);
    if (auto r = pin_latecomers(src, index, guard, blobs, rep); !r) return std::unexpected(r.error());
    if (index) {
      // The run's pins are no hold of the restored server's.
      if (auto r = index->exec("DELETE FROM blob_hold WHERE holder LIKE 'pin:backup-%'"); !r) return std::unexpected(r.error());
    }
    if (snap) {
      if (auto r = snap->exec("PRAGMA journal_mode=DELETE"); !r) return std::unexpected(r.error());
    }
  }
  if (have_meta) {
    if (auto r = fsync_file(env, partial / "meta.db", 0600); !r) return std::unexpected(r.error());
  }

  rep.progress.blobs = blobs.size();
  for (const auto& b : blobs) rep.bytes += b.size;
  if (opt.on_progress) opt.on_progress(rep.progress);
  copy_blobs(src, dest_blobs, blobs, opt, rep);
  // Every blob missing is no bit rot but the wrong store (a server on S3
  // backed up without --store): no snapshot of that.
  bool all_missing = !blobs.empty() && rep.damaged.size() == blobs.size() &&
                     std::all_of(rep.damaged.begin(), rep.damaged.end(),
                                 [](const auto& f) { return f.error.code == Errc::kNotFound; });
  if (all_missing) {
    return fail(Errc::kNotFound, "none of the {} blobs the index names is in the blob store ({}): is --store the "
                "server's?", blobs.size(), rep.damaged.front().error.message);
  }
  if (!rep.failures.empty()) return {};  // no snapshot: the .partial goes on the next run
  if (!rep.damaged.empty()) {
    if (auto r = leave_out_damaged(partial / "meta.db", src.index_in_meta_db, rep.damaged, blobs); !r) return r;
  }

  for (const char* name : kSecretFiles) {
    auto r = copy_file(env, src.data_dir / name, partial / name, 0600);
    if (r) rep.secrets.push_back(name);
    else if (r.error().code != Errc::kNotFound) return std::unexpected(r.error());
  }
  ManifestHeader header{rep.id, src.index_in_meta_db, rep.secrets};
  if (auto r = write_manifest(env, partial / "manifest", header, blobs); !r) return std::unexpected(r.error());
  if (auto r = env->fsync_dir(partial); !r) return std::unexpected(r.error());
  return dest.publish(rep.id);
}

}  // namespace

Result<BackupReport> run_backup(const BackupSource& src, SnapshotStore& dest, BlobBackend& dest_blobs,
                                const BackupOptions& opt) {
  Env* env = opt.env ? opt.env : Env::posix();
  BackupReport rep;

  // One run at a time per database, so pins not ours are a crashed run's.
  auto lock = src.db->open_lock("backup");
  if (!lock) return std::unexpected(lock.error());
  if (auto r = (*lock)->lock(true); !r) return std::unexpected(r.error());
  if (auto r = clear_stale_pins(src, rep); !r) return fail(r.error().code, "releasing old backup pins: {}", r.error().message);
  auto removed = dest.remove_partials();
  if (!removed) return std::unexpected(removed.error());
  rep.removed_partials = *removed;

  auto existing = dest.list();
  if (!existing) return std::unexpected(existing.error());
  rep.id = utc_id();
  for (int n = 2; std::find(existing->begin(), existing->end(), rep.id) != existing->end(); ++n)
    rep.id = fmt::format("{}-{}", utc_id(), n);
  Result<> done;
  {
    PinGuard guard{*src.lifecycle, "pin:backup-" + rep.id, {}, &rep.pin_warning};
    done = snapshot_and_copy(src, env, dest, dest_blobs, opt, guard, rep);
  }  // the pins go here, while the lock still says this run is live
  if (!done) return std::unexpected(done.error());
  return rep;
}

}  // namespace blobsync
