#include "sync/upload_staging.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "core/chunking.h"
#include "core/sha256.h"

namespace blobsync::sync {

namespace {

constexpr char kMagic[8] = {'B', 'S', 'S', 'T', 'A', 'G', 'E', '1'};
constexpr std::uint64_t kHeader = 24;

void put_u64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint64_t get_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
  return v;
}

Result<> pwrite_all(int fd, const void* data, std::size_t n, std::uint64_t offset, const char* what) {
  auto* p = static_cast<const std::uint8_t*>(data);
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(errno_error(errno, what));
    }
    p += w;
    n -= static_cast<std::size_t>(w);
    offset += static_cast<std::uint64_t>(w);
  }
  return {};
}

Result<> pread_all(int fd, void* data, std::size_t n, std::uint64_t offset, const char* what) {
  auto* p = static_cast<std::uint8_t*>(data);
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (r < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(errno_error(errno, what));
    }
    if (r == 0) return fail(Errc::kIOError, "{}: unexpected end of file", what);
    p += r;
    n -= static_cast<std::size_t>(r);
    offset += static_cast<std::uint64_t>(r);
  }
  return {};
}

}  // namespace

StagedUpload::~StagedUpload() {
  if (part_fd_ >= 0) ::close(part_fd_);
  if (meta_fd_ >= 0) ::close(meta_fd_);
}

bool StagedUpload::has(std::uint64_t index) const {
  std::lock_guard lock(mu_);
  return index < hashes_.size() && (bitmap_[index / 8] >> (index % 8)) & 1;
}

std::uint64_t StagedUpload::missing_count() const {
  std::lock_guard lock(mu_);
  std::uint64_t n = 0;
  for (std::uint64_t i = 0; i < hashes_.size(); ++i) n += !((bitmap_[i / 8] >> (i % 8)) & 1);
  return n;
}

std::vector<protocol::ChunkRange> StagedUpload::missing() const {
  std::lock_guard lock(mu_);
  std::vector<protocol::ChunkRange> out;
  for (std::uint64_t i = 0; i < hashes_.size(); ++i) {
    if ((bitmap_[i / 8] >> (i % 8)) & 1) continue;
    if (!out.empty() && out.back().first + out.back().count == i) ++out.back().count;
    else out.push_back({i, 1});
  }
  return out;
}

Result<> StagedUpload::set_bit(std::uint64_t index, bool value) {
  std::lock_guard lock(mu_);
  auto& byte = bitmap_[index / 8];
  auto mask = static_cast<std::uint8_t>(1u << (index % 8));
  byte = value ? static_cast<std::uint8_t>(byte | mask) : static_cast<std::uint8_t>(byte & ~mask);
  return pwrite_all(meta_fd_, &byte, 1, bitmap_offset_ + index / 8, "staging bitmap write");
}

Result<> StagedUpload::write_chunk(std::uint64_t index, std::span<const std::uint8_t> data) {
  if (index >= hashes_.size()) return fail(Errc::kInvalidArgument, "chunk {} out of range", index);
  if (data.size() != chunk_length(index, size_))
    return fail(Errc::kInvalidArgument, "chunk {} has {} bytes, expected {}", index, data.size(),
                chunk_length(index, size_));
  if (Sha256::of(data.data(), data.size()) != hashes_[index])
    return fail(Errc::kCorruption, "chunk {} does not match its declared hash", index);
  if (auto r = pwrite_all(part_fd_, data.data(), data.size(), chunk_offset(index), "staging write"); !r) return r;
  auto r = set_bit(index, true);
  if (r && owner_) owner_->wrote(hash_, data.size());
  return r;
}

Result<> StagedUpload::sync() {
  if (::fdatasync(part_fd_) != 0) return std::unexpected(errno_error(errno, "staging fdatasync"));
  if (::fdatasync(meta_fd_) != 0) return std::unexpected(errno_error(errno, "staging fdatasync"));
  return {};
}

Result<> StagedUpload::read(std::uint64_t offset, std::span<std::uint8_t> buf) const {
  return pread_all(part_fd_, buf.data(), buf.size(), offset, "staging read");
}

Result<std::uint64_t> StagedUpload::reverify() {
  std::vector<std::uint8_t> buf(kChunkSize);
  std::uint64_t cleared = 0;
  for (std::uint64_t i = 0; i < hashes_.size(); ++i) {
    if (!has(i)) continue;
    auto len = chunk_length(i, size_);
    if (auto r = read(chunk_offset(i), {buf.data(), len}); !r) return std::unexpected(r.error());
    if (Sha256::of(buf.data(), len) == hashes_[i]) continue;
    if (auto r = set_bit(i, false); !r) return std::unexpected(r.error());
    ++cleared;
  }
  return cleared;
}

UploadStaging::UploadStaging(std::filesystem::path dir, std::chrono::seconds expiry, std::uint64_t max_bytes)
    : dir_(std::move(dir)), expiry_(expiry), max_bytes_(max_bytes) {}

Result<> UploadStaging::init() {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return fail(Errc::kIOError, "cannot create staging dir {}: {}", dir_.string(), ec.message());
  sweep();
  // What earlier runs left counts against the cap: the chunks each holds.
  for (auto it = std::filesystem::directory_iterator(dir_, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    Digest d;
    if (it->path().extension() != ".meta" || !parse_hex_digest(it->path().stem().string(), d)) continue;
    int fd = ::open(it->path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    std::uint8_t head[kHeader];
    std::uint64_t written = 0;
    if (pread_all(fd, head, kHeader, 0, "staging meta read") && std::memcmp(head, kMagic, 8) == 0) {
      std::uint64_t size = get_u64(head + 8), n = get_u64(head + 16);
      std::vector<std::uint8_t> bitmap((n + 7) / 8);
      if (n <= chunk_count(size) && pread_all(fd, bitmap.data(), bitmap.size(), kHeader + 32 * n, "staging meta read"))
        for (std::uint64_t i = 0; i < n; ++i)
          if ((bitmap[i / 8] >> (i % 8)) & 1) written += chunk_length(i, size);
    }
    ::close(fd);
    restaged(d, written);
  }
  return {};
}

UploadStaging::Claim UploadStaging::claim(const Digest& hash, std::uint64_t size) {
  std::lock_guard lock(mu_);
  if (claimed_.contains(hash)) return Claim::kBusy;
  auto& b = bytes_[hash];
  // Active, the blob counts its declared size instead of what it holds.
  std::uint64_t total = total_ - b.written + std::max(size, b.written);
  if (size > 0 && total > max_bytes_) {
    if (b.written == 0) bytes_.erase(hash);
    return Claim::kFull;
  }
  claimed_.insert(hash);
  b.active = true;
  b.declared = std::max(size, b.written);
  total_ = total;
  return Claim::kOk;
}

void UploadStaging::unclaim(const Digest& hash) {
  std::lock_guard lock(mu_);
  claimed_.erase(hash);
  auto it = bytes_.find(hash);
  if (it == bytes_.end() || !it->second.active) return;
  total_ = total_ - it->second.declared + it->second.written;
  it->second.active = false;
  if (it->second.written == 0) bytes_.erase(it);
}

std::uint64_t UploadStaging::staged_bytes() const {
  std::lock_guard lock(mu_);
  return total_;
}

void UploadStaging::wrote(const Digest& hash, std::uint64_t bytes) {
  std::lock_guard lock(mu_);
  auto& b = bytes_[hash];
  b.written += bytes;
  if (!b.active) total_ += bytes;
  else if (b.written > b.declared) total_ += b.written - std::exchange(b.declared, b.written);
}

void UploadStaging::restaged(const Digest& hash, std::uint64_t written) {
  std::lock_guard lock(mu_);
  auto& b = bytes_[hash];
  if (!b.active) total_ = total_ - b.written + written;
  b.written = written;
}

void UploadStaging::forget(const Digest& hash) {
  std::lock_guard lock(mu_);
  auto it = bytes_.find(hash);
  if (it == bytes_.end()) return;
  if (it->second.active) {
    it->second.written = 0;
    return;
  }
  total_ -= it->second.written;
  bytes_.erase(it);
}

std::size_t UploadStaging::claimed() const {
  std::lock_guard lock(mu_);
  return claimed_.size();
}

Result<std::unique_ptr<StagedUpload>> UploadStaging::open(const Digest& hash, std::uint64_t size,
                                                          const std::vector<Digest>& chunk_hashes) {
  auto base = dir_ / hash.hex();
  auto part = base;
  part += ".part";
  auto meta = base;
  meta += ".meta";
  std::unique_ptr<StagedUpload> s(new StagedUpload());
  s->hash_ = hash;
  s->size_ = size;
  s->hashes_ = chunk_hashes;
  std::uint64_t n = chunk_hashes.size();
  s->bitmap_offset_ = kHeader + 32 * n;
  s->bitmap_.assign((n + 7) / 8, 0);

  // Reuse what is there if it describes the same blob the same way.
  bool reuse = false;
  s->meta_fd_ = ::open(meta.c_str(), O_RDWR | O_CLOEXEC);
  if (s->meta_fd_ >= 0) {
    std::vector<std::uint8_t> head(s->bitmap_offset_ + s->bitmap_.size());
    struct stat st{};
    if (::fstat(s->meta_fd_, &st) == 0 && static_cast<std::uint64_t>(st.st_size) == head.size() &&
        pread_all(s->meta_fd_, head.data(), head.size(), 0, "staging meta read") &&
        std::memcmp(head.data(), kMagic, 8) == 0 && get_u64(head.data() + 8) == size &&
        get_u64(head.data() + 16) == n) {
      reuse = true;
      for (std::uint64_t i = 0; i < n && reuse; ++i)
        reuse = std::memcmp(head.data() + kHeader + 32 * i, chunk_hashes[i].bytes.data(), 32) == 0;
      if (reuse) std::copy(head.begin() + static_cast<std::ptrdiff_t>(s->bitmap_offset_), head.end(), s->bitmap_.begin());
    }
    if (!reuse) {
      ::close(s->meta_fd_);
      s->meta_fd_ = -1;
    }
  }
  if (!reuse) {
    s->meta_fd_ = ::open(meta.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (s->meta_fd_ < 0) return std::unexpected(errno_error(errno, "cannot create staging meta"));
    std::vector<std::uint8_t> head(s->bitmap_offset_ + s->bitmap_.size(), 0);
    std::memcpy(head.data(), kMagic, 8);
    put_u64(head.data() + 8, size);
    put_u64(head.data() + 16, n);
    for (std::uint64_t i = 0; i < n; ++i) std::memcpy(head.data() + kHeader + 32 * i, chunk_hashes[i].bytes.data(), 32);
    if (auto r = pwrite_all(s->meta_fd_, head.data(), head.size(), 0, "staging meta write"); !r)
      return std::unexpected(r.error());
  }
  s->part_fd_ = ::open(part.c_str(), O_RDWR | O_CREAT | (reuse ? 0 : O_TRUNC) | O_CLOEXEC, 0600);
  if (s->part_fd_ < 0) return std::unexpected(errno_error(errno, "cannot open staging file"));
  if (::ftruncate(s->part_fd_, static_cast<off_t>(size)) != 0)
    return std::unexpected(errno_error(errno, "cannot size staging file"));
  std::uint64_t written = 0;
  for (std::uint64_t i = 0; i < n; ++i)
    if ((s->bitmap_[i / 8] >> (i % 8)) & 1) written += chunk_length(i, size);
  restaged(hash, written);
  s->owner_ = this;
  return s;
}

void UploadStaging::remove(const Digest& hash) {
  std::error_code ec;
  auto base = dir_ / hash.hex();
  auto part = base;
  part += ".part";
  auto meta = base;
  meta += ".meta";
  std::filesystem::remove(meta, ec);
  std::filesystem::remove(part, ec);
  forget(hash);
}

std::size_t UploadStaging::sweep() {
  std::set<Digest> claimed;
  {
    std::lock_guard lock(mu_);
    last_sweep_ = std::chrono::steady_clock::now();
    claimed = claimed_;
  }
  std::size_t removed = 0;
  std::error_code ec;
  auto now = std::filesystem::file_time_type::clock::now();
  for (auto it = std::filesystem::directory_iterator(dir_, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    auto path = it->path();
    auto ext = path.extension().string();
    if (ext != ".meta" && ext != ".part") continue;
    Digest d;
    if (!parse_hex_digest(path.stem().string(), d) || claimed.contains(d)) continue;
    std::error_code tec;
    auto mtime = std::filesystem::last_write_time(path, tec);
    if (tec || now - mtime < expiry_) continue;
    std::filesystem::remove(path, tec);
    if (!tec && ext == ".meta") {
      ++removed;
      forget(d);
    }
  }
  if (removed) spdlog::info("sync: removed {} expired upload staging files", removed);
  return removed;
}

void UploadStaging::maybe_sweep() {
  {
    std::lock_guard lock(mu_);
    if (std::chrono::steady_clock::now() - last_sweep_ < std::chrono::minutes(10)) return;
  }
  sweep();
}

}  // namespace blobsync::sync
