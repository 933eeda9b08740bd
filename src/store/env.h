// Env: the narrow operating-system interface the store uses for every file
// operation (in the style of LevelDB's include/leveldb/env.h).
//
// Everything the disk backend does to the file system goes through an Env, so
// tests can substitute FaultInjectionEnv (fault_injection_env.h) and fail any
// single call, or stop all calls at an arbitrary point to simulate a crash.
//
// Calls are file-descriptor oriented and thin: each maps to one or a few
// syscalls, retries EINTR, and reports failure as an Error built by
// errno_error() (ENOSPC/EDQUOT -> kNoSpace, EACCES/EPERM/EROFS ->
// kPermissionDenied, ENOENT -> kNotFound, anything else kIOError). The message
// names the operation and the path.
//
// Thread safety: an Env is safe for concurrent use from any number of threads.
// Env::posix() lives for the whole process and must not be deleted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"

namespace blobsync {

struct FileStat {
  std::uint64_t size = 0;
  bool is_dir = false;
  bool is_regular = false;
};

struct DiskSpace {
  std::uint64_t total_bytes = 0;
  std::uint64_t free_bytes = 0;  // available to an unprivileged user
};

class Env {
 public:
  virtual ~Env() = default;

  // The process-wide POSIX environment.
  static Env* posix();

  // Open flags are a small portable set; the POSIX Env always adds O_CLOEXEC.
  enum OpenFlags : unsigned {
    kRead = 1u << 0,
    kWrite = 1u << 1,
    kCreate = 1u << 2,     // O_CREAT
    kExclusive = 1u << 3,  // O_EXCL (with kCreate)
    kTruncate = 1u << 4,
    kDirectory = 1u << 5,  // O_DIRECTORY, read only: for fsync_dir
    // O_DIRECT: writes bypass the page cache (buffer address, length and
    // offset must be multiples of kDirectIoAlignment). Errors: kInvalidArgument
    // where the file system does not support it.
    kDirect = 1u << 6,
  };
  static constexpr std::size_t kDirectIoAlignment = 4096;

  // Returns a file descriptor the caller must close().
  virtual Result<int> open(const std::filesystem::path& path, unsigned flags, unsigned mode = 0644) = 0;
  // Closing reports errors (NFS and some FUSE file systems report write errors
  // only here) but the descriptor is released either way.
  virtual Result<> close(int fd) = 0;

  // Writes all of data at the current position (loops over short writes).
  virtual Result<> write(int fd, std::span<const std::byte> data) = 0;
  // Writes all of data at offset.
  virtual Result<> pwrite(int fd, std::span<const std::byte> data, std::uint64_t offset) = 0;
  // Reads up to buf.size() bytes at the current position; 0 at end of file.
  virtual Result<std::size_t> read(int fd, std::span<std::byte> buf) = 0;
  // Reads up to buf.size() bytes at offset; 0 at end of file.
  virtual Result<std::size_t> pread(int fd, std::span<std::byte> buf, std::uint64_t offset) = 0;

  virtual Result<> fsync(int fd) = 0;
  virtual Result<> fdatasync(int fd) = 0;
  // Starts writeback of [offset, offset + length) without waiting for it
  // (sync_file_range(SYNC_FILE_RANGE_WRITE)). A hint only: it makes the final
  // fdatasync short; it promises no durability. Unsupported is not an error.
  virtual Result<> start_writeback(int fd, std::uint64_t offset, std::uint64_t length) = 0;
  // Size of an open file.
  virtual Result<std::uint64_t> file_size(int fd) = 0;

  // rename(2): atomically replaces `to` if it exists.
  virtual Result<> rename(const std::filesystem::path& from, const std::filesystem::path& to) = 0;
  // rename(2) that never replaces: fails with kAlreadyExists, atomically, if
  // `to` exists (renameat2 RENAME_NOREPLACE; link + unlink where the file
  // system lacks it). A check-then-rename would let another process's file
  // appear in between and be replaced.
  virtual Result<> rename_noreplace(const std::filesystem::path& from, const std::filesystem::path& to) = 0;
  virtual Result<> unlink(const std::filesystem::path& path) = 0;
  // Returns true if it created the directory, false if one already existed.
  virtual Result<bool> mkdir(const std::filesystem::path& path, unsigned mode = 0755) = 0;
  // Makes the directory's entries (creations, renames, unlinks) durable.
  virtual Result<> fsync_dir(const std::filesystem::path& path) = 0;
  // Names in the directory, without "." and "..", in no particular order.
  virtual Result<std::vector<std::string>> list_dir(const std::filesystem::path& path) = 0;
  // Errors: kNotFound if nothing is there.
  virtual Result<FileStat> stat(const std::filesystem::path& path) = 0;
  virtual Result<DiskSpace> disk_space(const std::filesystem::path& path) = 0;

  // Takes an exclusive advisory lock (flock) on `path`, creating the file if
  // needed, and returns the descriptor that holds it; close() releases it.
  // Errors: kConflict if another open file description holds the lock.
  virtual Result<int> lock_file(const std::filesystem::path& path) = 0;
};

}  // namespace blobsync
