#include "store/blob_lifecycle.h"

#include <fmt/chrono.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <mutex>
#include <optional>

#include "core/blob_id.h"
#include "store/blob_store.h"
#include "store/sql_metadata.h"
#include "store/blob_fence.h"
#include "sql/sql_db.h"

namespace blobsync {

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

SqlBytes key(const Digest& d) { return SqlBytes{{d.bytes.data(), d.bytes.size()}}; }

std::string iso_time(std::int64_t ms) {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(static_cast<std::time_t>(ms / 1000)));
}

bool read_digest(const SqlResult& r, std::size_t row, int col, Digest& out) {
  auto b = r.bytes(row, col);
  if (b.size() != out.bytes.size()) return false;
  std::memcpy(out.bytes.data(), b.data(), b.size());
  return true;
}

// Hashes in order, duplicates dropped: rows are locked in hash order, so two
// transactions never wait on each other in a cycle.
std::vector<Digest> sorted_unique(std::span<const Digest> hashes) {
  std::vector<Digest> v(hashes.begin(), hashes.end());
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

}  // namespace

struct BlobLifecycle::Impl {
  std::shared_ptr<SqlDb> db;
  BlobStore& store;
  std::shared_ptr<BlobFence> fence;
  std::vector<HoldSource*> sources;
  Withdraw withdraw;
  std::optional<Digest> audit_cursor;  // guarded by sweep_mu
  std::mutex sweep_mu;                 // one sweep at a time in this process

  Impl(std::shared_ptr<SqlDb> d, BlobStore& s, std::shared_ptr<BlobFence> f)
      : db(std::move(d)), store(s), fence(std::move(f)) {}

  // Every hold on `hash` (blob_hold's, then the sources'), at most `limit`.
  Result<std::vector<std::string>> holds(SqlConn& c, const Digest& hash, std::size_t limit) {
    std::vector<std::string> out;
    auto r = c.query("SELECT holder FROM blob_hold WHERE hash = ? ORDER BY holder LIMIT ?",
                     {key(hash), static_cast<std::int64_t>(limit)});
    if (!r) return std::unexpected(r.error());
    for (std::size_t i = 0; i < r->rows(); ++i) out.push_back(r->text(i, 0));
    for (auto* s : sources) {
      if (out.size() >= limit) break;
      auto more = s->holds(c, hash, limit - out.size());
      if (!more) return std::unexpected(more.error());
      out.insert(out.end(), more->begin(), more->end());
    }
    return out;
  }

  Result<bool> held(SqlConn& c, const Digest& hash) {
    auto h = holds(c, hash, 1);
    if (!h) return std::unexpected(h.error());
    return !h->empty();
  }

  // Locks the row; returns its state (-1: no row).
  static Result<std::int64_t> lock_row(SqlConn& c, const Digest& hash) {
    auto r = c.query("SELECT state FROM blobs WHERE hash = ?" + std::string(c.dialect().for_update()), {key(hash)});
    if (!r) return std::unexpected(r.error());
    return r->empty() ? std::int64_t{-1} : r->int64(0, 0);
  }

  Result<> release_if_unheld(SqlConn& c, const Digest& hash) {
    auto h = held(c, hash);
    if (!h) return std::unexpected(h.error());
    if (*h) return {};
    auto r = c.query("UPDATE blobs SET state = 0, unheld_at_ms = ? WHERE hash = ? AND state = 1", {now_ms(), key(hash)});
    if (!r) return std::unexpected(r.error());
    return {};
  }

  // The row is locked first, so a release or audit deciding on it either
  // sees this hold or is waited for (on PostgreSQL an UPDATE that finds the
  // row already permanent would neither match nor wait). Returns whether the
  // blob's row exists.
  Result<bool> add(SqlConn& c, std::string_view holder, const Digest& hash) {
    auto st = lock_row(c, hash);
    if (!st) return std::unexpected(st.error());
    auto ins = c.query("INSERT INTO blob_hold(hash, holder, since_ms) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                       {key(hash), holder, now_ms()});
    if (!ins) return std::unexpected(ins.error());
    if (*st < 0 || *st == 1) return *st >= 0;
    // Also brings back a row the sweeper is collecting: its step 3 then leaves it.
    auto up = c.query("UPDATE blobs SET state = 1, unheld_at_ms = NULL WHERE hash = ?", {key(hash)});
    if (!up) return std::unexpected(up.error());
    return true;
  }

  Result<> remove(SqlConn& c, std::string_view holder, const Digest& hash) {
    auto st = lock_row(c, hash);
    if (!st) return std::unexpected(st.error());
    auto del = c.query("DELETE FROM blob_hold WHERE hash = ? AND holder = ?", {key(hash), holder});
    if (!del) return std::unexpected(del.error());
    if (del->affected() == 0 || *st != 1) return {};
    return release_if_unheld(c, hash);
  }

  // fn for each hash, in hash order, in one transaction.
  Result<> for_each_in_one_transaction(std::span<const Digest> hashes,
                                       const std::function<Result<>(SqlConn&, const Digest&)>& fn) {
    if (hashes.empty()) return {};
    auto sorted = sorted_unique(hashes);
    return db->transaction([&](SqlConn& c) -> Result<> {
      for (const auto& h : sorted)
        if (auto r = fn(c, h); !r) return r;
      return {};
    });
  }

  std::string describe(const Digest& hash, std::int64_t since_ms, const SweepOptions& o) const {
    return fmt::format("{}: no holds; unheld since {}, grace {}s", to_hash_ref(hash), iso_time(since_ms),
                       o.grace.count());
  }

  Result<std::vector<std::pair<Digest, std::uint64_t>>> candidates(const SweepOptions& o, std::int64_t cutoff_ms,
                                                                   std::vector<SweepEntry>& why) {
    std::vector<std::pair<Digest, std::uint64_t>> out;
    // Interrupted collections first: no new grace.
    auto del = db->read("SELECT hash, size FROM blobs WHERE state = 2 ORDER BY hash");
    if (!del) return std::unexpected(del.error());
    for (std::size_t i = 0; i < del->rows(); ++i) {
      Digest d;
      if (!read_digest(*del, i, 0, d)) continue;
      out.emplace_back(d, static_cast<std::uint64_t>(del->int64(i, 1)));
      why.push_back({d, out.back().second, to_hash_ref(d) + ": interrupted collection (resumed)"});
    }
    auto tmp = db->read(
        "SELECT hash, size, created_at_ms, unheld_at_ms FROM blobs WHERE state = 0 AND created_at_ms <= ? "
        "AND (unheld_at_ms IS NULL OR unheld_at_ms <= ?) ORDER BY hash",
        {cutoff_ms, cutoff_ms});
    if (!tmp) return std::unexpected(tmp.error());
    for (std::size_t i = 0; i < tmp->rows(); ++i) {
      Digest d;
      if (!read_digest(*tmp, i, 0, d)) continue;
      std::int64_t since = tmp->is_null(i, 3) ? tmp->int64(i, 2) : tmp->int64(i, 3);
      out.emplace_back(d, static_cast<std::uint64_t>(tmp->int64(i, 1)));
      why.push_back({d, out.back().second, describe(d, since, o)});
    }
    return out;
  }

  // Re-checks a batch of permanent rows: a hold dropped by a crash between
  // its source's commit and the state change leaves a permanent row that
  // nothing holds; it becomes temporary (and gets the grace period from now).
  // Temporary rows that a hold names (a hold committed beside an insert
  // that did not see it, on PostgreSQL): permanent again, so reads that
  // serve only held blobs (GET /blobs) see them before the grace period ends.
  Result<std::uint64_t> promote_held_temporaries(bool dry_run) {
    auto rows = db->read(
        "SELECT b.hash FROM blobs b WHERE b.state = 0 AND EXISTS (SELECT 1 FROM blob_hold h WHERE h.hash = b.hash)");
    if (!rows) return std::unexpected(rows.error());
    if (dry_run) return std::uint64_t{rows->rows()};
    std::uint64_t n = 0;
    for (std::size_t i = 0; i < rows->rows(); ++i) {
      Digest d;
      if (!read_digest(*rows, i, 0, d)) continue;
      auto r = db->transaction([&](SqlConn& c) -> Result<> {
        auto st = lock_row(c, d);
        if (!st) return std::unexpected(st.error());
        if (*st != 0) return {};
        auto h = keep_if_held(c, d);
        if (!h) return std::unexpected(h.error());
        n += *h ? 1 : 0;
        return {};
      });
      if (!r) return std::unexpected(r.error());
    }
    return n;
  }

  Result<std::uint64_t> audit(std::size_t batch, bool dry_run) {
    if (auto p = promote_held_temporaries(dry_run); !p) return std::unexpected(p.error());
    if (batch == 0) return std::uint64_t{0};
    auto rows = audit_cursor
                    ? db->read("SELECT hash FROM blobs WHERE state = 1 AND hash > ? ORDER BY hash LIMIT ?",
                               {key(*audit_cursor), static_cast<std::int64_t>(batch)})
                    : db->read("SELECT hash FROM blobs WHERE state = 1 ORDER BY hash LIMIT ?",
                               {static_cast<std::int64_t>(batch)});
    if (!rows) return std::unexpected(rows.error());
    std::uint64_t released = 0;
    for (std::size_t i = 0; i < rows->rows(); ++i) {
      Digest d;
      if (!read_digest(*rows, i, 0, d)) continue;
      bool changed = false;
      auto r = db->transaction([&](SqlConn& c) -> Result<> {
        changed = false;
        auto st = lock_row(c, d);
        if (!st) return std::unexpected(st.error());
        if (*st != 1) return {};
        auto h = held(c, d);
        if (!h) return std::unexpected(h.error());
        if (*h || dry_run) return {};
        auto up = c.query("UPDATE blobs SET state = 0, unheld_at_ms = ? WHERE hash = ?", {now_ms(), key(d)});
        if (!up) return std::unexpected(up.error());
        changed = true;
        return {};
      });
      if (!r) return std::unexpected(r.error());
      if (changed) {
        ++released;
        spdlog::info("gc: blob {} was permanent but nothing holds it; collectable after the grace period",
                     to_hash_ref(d));
      }
    }
    audit_cursor.reset();
    if (rows->rows() == batch && batch > 0) {
      Digest last;
      if (read_digest(*rows, rows->rows() - 1, 0, last)) audit_cursor = last;
    }
    return released;
  }

  // A hold the row's state missed (its source committed, the state change
  // did not; or one taken during a collection): the blob is permanent again.
  // Returns whether it is held. REQUIRES: the row is locked.
  Result<bool> keep_if_held(SqlConn& c, const Digest& hash) {
    auto h = held(c, hash);
    if (!h) return std::unexpected(h.error());
    if (!*h) return false;
    auto up = c.query("UPDATE blobs SET state = 1, unheld_at_ms = NULL WHERE hash = ?", {key(hash)});
    if (!up) return std::unexpected(up.error());
    return true;
  }

  // Step 1. Returns true if the blob is now kDeleting (or already was).
  Result<bool> decide(const Digest& hash, std::int64_t cutoff_ms) {
    bool deleting = false;
    auto r = db->transaction([&](SqlConn& c) -> Result<> {
      deleting = false;
      auto row = c.query("SELECT state, created_at_ms, unheld_at_ms FROM blobs WHERE hash = ?" +
                             std::string(c.dialect().for_update()),
                         {key(hash)});
      if (!row) return std::unexpected(row.error());
      if (row->empty()) return {};
      std::int64_t state = row->int64(0, 0);
      if (state == 2) {
        deleting = true;
        return {};
      }
      if (state != 0) return {};
      std::int64_t since = row->is_null(0, 2) ? row->int64(0, 1) : std::max(row->int64(0, 1), row->int64(0, 2));
      if (since > cutoff_ms) return {};
      auto h = keep_if_held(c, hash);
      if (!h) return std::unexpected(h.error());
      if (*h) return {};
      auto up = c.query("UPDATE blobs SET state = 2 WHERE hash = ?", {key(hash)});
      if (!up) return std::unexpected(up.error());
      deleting = true;
      return {};
    });
    if (!r) return std::unexpected(r.error());
    return deleting;
  }

  // Step 3's second half: the bytes of a deleted row, then its blob_gone
  // row. REQUIRES: the fence held exclusively (no upload of `hash` is
  // between its "already stored?" check and its row write).
  Result<> remove_bytes(const Digest& hash) {
    auto row = db->read("SELECT 1 FROM blobs WHERE hash = ?", {key(hash)});
    if (!row) return std::unexpected(row.error());
    if (row->empty()) {  // not stored again meanwhile
      if (auto r = store.backend().remove(hash); !r && r.error().code != Errc::kNotFound) return r;
    }
    auto done = db->query("DELETE FROM blob_gone WHERE hash = ?", {key(hash)});
    if (!done) return std::unexpected(done.error());
    return {};
  }

  // Bytes left by a crash between a row's deletion and its bytes'.
  Result<std::uint64_t> finish_interrupted_deletions() {
    auto rows = db->read("SELECT hash FROM blob_gone ORDER BY hash");
    if (!rows) return std::unexpected(rows.error());
    std::uint64_t n = 0;
    for (std::size_t i = 0; i < rows->rows(); ++i) {
      Digest d;
      if (!read_digest(*rows, i, 0, d)) continue;
      auto guard = fence->exclusive();
      if (!guard) return std::unexpected(guard.error());
      // One object that cannot be removed (EIO, a backend refusing) must not
      // stop every later sweep: it stays listed and is retried next time.
      if (auto r = remove_bytes(d); !r) {
        spdlog::warn("gc: the bytes of collected blob {} cannot be removed yet: {}", to_hash_ref(d),
                     r.error().to_string());
        continue;
      }
      ++n;
    }
    return n;
  }

  // Withdrawal failed: the blob is live again until the next sweep (its
  // grace period is not renewed, so that sweep tries again).
  void undo(const Digest& hash) {
    auto r = db->query("UPDATE blobs SET state = 0 WHERE hash = ? AND state = 2", {key(hash)});
    if (!r) spdlog::warn("gc: blob {} stays in collection: {}", to_hash_ref(hash), r.error().to_string());
  }

  // Step 3. Returns true if the row was deleted (the bytes go after).
  Result<bool> delete_row(const Digest& hash) {
    bool deleted = false;
    auto r = db->transaction([&](SqlConn& c) -> Result<> {
      deleted = false;
      auto st = lock_row(c, hash);
      if (!st) return std::unexpected(st.error());
      if (*st != 2) return {};  // brought back by an upload or a hold
      auto h = keep_if_held(c, hash);
      if (!h) return std::unexpected(h.error());
      if (*h) return {};
      for (auto* s : sources)
        if (auto x = s->on_collect(c, hash); !x) return x;
      auto del = c.query("DELETE FROM blobs WHERE hash = ? RETURNING size, quarantine", {key(hash)});
      if (!del) return std::unexpected(del.error());
      deleted = !del->empty();
      // The bytes go after the commit; until then this row says they must.
      auto gone = c.query("INSERT INTO blob_gone(hash) VALUES (?) ON CONFLICT DO NOTHING", {key(hash)});
      if (!gone) return std::unexpected(gone.error());
      return SqlMetadata::add_totals(c, SqlMetadata::removed_totals(*del));
    });
    if (!r) return std::unexpected(r.error());
    return deleted;
  }
};

BlobLifecycle::BlobLifecycle(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BlobLifecycle::~BlobLifecycle() = default;

Result<std::unique_ptr<BlobLifecycle>> BlobLifecycle::open(std::shared_ptr<SqlDb> db, BlobStore& store,
                                                           std::shared_ptr<BlobFence> fence) {
  auto v = db->schema_version("blobs");
  if (!v) return std::unexpected(v.error());
  if (*v < 3) return fail(Errc::kInternal, "blob lifecycle: the blobs schema is at version {}, 3 needed", *v);
  return std::unique_ptr<BlobLifecycle>(
      new BlobLifecycle(std::make_unique<Impl>(std::move(db), store, std::move(fence))));
}

void BlobLifecycle::add_source(HoldSource* source) { impl_->sources.push_back(source); }
void BlobLifecycle::set_withdraw(Withdraw withdraw) { impl_->withdraw = std::move(withdraw); }

Result<> BlobLifecycle::hold(std::string_view holder, std::span<const Digest> hashes) {
  return impl_->for_each_in_one_transaction(hashes, [&](SqlConn& c, const Digest& h) -> Result<> {
    auto r = impl_->add(c, holder, h);
    if (!r) return std::unexpected(r.error());
    return {};
  });
}

Result<> BlobLifecycle::hold_stored(std::string_view holder, const Digest& hash) {
  return impl_->db->transaction([&](SqlConn& c) -> Result<> {
    auto r = impl_->add(c, holder, hash);
    if (!r) return std::unexpected(r.error());
    // No row: roll the hold back (a pin of something not stored is a typo).
    if (!*r) return fail(Errc::kNotFound, "blob {} is not stored", to_hash_ref(hash));
    return {};
  });
}

Result<> BlobLifecycle::release(std::string_view holder, std::span<const Digest> hashes) {
  return impl_->for_each_in_one_transaction(hashes,
                                            [&](SqlConn& c, const Digest& h) { return impl_->remove(c, holder, h); });
}

Result<> BlobLifecycle::set_holds(std::string_view holder, std::span<const Digest> hashes) {
  auto want = sorted_unique(hashes);
  auto have_rows = impl_->db->read("SELECT hash FROM blob_hold WHERE holder = ?", {holder});
  if (!have_rows) return std::unexpected(have_rows.error());
  std::vector<Digest> have;
  for (std::size_t i = 0; i < have_rows->rows(); ++i) {
    Digest d;
    if (read_digest(*have_rows, i, 0, d)) have.push_back(d);
  }
  std::sort(have.begin(), have.end());
  std::vector<Digest> add, drop;
  std::set_difference(want.begin(), want.end(), have.begin(), have.end(), std::back_inserter(add));
  std::set_difference(have.begin(), have.end(), want.begin(), want.end(), std::back_inserter(drop));
  if (auto r = hold(holder, add); !r) return r;
  return release(holder, drop);
}

Result<std::vector<std::string>> BlobLifecycle::holds_of(const Digest& hash) {
  std::vector<std::string> out;
  auto r = impl_->db->transaction([&](SqlConn& c) -> Result<> {
    auto h = impl_->holds(c, hash, 64);
    if (!h) return std::unexpected(h.error());
    out = std::move(*h);
    return {};
  });
  if (!r) return std::unexpected(r.error());
  return out;
}

Result<> BlobLifecycle::release_if_unheld(SqlConn& c, const Digest& hash) { return impl_->release_if_unheld(c, hash); }

Result<SweepReport> BlobLifecycle::sweep(const SweepOptions& o) {
  std::lock_guard lock(impl_->sweep_mu);
  SweepReport report;
  auto& I = *impl_;
  std::int64_t cutoff_ms = now_ms() - std::chrono::duration_cast<std::chrono::milliseconds>(o.grace).count();
  if (!o.dry_run) {
    for (auto* s : I.sources)
      if (auto r = s->expire(cutoff_ms / 1000); !r) return std::unexpected(r.error());
  }
  if (!o.dry_run) {
    auto finished = I.finish_interrupted_deletions();
    if (!finished) return std::unexpected(finished.error());
    if (*finished) spdlog::info("gc: removed the bytes of {} blobs whose collection a crash interrupted", *finished);
  }
  auto released = I.audit(o.audit_batch, o.dry_run);
  if (!released) return std::unexpected(released.error());
  report.released = *released;
  std::vector<SweepEntry> why;
  auto cands = I.candidates(o, cutoff_ms, why);
  if (!cands) return std::unexpected(cands.error());
  for (std::size_t i = 0; i < cands->size(); ++i) {
    if (o.stop_requested && o.stop_requested()) break;
    const auto& [hash, size] = (*cands)[i];
    if (o.dry_run) {
      // Decided as step 1 would, without writing: only unheld blobs are listed.
      auto h = holds_of(hash);
      if (!h) return std::unexpected(h.error());
      if (h->empty()) report.collected.push_back(why[i]);
      continue;
    }
    auto deleting = I.decide(hash, cutoff_ms);
    if (!deleting) return std::unexpected(deleting.error());
    if (!*deleting) continue;
    if (o.on_step) o.on_step("decided");
    if (I.withdraw) {
      if (auto w = I.withdraw(hash); !w) {
        spdlog::warn("gc: blob {} kept for now: withdrawing it from the registries failed: {}", to_hash_ref(hash),
                     w.error().to_string());
        I.undo(hash);
        ++report.deferred;
        continue;
      }
    }
    if (o.on_step) o.on_step("withdrawn");
    // Row and bytes under the fence: no upload is between its "already
    // stored?" check and its row write meanwhile.
    auto guard = I.fence->exclusive();
    if (!guard) return std::unexpected(guard.error());
    auto deleted = I.delete_row(hash);
    if (!deleted) return std::unexpected(deleted.error());
    if (!*deleted) continue;
    if (o.on_step) o.on_step("unindexed");
    if (auto r = I.remove_bytes(hash); !r)
      spdlog::warn("gc: blob {} was unindexed but its bytes could not be deleted yet (the next sweep retries): {}",
                   to_hash_ref(hash), r.error().to_string());
    ++report.blobs_deleted;
    report.bytes_deleted += size;
    report.collected.push_back(why[i]);
    spdlog::info("gc: collected {}", why[i].why);
  }
  return report;
}

}  // namespace blobsync
