// BlobStore's implementation: ingest (IngestImpl: one streaming pass, then
// commit), reads, quarantine and remove, and open(); verify is in blob_verify.cpp.
#include "store/blob_store.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <future>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "core/blob_hasher.h"
#include "core/blob_id.h"
#include "core/chunking.h"
#include "core/sha256.h"
#include "store/blob_check.h"
#include "store/blob_verify.h"
#include "store/disk_backend.h"
#include "store/durable_commit.h"
#include "store/env.h"
#include "store/hash_pipeline.h"
#include "store/hot_blobs.h"
#include "store/mime_sniffer.h"
#include "store/sqlite_metadata.h"
#include "store/worker_pool.h"

namespace blobsync {

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Commit/insert and delete of one digest must not interleave (a put that
// dedups against bytes a concurrent remove is deleting would index nothing).
class DigestLocks {
 public:
  std::mutex& for_digest(const Digest& d) { return stripes_[d.bytes[0] % stripes_.size()]; }

 private:
  std::array<std::mutex, 64> stripes_;
};

class StoreImpl;

class IngestImpl final : public Ingest {
 public:
  IngestImpl(StoreImpl& store, PutOptions options, std::unique_ptr<BlobWriter> writer, WorkerPool* pool)
      : store_(store),
        options_(std::move(options)),
        pool_(pool),
        writer_(std::move(writer)),
        pipeline_(pool, writer_.get()) {}
  // Members go in reverse order: pipeline_ first (it waits for its lane,
  // which may still be appending), then writer_ (which discards the temp file).
  ~IngestImpl() override = default;

  Result<> write(std::span<const std::byte> data) override {
    if (auto r = check_alive(data.size()); !r) return r;
    auto r = pipeline_.write(data);
    if (!r) dead_ = r.error();
    return r;
  }

  Result<std::span<std::byte>> acquire() override {
    if (auto r = check_alive(0); !r) return std::unexpected(r.error());
    auto space = pipeline_.acquire();
    if (!space) dead_ = space.error();
    return space;
  }

  Result<> filled(std::size_t n) override {
    if (auto r = check_alive(n); !r) return r;
    auto r = pipeline_.filled(n);
    if (!r) dead_ = r.error();
    return r;
  }

  Result<> write_from_fd(int fd, const std::function<void(std::uint64_t)>& progress) override {
    return write_from(store_env(), fd, progress);
  }

  // Reads `fd` to its end straight into the ring (no extra copy); what is
  // read goes to the writer first and is hashed here while the device
  // writes it (1 MiB fits this core's L2, so the hash still reads cached
  // bytes). `size_hint` (e.g. from stat) only saves a
  // slot for the end-of-file read; the size is not enforced (options_.size is).
  Result<> write_from(Env* env, int fd, const std::function<void(std::uint64_t)>& progress,
                      std::optional<std::uint64_t> size_hint = std::nullopt) {
    std::uint64_t last_report = 0;
    pipeline_.hash_on_producer();
    std::optional<std::uint64_t> end = options_.size ? options_.size : size_hint;
    // One file put on its own (put_file) starts its flush as soon as the
    // writer has its last byte, while it is still hashed here. Not for
    // put_files (options_.size is set), whose commits already overlap the
    // next files' reads: there the flusher's hop only cost CPU (A/B, 2 pairs).
    if (!options_.size && size_hint && writer_ && pipeline_.size() == 0) writer_->size_hint(*size_hint);
    for (;;) {
      if (dead_) return std::unexpected(*dead_);
      if (end && pipeline_.size() == *end) {
        // All announced bytes are in: look for the end of the file without
        // taking another ring slot (a 1 MiB file would hold two).
        std::array<std::byte, 512> probe;
        auto n = env->read(fd, probe);
        if (!n) {
          dead_ = n.error();
          return std::unexpected(n.error());
        }
        if (*n == 0) break;
        if (auto r = write(std::span(probe.data(), *n)); !r) return r;  // finish() will refuse the size
        continue;
      }
      auto space = pipeline_.acquire();
      if (!space) {
        dead_ = space.error();
        return std::unexpected(space.error());
      }
      // The blob's first slot in one read (a file of up to 1 MiB is written
      // while it is hashed); later slots a chunk per read, each hashed before
      // the next read can evict it (a 256 MiB put used 3-6% more CPU with
      // whole-slot reads throughout, and its ring grew further).
      std::size_t want = pipeline_.size() < HashPipeline::kSlotSize
                             ? space->size()
                             : kChunkSize - static_cast<std::size_t>(pipeline_.size() % kChunkSize);
      auto n = env->read(fd, space->first(std::min(want, space->size())));
      if (!n) {
        dead_ = n.error();
        return std::unexpected(n.error());
      }
      if (*n == 0) break;
      if (auto r = check_alive(*n); !r) return r;
      if (auto r = pipeline_.filled(*n); !r) {
        dead_ = r.error();
        return r;
      }
      if (progress && pipeline_.size() - last_report >= (8u << 20)) {
        last_report = pipeline_.size();
        progress(last_report);
      }
    }
    if (progress) progress(pipeline_.size());
    return {};
  }

  Result<BlobRecord> finish() override;

  std::uint64_t bytes_written() const override { return pipeline_.size(); }

  std::string sniffed_mime() const override {
    // Sniff what came so far; the answer is kept for as long as the head does
    // not grow, so finish() (and a caller's later call) reuse it.
    auto head = pipeline_.head();
    if (!sniff_ || sniff_len_ != head.size()) {
      if (!may_be_specific(head)) return "";  // libmagic could only guess: not asked
      sniff_ = sniff_mime(head);
      sniff_len_ = head.size();
    }
    return sniff_->specific ? sniff_->mime : "";
  }

 private:
  Result<> check_alive(std::size_t more) {
    if (dead_) return std::unexpected(*dead_);
    if (finished_) return fail(Errc::kInternal, "write after finish");
    if (more > options_.max_size || pipeline_.size() > options_.max_size - more) {
      // The temp file goes when the ingest is destroyed (the lane may still be writing).
      dead_ = Error{Errc::kTooLarge, fmt::format("blob is larger than the limit of {} bytes", options_.max_size)};
      return std::unexpected(*dead_);
    }
    return {};
  }

  std::string choose_mime() const;
  Env* store_env() const;
  // A message naming the first chunk whose hash differs from
  // PutOptions::expected_chunk_hashes (or the count), if any.
  std::optional<std::string> first_unexpected_chunk(const std::vector<Digest>& got) const;

  StoreImpl& store_;
  PutOptions options_;
  WorkerPool* pool_;
  std::unique_ptr<BlobWriter> writer_;  // null: content already stored, only verify
  HashPipeline pipeline_;               // after writer_: destroyed first
  std::optional<Error> dead_;
  bool finished_ = false;
  mutable std::optional<MimeSniff> sniff_;
  mutable std::size_t sniff_len_ = 0;  // head bytes sniff_ was computed from
};

class StoreImpl final : public BlobStore {
 public:
  StoreImpl(Env* env, std::shared_ptr<BlobBackend> backend, std::shared_ptr<MetadataStore> metadata)
      : env_(env),
        backend_(std::move(backend)),
        metadata_(std::move(metadata)),
        pool_(std::max(2u, std::thread::hardware_concurrency())) {}
  // The notes of the last puts, whose bytes are durable: gone now rather than
  // re-verified at the next open. Best effort (that re-verification is the fallback).
  ~StoreImpl() override { (void)metadata_->flush_notes(); }

  Result<std::unique_ptr<Ingest>> begin_put(const PutOptions& options) override {
    return begin(options);
  }

  Result<std::unique_ptr<IngestImpl>> begin(const PutOptions& options) {
    std::unique_ptr<BlobWriter> writer;
    bool already = false;
    if (options.expected) {
      auto row = metadata_->get_blob(*options.expected);
      if (!row) return std::unexpected(row.error());
      if (*row && (*row)->quarantine.empty()) {  // a quarantined copy is written afresh (the heal)
        auto st = backend_->stat(*options.expected);
        already = st && st->size == (*row)->size;
      }
    }
    if (!already) {
      auto w = options.size ? backend_->create_writer_sized(options.expected, *options.size)
                            : backend_->create_writer(options.expected);
      if (!w) return std::unexpected(w.error());
      writer = std::move(*w);
    }
    return std::make_unique<IngestImpl>(*this, options, std::move(writer), &pool_);
  }

  Result<BlobRecord> put_file(const std::filesystem::path& path, const PutOptions& options,
                              const std::function<void(std::uint64_t)>& progress) override {
    auto fd = env_->open(path, Env::kRead);
    if (!fd) return std::unexpected(fd.error());
    struct Closer {
      Env* env;
      int fd;
      ~Closer() { (void)env->close(fd); }  // read-only: a failed close loses nothing
    } closer{env_, *fd};
    auto st = env_->stat(path);
    if (st && st->is_dir) return fail(Errc::kInvalidArgument, "{} is a directory", path.string());
    if (st && st->size > options.max_size)
      return fail(Errc::kTooLarge, "{} is {} bytes, larger than the limit of {} bytes", path.string(), st->size,
                  options.max_size);
    auto ingest = begin(options);
    if (!ingest) return std::unexpected(ingest.error());
    std::optional<std::uint64_t> size_hint;
    if (st && st->is_regular) size_hint = st->size;
    if (auto r = (*ingest)->write_from(env_, *fd, progress, size_hint); !r) return std::unexpected(r.error());
    return (*ingest)->finish();
  }

  Result<BlobRecord> put_bytes(std::span<const std::byte> data, const PutOptions& options) override {
    auto ingest = begin(options);
    if (!ingest) return std::unexpected(ingest.error());
    if (auto r = (*ingest)->write(data); !r) return std::unexpected(r.error());
    return (*ingest)->finish();
  }

  Result<BlobRecord> stat(const Digest& hash) override {
    gate_.wait(hash);
    auto row = metadata_->get_blob(hash);
    if (!row) return std::unexpected(row.error());
    if (!*row || (*row)->state == BlobState::kDeleting) return not_found(hash);
    return std::move(**row);
  }

  Result<std::shared_ptr<const ServedBlob>> stat_to_serve(const Digest& hash) override {
    gate_.wait(hash);
    return hot_.lookup(hash, *metadata_, *backend_);
  }

  Result<std::unique_ptr<BlobReader>> open_to_serve(const ServedBlob& blob, std::uint64_t offset,
                                                    std::uint64_t length) override {
    if (blob.file) return HotBlobs::open_range(blob, offset, length);
    return backend_->open_sized(blob.record.hash, blob.record.size, offset, length);
  }

  Result<bool> contains(const Digest& hash) override {
    gate_.wait(hash);
    auto row = metadata_->get_blob(hash);
    if (!row) return std::unexpected(row.error());
    return row->has_value() && !unservable(**row);
  }

  Result<std::unique_ptr<BlobReader>> open(const Digest& hash, std::uint64_t offset, std::uint64_t length) override {
    gate_.wait(hash);
    auto row = metadata_->get_blob(hash);
    if (!row) return std::unexpected(row.error());
    if (!*row) return not_found(hash);
    if (auto refused = unservable(**row)) return std::unexpected(*refused);
    auto reader = backend_->open_sized(hash, (*row)->size, offset, length);
    if (!reader && reader.error().code == Errc::kNotFound) return missing_bytes(hash);
    return reader;
  }

  Result<> read_verified(const Digest& hash,
                         const std::function<Result<>(std::span<const std::byte>)>& sink) override {
    auto rec = stat(hash);
    if (!rec) return std::unexpected(rec.error());
    if (auto refused = unservable(*rec)) return std::unexpected(*refused);
    return read_checked(*backend_, *rec, sink);
  }

  Result<> quarantine(const Digest& hash, std::string_view reason) override {
    if (reason.empty()) return fail(Errc::kInvalidArgument, "a quarantine needs a reason");
    return set_quarantine(hash, reason);
  }
  Result<> release_quarantine(const Digest& hash) override { return set_quarantine(hash, ""); }
  std::uint64_t quarantine_generation() const override { return quarantine_gen_.load(); }

  Result<> remove(const Digest& hash) override {
    std::lock_guard g(locks_.for_digest(hash));
    auto row = metadata_->get_blob(hash);
    if (!row) return std::unexpected(row.error());
    if (!*row) {
      // Unindexed leftovers go too, but the blob was not stored.
      auto st = backend_->stat(hash);
      if (st) {
        if (auto r = backend_->remove(hash); !r) return r;
        return {};
      }
      return not_found(hash);
    }
    if (auto r = metadata_->delete_blob(hash); !r) return r;
    if (auto r = backend_->remove(hash); !r)
      return fail(r.error().code, "blob {} was unindexed but its bytes could not be deleted: {}", to_hash_ref(hash),
                  r.error().message);
    return {};
  }

  Result<> set_state(const Digest& hash, BlobState state) override { return metadata_->set_state(hash, state); }

  Result<std::vector<BlobRecord>> list(std::optional<Digest> after, std::size_t limit) override {
    return metadata_->list_blobs(after, limit);
  }

  Result<MetadataStats> stats() override { return metadata_->stats(); }

  Result<VerifyReport> verify(const std::function<void(const Digest&)>& on_blob) override {
    return verify_blobs(
        *metadata_, *backend_, [this](const Digest& d) -> std::mutex& { return locks_.for_digest(d); },
        [this](const Digest& d, std::string_view reason) { return set_quarantine(d, reason); }, on_blob);
  }

  BlobBackend& backend() override { return *backend_; }
  MetadataStore& metadata() override { return *metadata_; }
  Env* env() const { return env_; }

  // Called by IngestImpl::finish once the digest is known and verified.
  // `mime` is called once the flush has started if it may wait for the
  // sniffer (`mime_ready` false).
  Result<BlobRecord> commit(BlobWriter* writer, BlobRecord record, const std::function<std::string()>& mime,
                            bool mime_ready, std::string_view hold,
                            const std::function<Result<>(SqlConn&, const BlobRecord&)>& with_row) {
    std::lock_guard g(locks_.for_digest(record.hash));
    auto row = metadata_->get_blob(record.hash);
    if (!row) return std::unexpected(row.error());
    bool bytes_ok = false;
    bool heal = *row && !(*row)->quarantine.empty();
    if (*row && !heal) {
      auto st = backend_->stat(record.hash);
      bytes_ok = st && st->size == record.size;
    }
    if (!bytes_ok && !writer)
      return fail(Errc::kConflict, "blob {} was removed or quarantined while it was being uploaded; retry",
                  to_hash_ref(record.hash));
    if (!backend_->durable_on_publish() && metadata_->keeps_notes()) {
      MetadataStore::RowHook hook;
      if (with_row) hook = [&](SqlConn& c) { return with_row(c, record); };
      NotedCommit c{*backend_, *metadata_, gate_, flushers_};
      auto inserted = commit_noted(c, writer, record, mime, mime_ready, hold, hook, *row, bytes_ok, heal);
      if (!inserted) return std::unexpected(inserted.error());
      return after_insert(std::move(record), *inserted, heal);
    }
    // The backend's commit is durable by itself (S3), or the metadata keeps
    // no notes: bytes durable first, then the row.
    if (!bytes_ok) {
      // Backends dedup by name: the bad copy must go before ours can land.
      if (auto r = heal ? backend_->remove(record.hash) : Result<>(); !r && r.error().code != Errc::kNotFound)
        return std::unexpected(r.error());
      if (auto r = writer->commit(record.hash); !r) return std::unexpected(r.error());
    } else if (writer) {
      writer->abort();  // dedup: the stored copy stays, ours is dropped
    }
    record.mime_type = mime();
    MetadataStore::RowHook hook;
    if (with_row) hook = [&](SqlConn& c) { return with_row(c, record); };
    auto inserted = metadata_->insert_blob_with(record, hold, hook);
    if (!inserted) {
      // No row names these bytes (we hold the digest's lock), so drop them
      // rather than leave an unindexed copy; if that fails too, verify reports it.
      if (!*row) (void)backend_->remove(record.hash);
      return std::unexpected(inserted.error());
    }
    return after_insert(std::move(record), *inserted, heal);
  }

  // The row as stored: ours if we inserted it, else the existing one (a heal
  // lifts its quarantine now that verified bytes are durable).
  Result<BlobRecord> after_insert(BlobRecord record, bool inserted, bool heal) {
    if (inserted) return record;
    if (heal) {
      if (auto r = set_quarantine(record.hash, ""); !r) return std::unexpected(r.error());
    }
    auto now = metadata_->get_blob(record.hash);
    if (!now) return std::unexpected(now.error());
    if (!*now) return fail(Errc::kInternal, "blob {} vanished after insert", to_hash_ref(record.hash));
    return std::move(**now);
  }

  Result<> set_quarantine(const Digest& hash, std::string_view reason) {
    auto r = metadata_->set_quarantine(hash, reason);
    if (r) quarantine_gen_.fetch_add(1);
    return r;
  }

  static std::unexpected<Error> missing_bytes(const Digest& hash) {
    return fail(Errc::kCorruption, "blob {} is indexed but its bytes are missing", to_hash_ref(hash));
  }

  static std::unexpected<Error> not_found(const Digest& hash) {
    return fail(Errc::kNotFound, "blob {} is not stored", to_hash_ref(hash));
  }

 private:
  Env* env_;
  std::shared_ptr<BlobBackend> backend_;
  std::shared_ptr<MetadataStore> metadata_;
  DigestLocks locks_;
  HotBlobs hot_;  // stat_to_serve's cache
  DurabilityGate gate_;  // readers wait for blobs being flushed
  FlushThreads flushers_{64};
  std::atomic<std::uint64_t> quarantine_gen_{0};
  WorkerPool pool_;  // last: its threads stop before the rest goes
};

Result<BlobRecord> IngestImpl::finish() {
  if (dead_) return std::unexpected(*dead_);
  if (finished_) return fail(Errc::kInternal, "finish called twice");
  auto result = pipeline_.finish();
  finished_ = true;
  if (!result) {
    dead_ = result.error();
    if (writer_) writer_->abort();
    return std::unexpected(result.error());
  }
  if (options_.size && result->size != *options_.size) {
    if (writer_) writer_->abort();
    dead_ = Error{Errc::kInvalidArgument,
                  fmt::format("{} bytes received, {} announced", result->size, *options_.size)};
    return std::unexpected(*dead_);
  }
  if (auto bad = first_unexpected_chunk(result->chunk_hashes)) {
    if (writer_) writer_->abort();
    dead_ = Error{Errc::kCorruption, *bad};
    return std::unexpected(*dead_);
  }
  if (options_.expected && result->digest != *options_.expected) {
    if (writer_) writer_->abort();
    dead_ = Error{Errc::kCorruption, fmt::format("content hash is {}, expected {}", to_hash_ref(result->digest),
                                                 to_hash_ref(*options_.expected))};
    return std::unexpected(*dead_);
  }
  BlobRecord record;
  record.hash = result->digest;
  record.size = result->size;
  record.chunk_count = chunk_count(result->size);
  record.chunk_hashes = std::move(result->chunk_hashes);
  record.created_at_ms = now_ms();
  record.state = options_.state;
  record.filename = options_.filename;
  if (record.chunk_hashes.size() != record.chunk_count)
    return fail(Errc::kInternal, "ingest produced {} chunk hashes for {} bytes", record.chunk_hashes.size(),
                record.size);
  // libmagic costs 0.5-5 ms a call: sniff on the pool while the commit waits
  // for the disk. The task owns a copy of the head, so it never outlives what it reads.
  struct Sniff {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<MimeSniff> result;
  };
  auto sniff = std::make_shared<Sniff>();
  // With a declared type, only a specific sniff changes the answer
  // (choose_mime), and binary bytes without a strong signature never give one.
  bool need_generic = normalize_mime(options_.declared_mime).empty();
  bool have_sniff = !options_.sniff || (sniff_ && sniff_len_ == pipeline_.head().size()) ||
                    (!need_generic && !may_be_specific(pipeline_.head()));
  if (!have_sniff && need_generic && sniffs_as_octet_stream(pipeline_.head())) {
    // Binary bytes libmagic could only call application/octet-stream (a
    // CLI put of an image or an archive without a strong signature, random bytes).
    sniff_ = MimeSniff{.mime = "application/octet-stream", .specific = false, .guess = ""};
    sniff_len_ = pipeline_.head().size();
    have_sniff = true;
  }
  if (!have_sniff) {
    auto head = pipeline_.head();
    pool_->post([sniff, head = std::vector<std::byte>(head.begin(), head.end())] {
      MimeSniff r = sniff_mime(head);
      std::lock_guard g(sniff->mu);
      sniff->result = std::move(r);
      sniff->cv.notify_all();
    });
  }
  auto mime = [&]() -> std::string {
    if (!options_.sniff) {
      std::string declared = normalize_mime(options_.declared_mime);
      return declared.empty() ? "application/octet-stream" : declared;
    }
    if (!have_sniff) {
      std::unique_lock lk(sniff->mu);
      sniff->cv.wait(lk, [&] { return sniff->result.has_value(); });
      sniff_ = *sniff->result;
      sniff_len_ = pipeline_.head().size();
    }
    return choose_mime();
  };
  auto committed =
      store_.commit(writer_.get(), std::move(record), mime, have_sniff, options_.hold, options_.with_row);
  writer_.reset();
  if (!committed) dead_ = committed.error();
  return committed;
}

Env* IngestImpl::store_env() const { return store_.env(); }

std::optional<std::string> IngestImpl::first_unexpected_chunk(const std::vector<Digest>& got) const {
  if (!options_.expected_chunk_hashes) return std::nullopt;
  const std::vector<Digest>& want = *options_.expected_chunk_hashes;
  std::size_t n = std::min(want.size(), got.size());
  for (std::size_t i = 0; i < n; ++i)
    if (got[i] != want[i]) return fmt::format("chunk {} does not match its expected hash", i);
  if (want.size() != got.size())
    return fmt::format("blob has {} chunks, {} chunk hashes were expected", got.size(), want.size());
  return std::nullopt;
}

std::string IngestImpl::choose_mime() const {
  std::string sniffed = sniffed_mime();
  if (!sniffed.empty()) return sniffed;
  if (std::string declared = normalize_mime(options_.declared_mime); !declared.empty()) return declared;
  // Nothing declared: libmagic's generic answer (text/plain...) still beats
  // octet-stream for plain files put from the CLI.
  if (sniff_ && !sniff_->mime.empty()) return sniff_->mime;
  return "application/octet-stream";
}

}  // namespace

// Without a cache: the row, then the backend.
Result<std::shared_ptr<const ServedBlob>> BlobStore::stat_to_serve(const Digest& hash) {
  auto rec = stat(hash);
  if (!rec) return std::unexpected(rec.error());
  auto blob = std::make_shared<ServedBlob>();
  blob->record = std::move(*rec);
  return std::shared_ptr<const ServedBlob>(std::move(blob));
}

Result<std::unique_ptr<BlobReader>> BlobStore::open_to_serve(const ServedBlob& blob, std::uint64_t offset,
                                                             std::uint64_t length) {
  return backend().open_sized(blob.record.hash, blob.record.size, offset, length);
}

Result<std::unique_ptr<BlobStore>> BlobStore::open(const StoreOptions& options) {
  Env* env = options.env ? options.env : Env::posix();
  const std::filesystem::path& dir = options.data_dir;
  if (dir.empty()) return fail(Errc::kInvalidArgument, "the data directory path is empty");
  auto made = env->mkdir(dir);
  if (!made) return fail(made.error().code, "cannot create data directory: {}", made.error().message);
  if (*made) {
    std::filesystem::path parent = dir.parent_path().empty() ? "." : dir.parent_path();
    // Best effort, but said: until the parent is synced a crash can lose the
    // new directory.
    if (auto r = env->fsync_dir(parent); !r)
      spdlog::warn("store: cannot sync {} after creating {}: {}", parent.string(), dir.string(), r.error().message);
  }
  std::shared_ptr<BlobBackend> backend = options.backend;
  if (!backend) {
    auto disk = DiskBackend::open(env, dir / "blobs");
    if (!disk) return fail(disk.error().code, "cannot open blob directory: {}", disk.error().message);
    backend = std::move(*disk);
  }
  if (auto r = backend->recover(); !r)
    return fail(r.error().code, "cannot clean up interrupted writes: {}", r.error().message);
  std::shared_ptr<MetadataStore> metadata = options.metadata;
  if (!metadata) {
    auto db = SqliteMetadata::open(dir / "meta.db");
    if (!db) return fail(db.error().code, "cannot open metadata database: {}", db.error().message);
    metadata = std::move(*db);
  }
  auto pending = recover_pending(*metadata, *backend);
  if (!pending)
    return fail(pending.error().code, "cannot check the blobs a crash interrupted: {}", pending.error().message);
  return std::unique_ptr<BlobStore>(new StoreImpl(env, std::move(backend), std::move(metadata)));
}

}  // namespace blobsync
