// run_restore (see backup.h).
#include <fmt/format.h>

#include <algorithm>

#include "core/blob_id.h"
#include "sql/sqlite_db.h"
#include "store/backup.h"
#include "store/backup_files.h"
#include "store/disk_backend.h"
#include "store/env.h"
#include "store/migrate.h"

namespace blobsync {

namespace {

// Writes the data directory; the caller empties `dir` if it fails.
Result<> restore_into(const std::filesystem::path& snap, const Manifest& m, BlobBackend& from,
                      const std::filesystem::path& dir, Env* env, const RestoreOptions& opt, RestoreReport& rep) {
  auto to = DiskBackend::open(env, dir / "blobs");
  if (!to) return std::unexpected(to.error());
  RestoreProgress p;
  p.blobs = m.blobs.size();
  if (opt.on_progress) opt.on_progress(p);
  std::vector<std::byte> buf(1 << 20);
  for (const auto& b : m.blobs) {
    if (auto r = copy_blob_verified(from, **to, b, buf); !r) {
      if (r.error().code == Errc::kNotFound)
        return fail(Errc::kCorruption, "blob {} ({} bytes) is missing from the backup", to_hash_ref(b.digest), b.size);
      if (r.error().code == Errc::kCorruption)
        return fail(Errc::kCorruption, "blob {} in the backup is corrupt: {}", to_hash_ref(b.digest), r.error().message);
      return fail(r.error().code, "blob {}: {}", to_hash_ref(b.digest), r.error().message);
    }
    ++p.done;
    p.bytes += b.size;
    if (opt.on_progress) opt.on_progress(p);
  }
  rep.blobs = p.done;
  rep.bytes = p.bytes;
  for (const auto& name : m.header.secrets) {
    if (auto r = copy_file(env, snap / name, dir / name, 0600); !r)
      return fail(r.error().code, "secret {}: {}", name, r.error().message);
    rep.secrets.push_back(name);
  }
  // meta.db last, under a temporary name: a data directory with a meta.db is a whole one.
  // (PostgreSQL metadata: a snapshot of a server that never ran has none.)
  if (!m.header.index_in_meta_db && !env->stat(snap / "meta.db").has_value()) return {};
  const auto tmp = dir / "meta.db.restoring";
  if (auto r = copy_file(env, snap / "meta.db", tmp, 0600); !r)
    return fail(r.error().code, "meta.db: {}", r.error().message);
  {
    auto db = SqliteDb::open(tmp);
    if (!db) return fail(db.error().code, "the snapshot's meta.db: {}", db.error().message);
    auto st = (*db)->prepare("PRAGMA quick_check");
    if (!st) return std::unexpected(st.error());
    auto row = st->step();
    if (!row) return fail(row.error().code, "the snapshot's meta.db: {}", row.error().message);
    if (!*row || st->column_text(0) != "ok")
      return fail(Errc::kCorruption, "the snapshot's meta.db fails its integrity check: {}",
                  *row ? st->column_text(0) : std::string("no answer"));
  }
  if (auto r = fsync_file(env, tmp, 0600); !r) return r;
  return env->rename(tmp, dir / "meta.db");
}

}  // namespace

Result<RestoreReport> run_restore(SnapshotStore& backup, BlobBackend& backup_blobs, const std::filesystem::path& new_dir,
                                  const RestoreOptions& opt) {
  Env* env = opt.env ? opt.env : Env::posix();
  auto snaps = backup.list();
  if (!snaps) return std::unexpected(snaps.error());
  if (snaps->empty()) return fail(Errc::kNotFound, "no complete snapshot in {}", backup.describe());
  std::string id = opt.snapshot.empty() ? snaps->back() : opt.snapshot;
  if (std::find(snaps->begin(), snaps->end(), id) == snaps->end())
    return fail(Errc::kNotFound, "no complete snapshot {} in {} (there are: {})", id, backup.describe(),
                fmt::join(*snaps, ", "));

  std::error_code ec;
  if (std::filesystem::exists(new_dir, ec) && !std::filesystem::is_empty(new_dir, ec))
    return fail(Errc::kAlreadyExists, "{} is not empty: restore only into a new or empty directory",
                new_dir.string());
  if (auto r = make_private_dir(env, new_dir); !r) return std::unexpected(r.error());

  RestoreReport rep;
  rep.id = id;
  // The snapshot's files (S3: downloaded into NEWDIR/.snapshot, removed when done).
  const auto scratch = new_dir / ".snapshot";
  auto restored = [&]() -> Result<> {
    if (auto r = make_private_dir(env, scratch); !r) return r;
    auto snap = backup.fetch(id, scratch);
    if (!snap) return std::unexpected(snap.error());
    auto m = read_manifest(*snap / "manifest");
    if (!m) return std::unexpected(m.error());
    rep.index_in_meta_db = m->header.index_in_meta_db;
    if (auto r = restore_into(*snap, *m, backup_blobs, new_dir, env, opt, rep); !r) return r;
    std::filesystem::remove_all(scratch, ec);
    return env->fsync_dir(new_dir);
  }();
  if (!restored) {
    // Leave the directory empty, as it was, so a second try can start over.
    for (const auto& e : std::filesystem::directory_iterator(new_dir, ec)) std::filesystem::remove_all(e.path(), ec);
    return std::unexpected(restored.error());
  }
  return rep;
}

}  // namespace blobsync
