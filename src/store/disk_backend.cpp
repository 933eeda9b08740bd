#include "store/disk_backend.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <map>
#include <optional>
#include <random>

#include "core/blob_id.h"
#include "store/background_flusher.h"
#include "store/env.h"

namespace blobsync {

namespace {

constexpr char kHex[] = "0123456789abcdef";

std::string shard_name(std::uint8_t b) { return {kHex[b >> 4], kHex[b & 15]}; }

std::string random_session_id() {
  std::random_device rd;
  std::uint64_t r = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  return fmt::format("{}-{:016x}", static_cast<long>(::getpid()), r);
}

bool is_lower_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

// ---------------------------------------------------------------------------
// Writer

class DiskWriter final : public BlobWriter {
 public:
  DiskWriter(DiskBackend& backend, int fd, std::filesystem::path tmp)
      : backend_(backend), env_(backend.env_), fd_(fd), tmp_(std::move(tmp)) {}
  ~DiskWriter() override { abort(); }

  Result<> append(std::span<const std::byte> data) override {
    if (done_) return fail(Errc::kInternal, "append to a finished blob writer");
    constexpr std::size_t kAlign = Env::kDirectIoAlignment;
    bool aligned = reinterpret_cast<std::uintptr_t>(data.data()) % kAlign == 0 && data.size() % kAlign == 0 &&
                   written_ % kAlign == 0 && data.size() >= backend_.options_.direct_io_min_write;
    // Large appends switch to O_DIRECT (small blobs stay buffered: no second
    // descriptor for a few KiB).
    if (aligned && direct_fd_ < 0 && !direct_refused_ && backend_.options_.direct_io &&
        written_ >= backend_.options_.direct_io_after && backend_.direct_io_works_.load(std::memory_order_relaxed)) {
      auto d = env_->open(tmp_, Env::kWrite | Env::kDirect);
      if (d) {
        direct_fd_ = *d;
      } else if (d.error().code == Errc::kInvalidArgument) {
        backend_.direct_io_works_ = false;  // the file system refuses O_DIRECT: stop asking
        direct_refused_ = true;
      } else {
        abort();
        return std::unexpected(d.error());
      }
    }
    bool direct = aligned && direct_fd_ >= 0;
    if (auto r = env_->pwrite(direct ? direct_fd_ : fd_, data, written_); !r) {
      abort();
      return r;
    }
    written_ += data.size();
    if (direct) {
      writeback_from_ = written_;  // already on its way to the device
    } else if (std::uint64_t every = backend_.options_.bytes_per_sync;
               every != 0 && written_ - writeback_from_ >= every) {
      if (auto r = env_->start_writeback(fd_, writeback_from_, written_ - writeback_from_); !r) {
        abort();
        return r;
      }
      writeback_from_ = written_;
    }
    return flush_early();
  }

  Result<> commit(const Digest& digest) override {
    if (done_) return fail(Errc::kInternal, "commit of a finished blob writer");
    std::filesystem::path final_path = backend_.blob_path(digest);
    // No dedup on a file already at the name: since publish() renames before
    // flushing, such a file proves nothing (it may be a crash's leftover with
    // other bytes). Ours is durable before the rename, so replacing is safe.
    if (auto r = close_for_rename(); !r) return fail_with(r.error());
    if (auto r = flush_rest(); !r) return fail_with(r.error());
    int fd = std::exchange(fd_, -1);
    if (auto r = env_->close(fd); !r) return fail_with(r.error());
    if (auto r = env_->rename(tmp_, final_path); !r) return fail_with(r.error());
    done_ = true;  // tmp_ no longer exists
    if (auto r = env_->fsync_dir(final_path.parent_path()); !r) {
      // The name may not survive a crash; don't leave a blob whose durability we can't vouch for.
      // Best effort: the fsync_dir error is the one the caller needs.
      (void)env_->unlink(final_path);
      return r;
    }
    return {};
  }

  // Renames first; sync() flushes the file and the shard directory after.
  Result<> publish(const Digest& digest, bool replace) override {
    if (done_) return fail(Errc::kInternal, "publish of a finished blob writer");
    std::filesystem::path final_path = backend_.blob_path(digest);
    if (auto r = close_for_rename(); !r) return fail_with(r.error());
    // Not replacing is decided by the rename itself: another process's file
    // appearing between a check and the rename would be replaced.
    if (auto r = replace ? env_->rename(tmp_, final_path) : env_->rename_noreplace(tmp_, final_path); !r) {
      if (r.error().code == Errc::kAlreadyExists) return r;  // the writer stays usable
      return fail_with(r.error());
    }
    done_ = true;  // tmp_ no longer exists; fd_ stays open for sync()
    published_ = std::move(final_path);
    return {};
  }

  Result<> sync() override {
    if (published_.empty() || fd_ < 0) return fail(Errc::kInternal, "sync of an unpublished blob writer");
    auto synced = flush_rest();
    auto closed = env_->close(std::exchange(fd_, -1));
    if (!synced) return synced;
    if (!closed) return closed;
    return env_->fsync_dir(published_.parent_path());
  }

  void size_hint(std::uint64_t size) override { size_ = size; }

  void abort() override {
    if (done_) {
      // Published: the name stays (the caller removes it if nothing names it).
      (void)wait_flush();  // the flusher may still use fd_
      if (fd_ >= 0) (void)env_->close(std::exchange(fd_, -1));
      return;
    }
    done_ = true;
    // abort() cannot fail: the write is being dropped, so its flush, close and
    // unlink errors are moot, and a tmp file left behind is removed by a
    // later process's recover().
    (void)wait_flush();  // the flusher still uses fd_
    if (direct_fd_ >= 0) (void)env_->close(std::exchange(direct_fd_, -1));
    if (fd_ >= 0) (void)env_->close(std::exchange(fd_, -1));
    (void)env_->unlink(tmp_);
  }

 private:
  // Drops the write (abort()) and returns `e`.
  Result<> fail_with(Error e) {
    abort();
    return std::unexpected(std::move(e));
  }

  // The O_DIRECT twin is closed before the rename (its writes have all
  // returned: the bytes the final name shows are all written). A flush in
  // flight may go on beside the rename: it is of fd_, and sync() (or
  // commit()) waits for it before the blob counts as durable.
  Result<> close_for_rename() {
    if (direct_fd_ >= 0) return env_->close(std::exchange(direct_fd_, -1));
    return {};
  }

  // Makes every byte written durable: waits for the flush in flight, and
  // runs fdatasync unless that flush started after the last byte (the
  // final flush of flush_early()).
  Result<> flush_rest() {
    if (auto r = wait_flush(); !r) return r;
    if (flushed_to_ == written_ && flushed_to_ != 0 && final_flush_ok_) return {};
    return env_->fdatasync(fd_);
  }

  // Every flush_every bytes (slow_flush_every for a slow writer), a flush
  // of what was written so far on the backend's flusher thread
  // (store/background_flusher.h), one at a time; its error ends the writer.
  Result<> flush_early() {
    auto now = std::chrono::steady_clock::now();
    if (flush_ && flush_->wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
      if (auto r = wait_flush(); !r) {
        abort();
        return r;
      }
      // The time this writer spent stalled behind its own flush says
      // nothing about its speed.
      rate_from_ = written_;
      rate_mark_ = now;
    }
    if (flush_) return {};
    const auto& o = backend_.options_;
    bool due = o.flush_every != 0 && written_ - flushed_to_ >= o.flush_every;
    // The last byte of a blob of known size written with O_DIRECT: its
    // flush starts now, while the caller hashes the rest, instead of after
    // the hash (a 1 MiB put one at a time waited for it: about one device
    // flush per put). Buffered (small) blobs keep the flush at commit: their
    // hash takes microseconds, and the commit may run the flush on the
    // putting thread with no hop.
    const bool last = size_ && written_ == *size_ && direct_fd_ >= 0 && written_ != flushed_to_;
    due = due || last;
    if (!due && o.slow_flush_every != 0 && written_ - rate_from_ >= o.slow_flush_every) {
      double seconds = std::chrono::duration<double>(now - rate_mark_).count();
      due = static_cast<double>(written_ - rate_from_) < static_cast<double>(o.slow_writer_rate) * seconds;
      rate_from_ = written_;
      rate_mark_ = now;
    }
    if (!due) return {};
    flushed_to_ = written_;
    final_flush_ok_ = false;
    flush_ = backend_.flusher().start(fd_);
    return {};
  }

  // Waits for the flush in flight, if any; its error is the writer's.
  Result<> wait_flush() {
    if (!flush_) return {};
    auto r = flush_->get();
    flush_.reset();
    final_flush_ok_ = r.has_value();
    return r;
  }

  DiskBackend& backend_;
  Env* env_;
  int fd_;
  int direct_fd_ = -1;  // the same file opened with O_DIRECT, or -1
  bool direct_refused_ = false;
  std::filesystem::path tmp_;
  std::uint64_t written_ = 0;
  std::uint64_t writeback_from_ = 0;
  std::uint64_t flushed_to_ = 0;
  std::uint64_t rate_from_ = 0;  // the slow-writer test measures from here
  std::chrono::steady_clock::time_point rate_mark_ = std::chrono::steady_clock::now();
  std::optional<std::future<Result<>>> flush_;
  std::filesystem::path published_;  // set by publish()
  std::optional<std::uint64_t> size_;  // size_hint(), if any
  bool final_flush_ok_ = false;        // the last flush waited for succeeded
  bool done_ = false;
};

// ---------------------------------------------------------------------------
// Reader

namespace {

class DiskReader final : public BlobReader {
 public:
  DiskReader(Env* env, int fd, std::uint64_t offset, std::uint64_t end)
      : env_(env), fd_(fd), offset_(offset), end_(end) {}
  ~DiskReader() override { (void)env_->close(fd_); }  // read-only: a failed close loses nothing

  Result<std::size_t> read(std::span<std::byte> buf) override {
    std::uint64_t want = std::min<std::uint64_t>(buf.size(), end_ - offset_);
    if (want == 0) return 0;
    auto n = env_->pread(fd_, buf.first(static_cast<std::size_t>(want)), offset_);
    if (!n) return n;
    if (*n == 0) return fail(Errc::kCorruption, "blob file shorter than expected (at offset {})", offset_);
    offset_ += *n;
    return n;
  }
  std::uint64_t remaining() const override { return end_ - offset_; }
  int native_fd() const override { return fd_; }
  std::uint64_t native_offset() const override { return offset_; }
  void advance(std::uint64_t n) override { offset_ += std::min(n, end_ - offset_); }

 private:
  Env* env_;
  int fd_;
  std::uint64_t offset_;
  std::uint64_t end_;
};

}  // namespace

// ---------------------------------------------------------------------------
// Backend

DiskBackend::DiskBackend(Env* env, std::filesystem::path root, DiskBackendOptions options)
    : env_(env), root_(std::move(root)), tmp_(root_ / "tmp"), options_(options), session_(random_session_id()) {}

BackgroundFlusher& DiskBackend::flusher() {
  std::call_once(flusher_once_, [this] { flusher_ = std::make_unique<BackgroundFlusher>(env_); });
  return *flusher_;
}

DiskBackend::~DiskBackend() {
  if (lock_fd_ >= 0) {
    // A destructor cannot report; a lock file left behind is removed by a
    // later process's recover() (the lock itself goes with the fd).
    (void)env_->unlink(tmp_ / (session_ + ".lock"));
    (void)env_->close(lock_fd_);
  }
}

Result<std::unique_ptr<DiskBackend>> DiskBackend::open(Env* env, const std::filesystem::path& root,
                                                       const DiskBackendOptions& options) {
  std::unique_ptr<DiskBackend> b(new DiskBackend(env, root, options));
  auto made_root = env->mkdir(root);
  if (!made_root) return std::unexpected(made_root.error());
  bool created = *made_root;
  if (created) {
    std::filesystem::path parent = root.parent_path().empty() ? "." : root.parent_path();
    if (auto r = env->fsync_dir(parent); !r) return std::unexpected(r.error());
  }
  auto made_tmp = env->mkdir(b->tmp_);
  if (!made_tmp) return std::unexpected(made_tmp.error());
  created |= *made_tmp;
  for (int s = 0; s < 256; ++s) {
    auto made = env->mkdir(root / shard_name(static_cast<std::uint8_t>(s)));
    if (!made) return std::unexpected(made.error());
    created |= *made;
  }
  if (created) {
    if (auto r = env->fsync_dir(root); !r) return std::unexpected(r.error());
  }
  auto lock = env->lock_file(b->tmp_ / (b->session_ + ".lock"));
  if (!lock) return std::unexpected(lock.error());
  b->lock_fd_ = *lock;
  return b;
}

std::filesystem::path DiskBackend::blob_path(const Digest& digest) const {
  std::string hex = digest.hex();
  return root_ / hex.substr(0, 2) / hex;
}

Result<std::unique_ptr<BlobWriter>> DiskBackend::create_writer(const std::optional<Digest>&) {
  std::filesystem::path tmp = tmp_ / fmt::format("{}.{}", session_, next_tmp_.fetch_add(1));
  auto fd = env_->open(tmp, Env::kWrite | Env::kCreate | Env::kExclusive, 0644);
  if (!fd) return std::unexpected(fd.error());
  return std::make_unique<DiskWriter>(*this, *fd, std::move(tmp));
}

Result<std::unique_ptr<BlobReader>> DiskBackend::open(const Digest& digest, std::uint64_t offset,
                                                      std::uint64_t length) {
  auto fd = env_->open(blob_path(digest), Env::kRead);
  if (!fd) {
    if (fd.error().code == Errc::kNotFound) return fail(Errc::kNotFound, "blob {} is not stored", to_hash_ref(digest));
    return std::unexpected(fd.error());
  }
  auto size = env_->file_size(*fd);
  if (!size) {
    (void)env_->close(*fd);  // read-only: a failed close loses nothing; size's error is reported
    return std::unexpected(size.error());
  }
  if (offset > *size) {
    (void)env_->close(*fd);  // read-only, as above
    return fail(Errc::kInvalidArgument, "offset {} is past the end of blob {} ({} bytes)", offset, to_hash_ref(digest),
                *size);
  }
  std::uint64_t end = offset + std::min(length, *size - offset);
  return std::make_unique<DiskReader>(env_, *fd, offset, end);
}

Result<BackendStat> DiskBackend::stat(const Digest& digest) {
  auto st = env_->stat(blob_path(digest));
  if (!st) {
    if (st.error().code == Errc::kNotFound) return fail(Errc::kNotFound, "blob {} is not stored", to_hash_ref(digest));
    return std::unexpected(st.error());
  }
  if (!st->is_regular) return fail(Errc::kCorruption, "{} is not a regular file", blob_path(digest).string());
  return BackendStat{digest, st->size};
}

Result<> DiskBackend::remove(const Digest& digest) {
  std::filesystem::path p = blob_path(digest);
  if (auto r = env_->unlink(p); !r) {
    if (r.error().code == Errc::kNotFound) return {};
    return r;
  }
  return env_->fsync_dir(p.parent_path());
}

Result<> DiskBackend::sync(const Digest& digest) {
  std::filesystem::path p = blob_path(digest);
  auto fd = env_->open(p, Env::kRead);
  if (!fd) {
    if (fd.error().code == Errc::kNotFound) return fail(Errc::kNotFound, "blob {} is not stored", to_hash_ref(digest));
    return std::unexpected(fd.error());
  }
  auto synced = env_->fdatasync(*fd);
  (void)env_->close(*fd);  // the flush's result is what counts
  if (!synced) return synced;
  return env_->fsync_dir(p.parent_path());
}

Result<std::vector<BackendStat>> DiskBackend::enumerate(std::optional<Digest> after, std::size_t limit) {
  std::vector<BackendStat> out;
  if (limit == 0) return out;
  int first = after ? after->bytes[0] : 0;
  for (int s = first; s < 256 && out.size() < limit; ++s) {
    std::string shard = shard_name(static_cast<std::uint8_t>(s));
    auto names = env_->list_dir(root_ / shard);
    if (!names) {
      if (names.error().code == Errc::kNotFound) continue;
      return std::unexpected(names.error());
    }
    std::vector<Digest> digests;
    digests.reserve(names->size());
    for (const std::string& name : *names) {
      Digest d;
      if (!is_lower_hex64(name) || name.compare(0, 2, shard) != 0 || !parse_hex_digest(name, d)) continue;
      if (after && !(d > *after)) continue;
      digests.push_back(d);
    }
    std::sort(digests.begin(), digests.end());
    for (const Digest& d : digests) {
      if (out.size() >= limit) break;
      auto st = stat(d);
      if (!st) {
        if (st.error().code == Errc::kNotFound) continue;  // removed meanwhile
        return std::unexpected(st.error());
      }
      out.push_back(*st);
    }
  }
  return out;
}

Result<> DiskBackend::recover() {
  auto names = env_->list_dir(tmp_);
  if (!names) return std::unexpected(names.error());
  // Group leftovers by the session that wrote them.
  std::map<std::string, std::vector<std::string>> by_session;
  for (const std::string& name : *names) {
    auto dot = name.find('.');
    std::string session = dot == std::string::npos ? name : name.substr(0, dot);
    if (session == session_) continue;
    by_session[session].push_back(name);
  }
  bool removed = false;
  for (auto& [session, files] : by_session) {
    // A session that still holds its lock is a live process: leave its files alone.
    std::filesystem::path lock_path = tmp_ / (session + ".lock");
    bool has_lock_file = std::find(files.begin(), files.end(), session + ".lock") != files.end();
    int lock_fd = -1;
    if (has_lock_file) {
      auto lock = env_->lock_file(lock_path);
      if (!lock) {
        if (lock.error().code == Errc::kConflict) {
          others_live_ = true;
          continue;
        }
        return std::unexpected(lock.error());
      }
      lock_fd = *lock;
    }
    for (const std::string& f : files) {
      if (f == session + ".lock") continue;
      if (auto r = env_->unlink(tmp_ / f); !r && r.error().code != Errc::kNotFound) {
        if (lock_fd >= 0) (void)env_->close(lock_fd);  // releases the lock either way; r is the error
        return r;
      }
      removed = true;
    }
    if (lock_fd >= 0) {
      // The session's files are gone; a lock file that stays is tried again
      // by the next recover().
      (void)env_->unlink(lock_path);
      (void)env_->close(lock_fd);
      removed = true;
    }
  }
  if (removed) return env_->fsync_dir(tmp_);
  return {};
}

}  // namespace blobsync
