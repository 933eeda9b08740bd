#include "store/fault_injection_env.h"

#include <unistd.h>

#include <algorithm>

namespace blobsync {

std::string_view env_op_name(EnvOp op) {
  switch (op) {
    case EnvOp::kOpen: return "open";
    case EnvOp::kClose: return "close";
    case EnvOp::kWrite: return "write";
    case EnvOp::kRead: return "read";
    case EnvOp::kFsync: return "fsync";
    case EnvOp::kFdatasync: return "fdatasync";
    case EnvOp::kWriteback: return "writeback";
    case EnvOp::kFileSize: return "file_size";
    case EnvOp::kRename: return "rename";
    case EnvOp::kUnlink: return "unlink";
    case EnvOp::kMkdir: return "mkdir";
    case EnvOp::kFsyncDir: return "fsync_dir";
    case EnvOp::kListDir: return "list_dir";
    case EnvOp::kStat: return "stat";
    case EnvOp::kDiskSpace: return "disk_space";
    case EnvOp::kLock: return "lock";
  }
  return "?";
}

bool env_op_mutates(EnvOp op) {
  switch (op) {
    case EnvOp::kWrite:
    case EnvOp::kFsync:
    case EnvOp::kFdatasync:
    case EnvOp::kWriteback:
    case EnvOp::kRename:
    case EnvOp::kUnlink:
    case EnvOp::kMkdir:
    case EnvOp::kFsyncDir:
    case EnvOp::kOpen:  // may create
    case EnvOp::kClose:
    case EnvOp::kLock:
      return true;
    default:
      return false;
  }
}

namespace {
std::size_t idx(EnvOp op) { return static_cast<std::size_t>(op); }
std::string dir_of(const std::string& path) {
  std::filesystem::path p(path);
  return p.parent_path().string();
}
}  // namespace

void FaultInjectionEnv::fail_nth(EnvOp op, std::uint64_t n, int err) {
  std::lock_guard g(mu_);
  faults_[idx(op)] = Fault{n, false, err};
}

void FaultInjectionEnv::fail_always(EnvOp op, int err) {
  std::lock_guard g(mu_);
  faults_[idx(op)] = Fault{0, true, err};
}

void FaultInjectionEnv::crash_after(std::uint64_t mutating_calls) {
  std::lock_guard g(mu_);
  crash_budget_ = mutating_calls;
  crashed_ = false;
}

void FaultInjectionEnv::clear_faults() {
  std::lock_guard g(mu_);
  faults_ = {};
  crash_budget_.reset();
  crashed_ = false;
}

bool FaultInjectionEnv::crashed() const {
  std::lock_guard g(mu_);
  return crashed_;
}

std::uint64_t FaultInjectionEnv::count(EnvOp op) const {
  std::lock_guard g(mu_);
  return counts_[idx(op)];
}

std::uint64_t FaultInjectionEnv::mutating_count() const {
  std::lock_guard g(mu_);
  return mutating_;
}

std::uint64_t FaultInjectionEnv::faults_injected() const {
  std::lock_guard g(mu_);
  return injected_;
}

std::vector<std::string> FaultInjectionEnv::log() const {
  std::lock_guard g(mu_);
  return log_;
}

void FaultInjectionEnv::clear_log() {
  std::lock_guard g(mu_);
  log_.clear();
}

std::optional<Error> FaultInjectionEnv::enter(EnvOp op, const std::string& what) {
  std::lock_guard g(mu_);
  ++counts_[idx(op)];
  log_.push_back(fmt::format("{} {}", env_op_name(op), what));
  std::string desc = fmt::format("{} {}", env_op_name(op), what);
  if (crashed_) {
    ++injected_;
    return errno_error(EIO, desc + " (after simulated crash)");
  }
  if (env_op_mutates(op)) {
    ++mutating_;
    if (crash_budget_) {
      if (*crash_budget_ == 0) {
        crashed_ = true;
        ++injected_;
        return errno_error(EIO, desc + " (simulated crash)");
      }
      --*crash_budget_;
    }
  }
  Fault& f = faults_[idx(op)];
  if (f.always) {
    ++injected_;
    return errno_error(f.err, desc + " (injected)");
  }
  if (f.remaining > 0) {
    if (--f.remaining == 0) {
      ++injected_;
      return errno_error(f.err, desc + " (injected)");
    }
  }
  return std::nullopt;
}

std::string FaultInjectionEnv::fd_path(int fd) const {
  std::lock_guard g(mu_);
  auto it = fds_.find(fd);
  return it == fds_.end() ? fmt::format("fd {}", fd) : it->second;
}

void FaultInjectionEnv::on_synced(int fd) {
  std::lock_guard g(mu_);
  auto it = fds_.find(fd);
  if (it != fds_.end()) synced_size_.erase(it->second);
}

namespace {

// The base env's call unless enter() injected a fault; after a success,
// then(result) does the crash simulation's bookkeeping.
template <class Call, class Then>
auto unless_fault(std::optional<Error> fault, Call call, Then then) -> decltype(call()) {
  if (fault) return std::unexpected(std::move(*fault));
  auto r = call();
  if (r) then(r);
  return r;
}

}  // namespace

void FaultInjectionEnv::before_write(int fd, const std::string& path) {
  std::lock_guard g(mu_);
  if (!synced_size_.contains(path)) {
    auto size = base_->file_size(fd);
    synced_size_[path] = size ? *size : 0;
  }
}

void FaultInjectionEnv::on_unlinked(const std::string& path) {
  std::lock_guard g(mu_);
  synced_size_.erase(path);
  std::erase_if(unsynced_entries_, [&](const DirEntryChange& c) { return c.path == path; });
}

void FaultInjectionEnv::on_dir_synced(const std::string& dir) {
  std::lock_guard g(mu_);
  std::erase_if(unsynced_entries_, [&](const DirEntryChange& c) {
    return std::filesystem::path(c.dir).lexically_normal() == std::filesystem::path(dir).lexically_normal();
  });
}

Result<int> FaultInjectionEnv::open(const std::filesystem::path& path, unsigned flags, unsigned mode) {
  if (auto e = enter(EnvOp::kOpen, path.string())) return std::unexpected(*e);
  bool existed = static_cast<bool>(base_->stat(path));
  auto fd = base_->open(path, flags, mode);
  if (fd) {
    std::lock_guard g(mu_);
    fds_[*fd] = path.string();
    if ((flags & kCreate) && !existed) {
      synced_size_[path.string()] = 0;
      unsynced_entries_.push_back({dir_of(path.string()), path.string(), ""});
    }
  }
  return fd;
}

Result<> FaultInjectionEnv::close(int fd) {
  auto e = enter(EnvOp::kClose, fd_path(fd));
  // Like Linux, the descriptor is gone whether or not close "fails".
  auto r = base_->close(fd);
  {
    std::lock_guard g(mu_);
    fds_.erase(fd);
  }
  if (e) return std::unexpected(*e);
  return r;
}

Result<> FaultInjectionEnv::write(int fd, std::span<const std::byte> data) {
  std::string p = fd_path(fd);
  if (auto e = enter(EnvOp::kWrite, p)) return std::unexpected(*e);
  before_write(fd, p);
  return base_->write(fd, data);
}

Result<> FaultInjectionEnv::pwrite(int fd, std::span<const std::byte> data, std::uint64_t offset) {
  std::string p = fd_path(fd);
  if (auto e = enter(EnvOp::kWrite, p)) return std::unexpected(*e);
  before_write(fd, p);
  return base_->pwrite(fd, data, offset);
}

Result<std::size_t> FaultInjectionEnv::read(int fd, std::span<std::byte> buf) {
  if (auto e = enter(EnvOp::kRead, fd_path(fd))) return std::unexpected(*e);
  return base_->read(fd, buf);
}

Result<std::size_t> FaultInjectionEnv::pread(int fd, std::span<std::byte> buf, std::uint64_t offset) {
  if (auto e = enter(EnvOp::kRead, fd_path(fd))) return std::unexpected(*e);
  return base_->pread(fd, buf, offset);
}

Result<> FaultInjectionEnv::fsync(int fd) {
  return unless_fault(enter(EnvOp::kFsync, fd_path(fd)), [&] { return base_->fsync(fd); },
                      [&](auto&) { on_synced(fd); });
}

Result<> FaultInjectionEnv::fdatasync(int fd) {
  return unless_fault(enter(EnvOp::kFdatasync, fd_path(fd)), [&] { return base_->fdatasync(fd); },
                      [&](auto&) { on_synced(fd); });
}

Result<> FaultInjectionEnv::start_writeback(int fd, std::uint64_t offset, std::uint64_t length) {
  if (auto e = enter(EnvOp::kWriteback, fd_path(fd))) return std::unexpected(*e);
  return base_->start_writeback(fd, offset, length);
}

Result<std::uint64_t> FaultInjectionEnv::file_size(int fd) {
  if (auto e = enter(EnvOp::kFileSize, fd_path(fd))) return std::unexpected(*e);
  return base_->file_size(fd);
}

Result<> FaultInjectionEnv::rename(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (auto e = enter(EnvOp::kRename, from.string() + " -> " + to.string())) return std::unexpected(*e);
  auto r = base_->rename(from, to);
  if (r) on_renamed(from.string(), to.string());
  return r;
}

Result<> FaultInjectionEnv::rename_noreplace(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (auto e = enter(EnvOp::kRename, from.string() + " -> " + to.string())) return std::unexpected(*e);
  auto r = base_->rename_noreplace(from, to);
  if (r) on_renamed(from.string(), to.string());
  return r;
}

void FaultInjectionEnv::on_renamed(const std::string& from, const std::string& to) {
  std::lock_guard g(mu_);
  auto it = synced_size_.find(from);
  if (it != synced_size_.end()) {
    synced_size_[to] = it->second;
    synced_size_.erase(it);
  } else {
    synced_size_.erase(to);  // a replaced file's unsynced data went with it
  }
  // Open descriptors follow the file: a sync after the rename covers it at its new name.
  for (auto& [fd, p] : fds_)
    if (p == from) p = to;
  unsynced_entries_.push_back({dir_of(to), to, from});
}

Result<> FaultInjectionEnv::unlink(const std::filesystem::path& path) {
  return unless_fault(enter(EnvOp::kUnlink, path.string()), [&] { return base_->unlink(path); },
                      [&](auto&) { on_unlinked(path.string()); });
}

Result<bool> FaultInjectionEnv::mkdir(const std::filesystem::path& path, unsigned mode) {
  return unless_fault(enter(EnvOp::kMkdir, path.string()), [&] { return base_->mkdir(path, mode); },
                      [&](const Result<bool>& made) {
                        if (!*made) return;  // it was there already
                        std::lock_guard g(mu_);
                        unsynced_entries_.push_back({dir_of(path.string()), path.string(), ""});
                      });
}

Result<> FaultInjectionEnv::fsync_dir(const std::filesystem::path& path) {
  return unless_fault(enter(EnvOp::kFsyncDir, path.string()), [&] { return base_->fsync_dir(path); },
                      [&](auto&) { on_dir_synced(path.string()); });
}

Result<std::vector<std::string>> FaultInjectionEnv::list_dir(const std::filesystem::path& path) {
  if (auto e = enter(EnvOp::kListDir, path.string())) return std::unexpected(*e);
  return base_->list_dir(path);
}

Result<FileStat> FaultInjectionEnv::stat(const std::filesystem::path& path) {
  if (auto e = enter(EnvOp::kStat, path.string())) return std::unexpected(*e);
  return base_->stat(path);
}

Result<DiskSpace> FaultInjectionEnv::disk_space(const std::filesystem::path& path) {
  if (auto e = enter(EnvOp::kDiskSpace, path.string())) return std::unexpected(*e);
  return base_->disk_space(path);
}

Result<int> FaultInjectionEnv::lock_file(const std::filesystem::path& path) {
  if (auto e = enter(EnvOp::kLock, path.string())) return std::unexpected(*e);
  auto fd = base_->lock_file(path);
  if (fd) {
    std::lock_guard g(mu_);
    fds_[*fd] = path.string();
  }
  return fd;
}

Result<> FaultInjectionEnv::power_loss() {
  std::map<std::string, std::uint64_t> truncate;
  std::vector<DirEntryChange> entries;
  {
    std::lock_guard g(mu_);
    truncate.swap(synced_size_);
    entries.swap(unsynced_entries_);
    faults_ = {};
    crash_budget_.reset();
    crashed_ = false;
  }
  // Unsynced data first, under the current names...
  for (const auto& [path, size] : truncate) {
    if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0 && errno != ENOENT)
      return std::unexpected(errno_error(errno, "power_loss: truncate " + path));
  }
  // ...then directory entries that never reached the disk, newest first.
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    if (it->from.empty()) {
      auto st = base_->stat(it->path);
      if (!st) continue;
      if (st->is_dir) {
        (void)::rmdir(it->path.c_str());
      } else {
        // Best effort, as the rmdir: power_loss undoes what it can (tests only).
        (void)base_->unlink(it->path);
      }
    } else {
      // The rename is undone: the old name comes back (if its directory still exists).
      if (base_->stat(it->path)) {
        if (!base_->rename(it->path, it->from)) (void)base_->unlink(it->path);  // best effort, as above
      }
    }
  }
  return {};
}

}  // namespace blobsync
