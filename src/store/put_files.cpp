// BlobStore::put_files and the generic Ingest::write_from_fd: batch puts on
// top of the virtual interface, so every BlobStore (the fenced one too) gets
// them. See blob_store.h for the contract.
//
// Thread safety: as BlobStore; the reads and the commits run on pools made
// per batch, each ingest on one thread at a time (read on a reader, then
// finish() on a committer).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "store/blob_store.h"
#include "store/worker_pool.h"

namespace blobsync {

Result<> Ingest::write_from_fd(int fd, const std::function<void(std::uint64_t)>& progress) {
  std::vector<std::byte> buf(1 << 20);
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::unexpected(errno_error(errno, "read"));
    if (n == 0) break;
    if (auto r = write({buf.data(), static_cast<std::size_t>(n)}); !r) return r;
    if (progress) progress(bytes_written());
  }
  return {};
}

namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Result<> BlobStore::put_files(std::span<const std::filesystem::path> paths, const PutOptions& options,
                              const std::function<void(std::size_t, const BlobRecord&)>& on_done,
                              const std::function<void(std::size_t, std::uint64_t)>& progress) {
  // Commits in flight while the next file is read: each mostly waits for the
  // disk (fdatasync, directory fsync, the metadata commit), a wait many times
  // longer than hashing a MiB. Concurrent fsyncs share the filesystem
  // journal's commits and concurrent metadata inserts share one database
  // commit (SqlMetadata's group commit), so more in flight means fewer
  // flushes per file.
  constexpr std::size_t kCommitsInFlight = 16;
  // Files read (and hashed, on the reading thread: see
  // HashPipeline::hash_on_producer) at once, one per core: hashing is most of
  // a put's CPU, and one reader left the other core idle.
  const std::size_t readers =
      std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, 4);
  auto named = [&](std::size_t i, const Error& e) {
    return std::unexpected(Error{e.code, paths[i].string() + ": " + e.message});
  };
  struct Pending {
    std::size_t index;
    std::unique_ptr<Ingest> ingest;  // outlives its finish() below
    std::future<Result<BlobRecord>> result;
  };
  std::deque<Pending> pending;
  // Threads made once for the whole batch (a thread per commit cost its
  // stack's page faults and an munmap each time). One per commit in flight,
  // so a commit never queues. Declared after `pending`: joined before the
  // ingests its tasks finish are destroyed.
  WorkerPool committers(static_cast<unsigned>(std::min(kCommitsInFlight, std::max<std::size_t>(paths.size(), 1))));

  // Progress goes to the caller from one thread at a time, for the oldest
  // file still being read only (a progress bar shows one file at a time).
  std::mutex progress_mu;
  std::size_t progress_for = 0;
  auto read_one = [&](std::size_t i) -> Result<std::unique_ptr<Ingest>> {
    Fd f{::open(paths[i].c_str(), O_RDONLY | O_CLOEXEC)};
    if (f.fd < 0) return std::unexpected(errno_error(errno, "cannot read"));
    struct stat st {};
    if (::fstat(f.fd, &st) == 0 && S_ISDIR(st.st_mode)) return fail(Errc::kInvalidArgument, "is a directory");
    if (static_cast<std::uint64_t>(st.st_size) > options.max_size)
      return fail(Errc::kTooLarge, "{} bytes, larger than the limit of {} bytes", st.st_size, options.max_size);
    PutOptions sized = options;
    if (S_ISREG(st.st_mode) && !sized.size) sized.size = static_cast<std::uint64_t>(st.st_size);
    auto in = begin_put(sized);
    if (!in) return in;
    auto each = progress ? std::function<void(std::uint64_t)>([&, i](std::uint64_t n) {
      std::lock_guard g(progress_mu);
      if (i == progress_for) progress(i, n);
    })
                         : std::function<void(std::uint64_t)>();
    if (auto r = (*in)->write_from_fd(f.fd, each); !r) return std::unexpected(r.error());
    return in;
  };
  using Read = std::packaged_task<Result<std::unique_ptr<Ingest>>()>;
  std::deque<std::pair<std::size_t, std::future<Result<std::unique_ptr<Ingest>>>>> reading;
  // Declared last: destroyed first, running the reads already posted to
  // their end (they use the locals above) before anything else goes.
  WorkerPool reader_pool(static_cast<unsigned>(std::min(readers, std::max<std::size_t>(paths.size(), 1))));
  std::size_t next_read = 0;
  auto start_reads = [&] {
    // Reads ahead stay within the commits in flight (each holds its ingest).
    while (next_read < paths.size() && reading.size() < readers &&
           reading.size() + pending.size() < kCommitsInFlight + readers) {
      auto task = std::make_shared<Read>([&read_one, i = next_read] { return read_one(i); });
      reading.emplace_back(next_read, task->get_future());
      reader_pool.post([task] { (*task)(); });
      ++next_read;
    }
  };

  // Reports the oldest commit; on failure the younger ones still run to the end
  // (their files are stored) but are not reported.
  auto settle_oldest = [&]() -> Result<> {
    Pending p = std::move(pending.front());
    pending.pop_front();
    Result<BlobRecord> rec = p.result.get();
    if (!rec) {
      for (auto& q : pending) q.result.wait();
      pending.clear();
      return named(p.index, rec.error());
    }
    on_done(p.index, *rec);
    return {};
  };
  auto settle_all = [&]() -> Result<> {
    while (!pending.empty()) {
      if (auto r = settle_oldest(); !r) return r;
    }
    return {};
  };
  for (start_reads(); !reading.empty(); start_reads()) {
    auto [i, read] = std::move(reading.front());
    reading.pop_front();
    auto ingest = read.get();
    {
      std::lock_guard g(progress_mu);
      progress_for = i + 1;
    }
    if (!ingest) {
      // Report the files before this one first, whatever happened to it.
      if (auto r = settle_all(); !r) return r;
      return named(i, ingest.error());
    }
    Ingest* in = ingest->get();
    auto commit = std::make_shared<std::packaged_task<Result<BlobRecord>()>>([in] { return in->finish(); });
    pending.push_back({i, std::move(*ingest), commit->get_future()});
    committers.post([commit] { (*commit)(); });
    if (pending.size() >= kCommitsInFlight) {
      if (auto r = settle_oldest(); !r) return r;
    }
  }
  return settle_all();
}

}  // namespace blobsync
