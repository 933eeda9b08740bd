// BlobStore::put_files and the generic Ingest::write_from_fd: batch puts on
// top of the virtual interface, so every BlobStore (the fenced one too) gets
// them. See blob_store.h for the contract.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <future>
#include <vector>

#include "store/blob_store.h"

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
  auto named = [&](std::size_t i, const Error& e) {
    return std::unexpected(Error{e.code, paths[i].string() + ": " + e.message});
  };
  // The previous file, committing on its own thread while the next is read.
  std::unique_ptr<Ingest> pending;
  std::future<Result<BlobRecord>> pending_result;
  std::size_t pending_index = 0;
  auto settle = [&]() -> Result<> {
    if (!pending) return {};
    Result<BlobRecord> rec = pending_result.get();
    pending.reset();
    if (!rec) return named(pending_index, rec.error());
    on_done(pending_index, *rec);
    return {};
  };
  for (std::size_t i = 0; i < paths.size(); ++i) {
    auto ingest = [&]() -> Result<std::unique_ptr<Ingest>> {
      Fd f{::open(paths[i].c_str(), O_RDONLY | O_CLOEXEC)};
      if (f.fd < 0) return std::unexpected(errno_error(errno, "open"));
      struct stat st {};
      if (::fstat(f.fd, &st) == 0 && S_ISDIR(st.st_mode)) return fail(Errc::kInvalidArgument, "is a directory");
      if (static_cast<std::uint64_t>(st.st_size) > options.max_size)
        return fail(Errc::kTooLarge, "{} bytes, larger than the limit of {} bytes", st.st_size, options.max_size);
      auto in = begin_put(options);
      if (!in) return in;
      auto each = progress ? std::function<void(std::uint64_t)>([&](std::uint64_t n) { progress(i, n); })
                           : std::function<void(std::uint64_t)>();
      if (auto r = (*in)->write_from_fd(f.fd, each); !r) return std::unexpected(r.error());
      return in;
    }();
    // Report the previous file first, whatever happened to this one.
    if (auto r = settle(); !r) return r;
    if (!ingest) return named(i, ingest.error());
    pending = std::move(*ingest);
    pending_index = i;
    pending_result = std::async(std::launch::async, [in = pending.get()] { return in->finish(); });
  }
  return settle();
}

}  // namespace blobsync
