// DiskBackend: the embedded default BlobBackend, one file per blob.
//
//   ROOT/<first two hex digits>/<64 hex>   committed blobs (256 shards, all
//                                         created at open so commit never
//                                         creates a directory)
//   ROOT/tmp/<session>.<n>                in-flight writes
//   ROOT/tmp/<session>.lock               flock held while the session lives
//
// A write goes to a temporary file on the same file system; commit() makes it
// durable (fdatasync), renames it into its shard and fsyncs the shard
// directory, so after a crash a blob is either absent or complete.
// publish() renames at once and sync() flushes after (the file and the shard
// directory), so BlobStore can commit the blob's row meanwhile; a file at a
// final name is then no proof of its bytes until a verified row names it
// (docs/architecture.md, "Durable commit"), and neither commit() nor
// publish() dedups against one. Large
// aligned appends (the ingest ring hands over 4 KiB-aligned 1 MiB buffers)
// use O_DIRECT, which saves the page-cache copy
// (measured: put CPU 2.1 -> 1.5 ns/byte, the copy costs about as much as a
// SHA-256 pass) and sends the bytes to the device while hashing goes on.
// Buffered appends start writeback every `bytes_per_sync` bytes
// (sync_file_range), and every `flush_every` bytes (`slow_flush_every` for a
// writer slower than the device) a flush starts on the backend's flusher
// thread, so the commit's fdatasync has little left to do either way.
//
// Several processes may share a root (the CLI next to a running server): each
// backend instance is a "session" holding an flock, and recover() only removes
// temporary files of sessions whose lock nobody holds.
//
// Thread safety: safe for concurrent use from any number of threads.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "store/backend.h"

namespace blobsync {

class BackgroundFlusher;
class Env;

struct DiskBackendOptions {
  // Start writeback of dirty pages every this many bytes (0: never).
  std::uint64_t bytes_per_sync = 1u << 20;
  // Write the aligned appends of at least `direct_io_min_write` bytes past
  // `direct_io_after` bytes of a blob with O_DIRECT (no page-cache copy; an
  // unaligned tail or a small blob goes through the page cache). Falls back
  // to buffered writes where the file system refuses it. Measured on 1 MiB
  // puts, O_DIRECT from the first 1 MiB slot vs. after 8 MiB: CPU 3.2 -> 3.0
  // ns/byte on a calm machine, 5.2 -> 3.4 under heavy I/O from other
  // processes (the page-cache copy and its writeback are what gets
  // expensive), so the default starts at once.
  bool direct_io = true;
  std::uint64_t direct_io_after = 0;
  std::uint64_t direct_io_min_write = 256u << 10;
  // Start a flush (fdatasync on the backend's flusher thread) after every
  // `flush_every` bytes of a blob, so the device's flush overlaps the
  // writing instead of all coming at commit (0: only at commit). A flush
  // stalls the appends behind it (a virtual disk serves one at a time);
  // the ingest ring grows meanwhile (store/hash_pipeline.h) so reading and
  // hashing go on. Measured on this project's VM (virtio disk, 256 MiB put
  // vs openssl, interleaved runs in the same minutes): 4-slot ring,
  // flushing only at commit 0.50-0.67; 40-slot ring, flushing every 64 MiB
  // 0.58-0.73 (every 32 or 48 MiB was worse: each flush has a fixed cost).
  std::uint64_t flush_every = 64u << 20;
  // A writer slower than `slow_writer_rate` bytes/s over its last
  // `slow_flush_every` bytes (a network upload, a replication; not counting
  // time stalled behind our own flush) leaves the device idle between its
  // writes, so it flushes every `slow_flush_every` bytes instead (0: never).
  // Measured: 64 MiB HTTP upload, 12 interleaved runs each, median 162 ms
  // flushing every 64 MiB (the whole 40-60 ms flush after the last byte),
  // 146 ms every 16 MiB.
  std::uint64_t slow_flush_every = 16u << 20;
  std::uint64_t slow_writer_rate = 768u << 20;
};

class DiskBackend final : public BlobBackend {
 public:
  // Creates ROOT, ROOT/tmp and the 256 shard directories if needed and takes
  // this session's lock. Does not call recover().
  // Errors: kPermissionDenied, kNoSpace, kIOError.
  static Result<std::unique_ptr<DiskBackend>> open(Env* env, const std::filesystem::path& root,
                                                   const DiskBackendOptions& options = {});
  ~DiskBackend() override;

  using BlobBackend::create_writer;
  Result<std::unique_ptr<BlobWriter>> create_writer(const std::optional<Digest>& expected) override;
  Result<std::unique_ptr<BlobReader>> open(const Digest& digest, std::uint64_t offset = 0,
                                           std::uint64_t length = kToEnd) override;
  Result<BackendStat> stat(const Digest& digest) override;
  Result<> remove(const Digest& digest) override;
  Result<std::vector<BackendStat>> enumerate(std::optional<Digest> after, std::size_t limit) override;
  Result<> recover() override;
  bool durable_on_publish() const override { return false; }
  bool shared_with_live_process() const override { return others_live_.load(); }
  Result<> sync(const Digest& digest) override;

  // Where a committed blob lives (whether or not it exists).
  std::filesystem::path blob_path(const Digest& digest) const;
  const std::filesystem::path& root() const { return root_; }
  const std::filesystem::path& tmp_dir() const { return tmp_; }

 private:
  friend class DiskWriter;
  DiskBackend(Env* env, std::filesystem::path root, DiskBackendOptions options);
  BackgroundFlusher& flusher();  // started on first use

  Env* env_;
  std::filesystem::path root_;
  std::filesystem::path tmp_;
  DiskBackendOptions options_;
  std::string session_;
  int lock_fd_ = -1;
  std::atomic<std::uint64_t> next_tmp_{0};
  std::atomic<bool> direct_io_works_{true};
  std::atomic<bool> others_live_{false};  // recover() met another session's held lock
  std::once_flag flusher_once_;
  std::unique_ptr<BackgroundFlusher> flusher_;  // declared last: joined before the rest goes
};

}  // namespace blobsync
