// FaultInjectionEnv: an Env wrapper for tests and tools that fails chosen
// calls and simulates crashes and power loss.
//
//   FaultInjectionEnv env(Env::posix());
//   env.fail_nth(EnvOp::kFdatasync, 1, EIO);   // the next fdatasync fails
//   env.crash_after(17);                       // the process "dies" before
//                                              // the 18th mutating call
//   env.power_loss();                          // undo what was not synced
//
// Faults:
//  - fail_nth(op, n, err): the n-th call (1-based, counted from now) of that
//    operation kind fails with errno `err` without reaching the file system.
//  - fail_always(op, err): every call of that kind fails.
//  - crash_after(n): after n more mutating calls, every call fails with EIO
//    (nothing the "dead" process does reaches the disk, not even cleanup).
//  - power_loss(): drops what a power cut could drop on a POSIX file system
//    that honours fsync: data written to a file since its last
//    fsync/fdatasync (the file is truncated to its last synced size), and
//    directory entries (creations and renames) not followed by an fsync of
//    that directory (creations are unlinked, renames undone). Call it after
//    the store is closed and before reopening it.
// Every call is logged ("op path"), so a test can list the operations of a
// put and then inject a fault at each one in turn.
//
// Thread safety: safe for concurrent use from any number of threads.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "store/env.h"

namespace blobsync {

enum class EnvOp {
  kOpen,
  kClose,
  kWrite,
  kRead,
  kFsync,
  kFdatasync,
  kWriteback,
  kFileSize,
  kRename,
  kUnlink,
  kMkdir,
  kFsyncDir,
  kListDir,
  kStat,
  kDiskSpace,
  kLock,
};
inline constexpr std::size_t kEnvOpCount = 16;

std::string_view env_op_name(EnvOp op);
// True for operations that change the file system (what crash_after counts).
bool env_op_mutates(EnvOp op);

class FaultInjectionEnv final : public Env {
 public:
  explicit FaultInjectionEnv(Env* base) : base_(base) {}

  void fail_nth(EnvOp op, std::uint64_t n, int err = EIO);
  void fail_always(EnvOp op, int err = EIO);
  void crash_after(std::uint64_t mutating_calls);
  // Removes every fault (and the crashed state); keeps counters and the log.
  void clear_faults();
  bool crashed() const;
  // Calls of `op` so far, failed ones included.
  std::uint64_t count(EnvOp op) const;
  std::uint64_t mutating_count() const;
  std::uint64_t faults_injected() const;
  std::vector<std::string> log() const;
  void clear_log();
  // See the file comment. Also clears faults and tracking.
  Result<> power_loss();

  Result<int> open(const std::filesystem::path& path, unsigned flags, unsigned mode) override;
  Result<> close(int fd) override;
  Result<> write(int fd, std::span<const std::byte> data) override;
  Result<> pwrite(int fd, std::span<const std::byte> data, std::uint64_t offset) override;
  Result<std::size_t> read(int fd, std::span<std::byte> buf) override;
  Result<std::size_t> pread(int fd, std::span<std::byte> buf, std::uint64_t offset) override;
  Result<> fsync(int fd) override;
  Result<> fdatasync(int fd) override;
  Result<> start_writeback(int fd, std::uint64_t offset, std::uint64_t length) override;
  Result<std::uint64_t> file_size(int fd) override;
  Result<> rename(const std::filesystem::path& from, const std::filesystem::path& to) override;
  Result<> rename_noreplace(const std::filesystem::path& from, const std::filesystem::path& to) override;
  Result<> unlink(const std::filesystem::path& path) override;
  Result<bool> mkdir(const std::filesystem::path& path, unsigned mode) override;
  Result<> fsync_dir(const std::filesystem::path& path) override;
  Result<std::vector<std::string>> list_dir(const std::filesystem::path& path) override;
  Result<FileStat> stat(const std::filesystem::path& path) override;
  Result<DiskSpace> disk_space(const std::filesystem::path& path) override;
  Result<int> lock_file(const std::filesystem::path& path) override;

 private:
  // Records the call; returns the injected error, if any.
  std::optional<Error> enter(EnvOp op, const std::string& what);
  std::string fd_path(int fd) const;
  void on_synced(int fd);
  // Bookkeeping for the crash simulation, each under mu_: the size a file had
  // when last synced (taken before its first write since), and what unlink
  // and a directory fsync make durable.
  void before_write(int fd, const std::string& path);
  void on_unlinked(const std::string& path);
  void on_renamed(const std::string& from, const std::string& to);
  void on_dir_synced(const std::string& dir);

  struct Fault {
    std::uint64_t remaining = 0;  // fail when it reaches 1 (0: inactive)
    bool always = false;
    int err = EIO;
  };

  Env* base_;
  mutable std::mutex mu_;
  std::array<std::uint64_t, kEnvOpCount> counts_{};
  std::array<Fault, kEnvOpCount> faults_{};
  std::optional<std::uint64_t> crash_budget_;
  bool crashed_ = false;
  std::uint64_t mutating_ = 0;
  std::uint64_t injected_ = 0;
  std::vector<std::string> log_;
  std::map<int, std::string> fds_;
  // Power-loss tracking.
  std::map<std::string, std::uint64_t> synced_size_;  // files written since their last sync
  struct DirEntryChange {
    std::string dir;
    std::string path;       // created or rename target
    std::string from;       // rename source ("" for a creation)
  };
  std::vector<DirEntryChange> unsynced_entries_;
};

}  // namespace blobsync
