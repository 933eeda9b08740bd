#include "store/env.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace blobsync {

namespace {

std::string describe(std::string_view op, const std::filesystem::path& path) {
  return fmt::format("{} {}", op, path.string());
}

std::string describe_fd(std::string_view op, int fd) { return fmt::format("{} (fd {})", op, fd); }

class PosixEnv final : public Env {
 public:
  Result<int> open(const std::filesystem::path& path, unsigned flags, unsigned mode) override {
    int oflags = O_CLOEXEC;
    if ((flags & kRead) && (flags & kWrite)) {
      oflags |= O_RDWR;
    } else if (flags & kWrite) {
      oflags |= O_WRONLY;
    } else {
      oflags |= O_RDONLY;
    }
    if (flags & kCreate) oflags |= O_CREAT;
    if (flags & kExclusive) oflags |= O_EXCL;
    if (flags & kTruncate) oflags |= O_TRUNC;
    if (flags & kDirectory) oflags |= O_DIRECTORY;
#ifdef O_DIRECT
    if (flags & kDirect) oflags |= O_DIRECT;
#else
    if (flags & kDirect) return fail(Errc::kInvalidArgument, "open {}: O_DIRECT is not supported", path.string());
#endif
    int fd;
    do {
      fd = ::open(path.c_str(), oflags, static_cast<mode_t>(mode));
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
      Error e = errno_error(errno, describe("open", path));
      if (errno == EINVAL && (flags & kDirect)) e.code = Errc::kInvalidArgument;
      return std::unexpected(e);
    }
    return fd;
  }

  Result<> close(int fd) override {
    // Linux releases the descriptor even when close fails (EINTR included), so never retry.
    if (::close(fd) != 0 && errno != EINTR) return std::unexpected(errno_error(errno, describe_fd("close", fd)));
    return {};
  }

  Result<> write(int fd, std::span<const std::byte> data) override {
    while (!data.empty()) {
      ssize_t n = ::write(fd, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return std::unexpected(errno_error(errno, describe_fd("write", fd)));
      }
      if (n == 0) return fail(Errc::kIOError, "write (fd {}): no progress", fd);
      data = data.subspan(static_cast<std::size_t>(n));
    }
    return {};
  }

  Result<> pwrite(int fd, std::span<const std::byte> data, std::uint64_t offset) override {
    while (!data.empty()) {
      ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        return std::unexpected(errno_error(errno, describe_fd("pwrite", fd)));
      }
      if (n == 0) return fail(Errc::kIOError, "pwrite (fd {}): no progress", fd);
      data = data.subspan(static_cast<std::size_t>(n));
      offset += static_cast<std::uint64_t>(n);
    }
    return {};
  }

  Result<std::size_t> read(int fd, std::span<std::byte> buf) override {
    for (;;) {
      ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno != EINTR) return std::unexpected(errno_error(errno, describe_fd("read", fd)));
    }
  }

  Result<std::size_t> pread(int fd, std::span<std::byte> buf, std::uint64_t offset) override {
    for (;;) {
      ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(offset));
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno != EINTR) return std::unexpected(errno_error(errno, describe_fd("pread", fd)));
    }
  }

  Result<> fsync(int fd) override {
    if (::fsync(fd) != 0) return std::unexpected(errno_error(errno, describe_fd("fsync", fd)));
    return {};
  }

  Result<> fdatasync(int fd) override {
    if (::fdatasync(fd) != 0) return std::unexpected(errno_error(errno, describe_fd("fdatasync", fd)));
    return {};
  }

  Result<> start_writeback(int fd, std::uint64_t offset, std::uint64_t length) override {
#ifdef SYNC_FILE_RANGE_WRITE
    if (::sync_file_range(fd, static_cast<off64_t>(offset), static_cast<off64_t>(length), SYNC_FILE_RANGE_WRITE) !=
        0) {
      // Some file systems (and non-Linux kernels) lack it: the final fdatasync still does the work.
      if (errno == ENOSYS || errno == EINVAL || errno == ESPIPE || errno == EOPNOTSUPP) return {};
      return std::unexpected(errno_error(errno, describe_fd("sync_file_range", fd)));
    }
#else
    (void)fd;
    (void)offset;
    (void)length;
#endif
    return {};
  }

  Result<std::uint64_t> file_size(int fd) override {
    struct stat st{};
    if (::fstat(fd, &st) != 0) return std::unexpected(errno_error(errno, describe_fd("fstat", fd)));
    return static_cast<std::uint64_t>(st.st_size);
  }

  Result<> rename(const std::filesystem::path& from, const std::filesystem::path& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0)
      return std::unexpected(errno_error(errno, fmt::format("rename {} to {}", from.string(), to.string())));
    return {};
  }

  Result<> rename_noreplace(const std::filesystem::path& from, const std::filesystem::path& to) override {
    auto exists = [&] { return fail(Errc::kAlreadyExists, "rename {} to {}: the target exists", from.string(), to.string()); };
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return {};
    int err = errno;
    if (err == EEXIST) return exists();
    if (err != EINVAL && err != ENOSYS)
      return std::unexpected(errno_error(err, fmt::format("rename {} to {}", from.string(), to.string())));
    // No RENAME_NOREPLACE here: link(2) fails atomically on an existing name.
    if (::link(from.c_str(), to.c_str()) != 0) {
      err = errno;
      if (err == EEXIST) return exists();
      return std::unexpected(errno_error(err, fmt::format("link {} to {}", from.string(), to.string())));
    }
    if (::unlink(from.c_str()) != 0) return std::unexpected(errno_error(errno, describe("unlink", from)));
    return {};
  }

  Result<> unlink(const std::filesystem::path& path) override {
    if (::unlink(path.c_str()) != 0) return std::unexpected(errno_error(errno, describe("unlink", path)));
    return {};
  }

  Result<bool> mkdir(const std::filesystem::path& path, unsigned mode) override {
    if (::mkdir(path.c_str(), static_cast<mode_t>(mode)) != 0) {
      int err = errno;
      if (err == EEXIST) {
        struct stat st{};
        if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return false;
        return fail(Errc::kIOError, "mkdir {}: exists and is not a directory", path.string());
      }
      return std::unexpected(errno_error(err, describe("mkdir", path)));
    }
    return true;
  }

  Result<> fsync_dir(const std::filesystem::path& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return std::unexpected(errno_error(errno, describe("open directory", path)));
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return std::unexpected(errno_error(err, describe("fsync directory", path)));
    return {};
  }

  Result<std::vector<std::string>> list_dir(const std::filesystem::path& path) override {
    DIR* dir = ::opendir(path.c_str());
    if (!dir) return std::unexpected(errno_error(errno, describe("opendir", path)));
    std::vector<std::string> names;
    for (;;) {
      errno = 0;
      struct dirent* e = ::readdir(dir);
      if (!e) break;
      std::string_view name = e->d_name;
      if (name == "." || name == "..") continue;
      names.emplace_back(name);
    }
    int err = errno;
    ::closedir(dir);
    if (err != 0) return std::unexpected(errno_error(err, describe("readdir", path)));
    return names;
  }

  Result<FileStat> stat(const std::filesystem::path& path) override {
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) return std::unexpected(errno_error(errno, describe("stat", path)));
    FileStat out;
    out.size = static_cast<std::uint64_t>(st.st_size);
    out.is_dir = S_ISDIR(st.st_mode);
    out.is_regular = S_ISREG(st.st_mode);
    return out;
  }

  Result<DiskSpace> disk_space(const std::filesystem::path& path) override {
    struct statvfs vfs{};
    if (::statvfs(path.c_str(), &vfs) != 0) return std::unexpected(errno_error(errno, describe("statvfs", path)));
    DiskSpace out;
    out.total_bytes = static_cast<std::uint64_t>(vfs.f_blocks) * vfs.f_frsize;
    out.free_bytes = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    return out;
  }

  Result<int> lock_file(const std::filesystem::path& path) override {
    int fd;
    do {
      fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return std::unexpected(errno_error(errno, describe("open lock file", path)));
    int rc;
    do {
      rc = ::flock(fd, LOCK_EX | LOCK_NB);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
      int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) return fail(Errc::kConflict, "lock {}: held by another process", path.string());
      return std::unexpected(errno_error(err, describe("flock", path)));
    }
    return fd;
  }
};

}  // namespace

Env* Env::posix() {
  static PosixEnv* env = new PosixEnv;  // never destroyed: usable from static destructors
  return env;
}

}  // namespace blobsync
