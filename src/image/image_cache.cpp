#include "image/image_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

namespace blobsync::image {

namespace fs = std::filesystem;

namespace {

bool is_key(std::string_view name) {
  return name.size() == 64 && std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

Error io_error(std::string_view what, const fs::path& p, int err) {
  return Error{err == ENOSPC || err == EDQUOT ? Errc::kNoSpace : Errc::kIOError,
               fmt::format("image cache: {} {}: {}", what, p.string(), std::strerror(err))};
}

// Writes all of `bytes` to fd; false (errno set) on failure.
bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<ImageCache>> ImageCache::open(fs::path dir, std::uint64_t max_bytes) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail(Errc::kIOError, "image cache: cannot create {}: {}", dir.string(), ec.message());
  std::unique_ptr<ImageCache> c(new ImageCache(dir, max_bytes));
  struct Found {
    std::string key;
    std::uint64_t size;
    fs::file_time_type mtime;
  };
  std::vector<Found> found;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string name = it->path().filename().string();
    if (!is_key(name)) {  // a temporary left by a crash, or a stranger: not ours to serve
      fs::remove(it->path(), ec);
      ec.clear();
      continue;
    }
    auto size = it->file_size(ec);
    auto mtime = it->last_write_time(ec);
    if (ec) {
      ec.clear();
      continue;
    }
    found.push_back({std::move(name), size, mtime});
  }
  if (ec) return fail(Errc::kIOError, "image cache: cannot list {}: {}", dir.string(), ec.message());
  std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) { return a.mtime > b.mtime; });
  std::lock_guard lock(c->mu_);
  for (auto& f : found) {  // most recent first: each goes to the back
    c->lru_.push_back(f.key);
    c->index_.emplace(f.key, Entry{f.size, std::prev(c->lru_.end())});
    c->total_ += f.size;
  }
  c->evict_locked(max_bytes);
  return c;
}

fs::path ImageCache::path_of(const std::string& key) const { return dir_ / key.substr(0, 2) / key; }

std::optional<std::string> ImageCache::get(const std::string& key) {
  {
    std::lock_guard lock(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    lru_.splice(lru_.begin(), lru_, it->second.lru);
  }
  fs::path p = path_of(key);
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  std::string out;
  bool ok = fd >= 0;
  if (ok) {
    struct stat st {};
    ok = ::fstat(fd, &st) == 0;
    if (ok) {
      out.resize(static_cast<std::size_t>(st.st_size));
      std::size_t got = 0;
      while (ok && got < out.size()) {
        ssize_t n = ::read(fd, out.data() + got, out.size() - got);
        if (n < 0 && errno == EINTR) continue;
        ok = n > 0;
        if (ok) got += static_cast<std::size_t>(n);
      }
    }
    // Recency on disk too, so the order survives a restart (best effort).
    if (ok) (void)::futimens(fd, nullptr);
    ::close(fd);
  }
  if (!ok) {  // evicted meanwhile, or gone from under us: a miss
    std::lock_guard lock(mu_);
    if (auto it = index_.find(key); it != index_.end()) {
      total_ -= it->second.size;
      lru_.erase(it->second.lru);
      index_.erase(it);
    }
    return std::nullopt;
  }
  return out;
}

Result<> ImageCache::put(const std::string& key, std::string_view bytes) {
  if (!is_key(key)) return fail(Errc::kInternal, "image cache: '{}' is not a cache key", key);
  if (bytes.size() > max_bytes_) return {};
  fs::path final_path = path_of(key);
  std::error_code ec;
  fs::create_directories(final_path.parent_path(), ec);
  if (ec) return fail(Errc::kIOError, "image cache: cannot create {}: {}", final_path.parent_path().string(), ec.message());
  std::uint64_t seq;
  {
    std::lock_guard lock(mu_);
    seq = ++tmp_seq_;
  }
  fs::path tmp = final_path;
  tmp += fmt::format(".{}.{}.tmp", ::getpid(), seq);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return std::unexpected(io_error("cannot create", tmp, errno));
  if (!write_all(fd, bytes) || ::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return std::unexpected(io_error("cannot write", tmp, err));
  }
  ::close(fd);
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return std::unexpected(io_error("cannot rename into", final_path, err));
  }
  std::lock_guard lock(mu_);
  if (auto it = index_.find(key); it != index_.end()) {  // the same key twice: same bytes, replaced
    total_ -= it->second.size;
    lru_.erase(it->second.lru);
    index_.erase(it);
  }
  lru_.push_front(key);
  index_.emplace(key, Entry{bytes.size(), lru_.begin()});
  total_ += bytes.size();
  evict_locked(max_bytes_);
  return {};
}

void ImageCache::evict_locked(std::uint64_t target) {
  // Unlinking under the lock keeps the index and the files in step (a put of
  // the same key cannot slip between dropping the entry and its unlink);
  // unlink is quick and eviction is rare next to lookups.
  while (total_ > target && !lru_.empty()) {
    const std::string& key = lru_.back();
    auto it = index_.find(key);
    total_ -= it->second.size;
    ::unlink(path_of(key).c_str());
    index_.erase(it);
    lru_.pop_back();
  }
}

std::uint64_t ImageCache::bytes() const {
  std::lock_guard lock(mu_);
  return total_;
}

std::size_t ImageCache::entries() const {
  std::lock_guard lock(mu_);
  return index_.size();
}

}  // namespace blobsync::image
