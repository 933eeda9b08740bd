#include "store/durable_commit.h"

#include <future>
#include <random>

#include <spdlog/spdlog.h>

#include "core/blob_id.h"
#include "store/blob_check.h"

namespace blobsync {

void DurabilityGate::enter(const Digest& d) {
  std::lock_guard g(mu_);
  ++digests_[d];
  flushing_.fetch_add(1, std::memory_order_release);
}

void DurabilityGate::leave(const Digest& d) {
  {
    std::lock_guard g(mu_);
    if (auto it = digests_.find(d); it != digests_.end() && --it->second == 0) digests_.erase(it);
    flushing_.fetch_sub(1, std::memory_order_release);
  }
  cv_.notify_all();
}

void DurabilityGate::wait(const Digest& d) {
  if (flushing_.load(std::memory_order_acquire) == 0) return;
  std::unique_lock lk(mu_);
  cv_.wait(lk, [&] { return !digests_.contains(d); });
}

FlushThreads::~FlushThreads() {
  std::vector<std::thread> threads;
  {
    std::lock_guard g(mu_);
    stopping_ = true;
    threads = std::move(threads_);
  }
  cv_.notify_all();
  for (auto& t : threads) t.join();
}

void FlushThreads::post(std::function<void()> task) {
  std::lock_guard g(mu_);
  tasks_.push_back(std::move(task));
  if (idle_ >= tasks_.size() || threads_.size() >= max_) {
    cv_.notify_one();
    return;
  }
  threads_.emplace_back([this] { run(); });
}

void FlushThreads::run() {
  std::unique_lock lk(mu_);
  for (;;) {
    ++idle_;
    cv_.wait(lk, [&] { return stopping_ || !tasks_.empty(); });
    --idle_;
    if (tasks_.empty()) return;  // stopping, nothing left
    auto task = std::move(tasks_.front());
    tasks_.pop_front();
    lk.unlock();
    task();
    lk.lock();
  }
}

std::int64_t new_note_token() {
  thread_local std::mt19937_64 rng{(static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}()};
  std::int64_t t;
  do t = static_cast<std::int64_t>(rng() >> 1);
  while (t == 0);
  return t;
}

Result<bool> commit_noted(const NotedCommit& c, BlobWriter* writer, BlobRecord& record,
                          const std::function<std::string()>& mime, bool mime_ready, std::string_view hold,
                          const MetadataStore::RowHook& with_row, const std::optional<BlobRecord>& row, bool bytes_ok,
                          bool heal) {
  std::optional<std::int64_t> old_note;  // a note of someone else's copy we dedup on
  bool flush_existing = false;           // sync() the copy at the name, not ours
  bool published = false;
  if (bytes_ok) {
    if (writer) writer->abort();
    auto note = c.metadata.pending_note(record.hash);
    if (!note) return std::unexpected(note.error());
    // Its first put (here or in another process) may still be flushing:
    // ours must not be reported before the bytes are durable. Idempotent.
    old_note = *note;
    flush_existing = old_note.has_value();
  } else {
    // A quarantined copy is bad: replaced. Anything else at the name has no
    // verified row (a crash's leftover, another process's put in flight):
    // used only if its bytes hash right, and then synced by us too.
    auto p = writer->publish(record.hash, /*replace=*/heal);
    if (!p && p.error().code == Errc::kAlreadyExists) {
      if (read_checked(c.backend, record, [](std::span<const std::byte>) -> Result<> { return {}; })) {
        writer->abort();
        flush_existing = true;
      } else {
        p = writer->publish(record.hash, /*replace=*/true);
      }
    }
    if (!p && !flush_existing) return std::unexpected(p.error());
    published = !flush_existing;
  }
  const bool flushing = published || flush_existing;
  // Our note, unless we only sync a copy that has one already.
  const std::int64_t note = flushing && !old_note ? new_note_token() : 0;
  auto flush = [&, published] { return published ? writer->sync() : c.backend.sync(record.hash); };
  // The flush runs beside the row's commit: on this thread if another
  // thread commits the row's group (insert_blob_noted's `meanwhile`), else
  // on a flush thread; there too while the MIME type may still be sniffed
  // (`mime` waits for it), so the flush need not wait.
  Result<> sync;
  std::promise<Result<>> synced;
  auto sync_done = synced.get_future();
  bool posted = false;
  auto post = [&] {
    c.flushers.post([&] { synced.set_value(flush()); });
    posted = true;
  };
  if (flushing) c.gate.enter(record.hash);
  if (flushing && !mime_ready) post();
  record.mime_type = mime();
  auto inserted = c.metadata.insert_blob_noted(record, hold, with_row, note, [&](bool committing_here) {
    if (!flushing || posted) return;
    if (committing_here) post();
    else sync = flush();
  });
  if (posted) sync = sync_done.get();
  if (flushing) c.gate.leave(record.hash);
  if (!inserted) {
    // No row names bytes we published (the caller holds the digest's lock): drop them.
    if (published && !row) (void)c.backend.remove(record.hash);
    return std::unexpected(inserted.error());
  }
  if (!sync) {
    // Not durable: nothing may name these bytes. A row that was there
    // before keeps its note, so the next open re-verifies it.
    if (*inserted) {
      if (auto r = c.metadata.delete_blob(record.hash); r && published) (void)c.backend.remove(record.hash);
    }
    return std::unexpected(sync.error());
  }
  if (note != 0) c.metadata.note_flushed(record.hash, note);
  if (old_note) c.metadata.note_flushed(record.hash, *old_note);
  return inserted;
}

Result<PendingRecovery> recover_pending(MetadataStore& metadata, BlobBackend& backend) {
  PendingRecovery out;
  // Another live process (a server next to this CLI) may hold notes whose
  // flush is running or done and not yet deleted: hashing its blobs here
  // could remove a reported blob whose bytes went bad since. Its notes are
  // settled by it, or by the next open with no one else (after a power
  // loss, which stops every process, that is the first open).
  if (!metadata.keeps_notes() || backend.shared_with_live_process()) return out;
  auto notes = metadata.pending_notes();
  if (!notes) return std::unexpected(notes.error());
  for (const auto& [hash, token] : *notes) {
    auto row = metadata.get_blob(hash);
    if (!row) return std::unexpected(row.error());
    if (*row) {
      // Hashing is the only proof: the file may be a crash's leftover of
      // the right size with other bytes (it was renamed before its flush).
      auto ok = read_checked(backend, **row, [](std::span<const std::byte>) -> Result<> { return {}; });
      if (!ok && ok.error().code != Errc::kCorruption && ok.error().code != Errc::kNotFound)
        return std::unexpected(ok.error());
      if (ok) {
        ok = backend.sync(hash);
        if (!ok && ok.error().code != Errc::kNotFound) return std::unexpected(ok.error());
      }
      if (ok) {
        ++out.kept;
      } else {
        // Never reported (its put was still flushing): no row may name these bytes.
        spdlog::warn("store: blob {} was being stored at a crash and its bytes did not survive ({}); removed",
                     to_hash_ref(hash), ok.error().message);
        if (auto r = metadata.delete_blob(hash); !r) return std::unexpected(r.error());
        if (auto r = backend.remove(hash); !r) return std::unexpected(r.error());
        ++out.removed;
        continue;  // delete_blob took the note with the row
      }
    }
    if (auto r = metadata.clear_note(hash, token); !r) return std::unexpected(r.error());
  }
  return out;
}

}  // namespace blobsync
