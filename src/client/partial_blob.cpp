#include "client/partial_blob.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <iterator>

#include "core/chunking.h"
#include "core/sha256.h"
#include "crdt/lib0.h"

namespace blobsync::client {

namespace {
constexpr char kMagic[] = "blobsync-partial-1";
}  // namespace

Result<PartialBlob> PartialBlob::open(const std::filesystem::path& dir, const Digest& hash) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(Errc::kIOError, "cannot create {}: {}", dir.string(), ec.message());
  PartialBlob p;
  p.dir_ = dir;
  p.hash_ = hash;
  p.data_path_ = dir / (hash.hex() + ".part");
  p.meta_path_ = dir / (hash.hex() + ".meta");
  p.fd_ = Fd(::open(p.data_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (p.fd() < 0) return std::unexpected(errno_error(errno, "cannot open " + p.data_path_.string()));
  if (std::filesystem::exists(p.meta_path_) && !p.load_meta()) {
    // Damaged metadata: start over rather than trust it.
    p.has_meta_ = false;
    p.chunk_hashes_.clear();
    p.present_.clear();
    p.present_count_ = 0;
    std::filesystem::remove(p.meta_path_, ec);
  }
  return p;
}

void PartialBlob::Fd::reset() {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
}

PartialBlob::~PartialBlob() {
  // A destructor cannot report; a lost checkpoint only means a resume
  // fetches again the chunks written since the last one. (fd_ closes after.)
  if (fd() >= 0) (void)checkpoint();
}

std::uint64_t PartialBlob::bytes_present() const {
  std::uint64_t bytes = 0;
  for (std::uint64_t i = 0; i < present_.size(); ++i)
    if (present_[i]) bytes += chunk_length(i, size_);
  return bytes;
}

std::uint64_t PartialBlob::present_prefix() const {
  std::uint64_t n = 0;
  while (n < present_.size() && present_[n]) ++n;
  return n;
}

std::vector<protocol::ChunkRange> PartialBlob::missing_ranges() const {
  std::vector<protocol::ChunkRange> out;
  if (!has_meta_) return out;
  for (std::uint64_t i = 0; i < present_.size(); ++i) {
    if (present_[i]) continue;
    if (!out.empty() && out.back().first + out.back().count == i) ++out.back().count;
    else out.push_back({i, 1});
  }
  return out;
}

Result<std::vector<std::uint64_t>> PartialBlob::adopt_meta(const protocol::MetaMsg& meta,
                                                          const std::vector<protocol::ChunkRange>& wanted) {
  auto checked = meta_chunk_order(meta, wanted);
  if (!checked) return std::unexpected(checked.error());
  std::vector<std::uint64_t> order = std::move(*checked);
  if (!has_meta_) {
    if (!wanted.empty()) return fail(Errc::kInternal, "first request for a partial blob must ask for every chunk");
    size_ = meta.size;
    mime_ = meta.mime_type;
    chunk_hashes_ = meta.chunk_hashes;
    present_.assign(chunk_hashes_.size(), false);
    present_count_ = 0;
    has_meta_ = true;
    if (::ftruncate(fd(), static_cast<off_t>(size_)) != 0)
      return std::unexpected(errno_error(errno, "cannot size " + data_path_.string()));
    if (auto r = write_meta(); !r) return std::unexpected(r.error());
    return order;
  }
  if (auto r = meta_agrees(meta, order, size_, chunk_hashes_); !r) return std::unexpected(r.error());
  return order;
}

Result<> PartialBlob::write_chunk(std::uint64_t index, std::span<const std::uint8_t> data) {
  if (!has_meta_ || index >= chunk_hashes_.size())
    return fail(Errc::kInvalidArgument, "chunk {} is outside the blob", index);
  if (data.size() != chunk_length(index, size_))
    return fail(Errc::kInvalidArgument, "chunk {} has {} bytes, expected {}", index, data.size(),
                chunk_length(index, size_));
  if (Sha256::of(data.data(), data.size()) != chunk_hashes_[index])
    return fail(Errc::kCorruption, "chunk {} does not match its hash", index);
  return write_verified_chunk(index, data);
}

Result<> PartialBlob::write_verified_chunk(std::uint64_t index, std::span<const std::uint8_t> data) {
  if (!has_meta_ || index >= chunk_hashes_.size() || data.size() != chunk_length(index, size_))
    return fail(Errc::kInvalidArgument, "chunk {} is outside the blob or has the wrong length", index);
  if (present_[index]) return {};
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pwrite(fd(), data.data() + done, data.size() - done, static_cast<off_t>(chunk_offset(index) + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(errno_error(errno, "cannot write " + data_path_.string()));
    }
    done += static_cast<std::size_t>(n);
  }
  present_[index] = true;
  ++present_count_;
  ++unsynced_;
  if ((checkpoint_every_ && unsynced_ >= checkpoint_every_) || complete()) return checkpoint();
  return {};
}

Result<> PartialBlob::checkpoint() {
  if (!has_meta_ || unsynced_ == 0) return {};
  if (::fdatasync(fd()) != 0) return std::unexpected(errno_error(errno, "cannot sync " + data_path_.string()));
  unsynced_ = 0;
  return write_meta();
}

Result<> PartialBlob::write_meta() {
  crdt::Encoder e;
  e.write_var_string(kMagic);
  e.write_bytes({hash_.bytes.data(), hash_.bytes.size()});
  e.write_var_uint(size_);
  e.write_var_string(mime_);
  e.write_var_uint(chunk_hashes_.size());
  for (const auto& h : chunk_hashes_) e.write_bytes({h.bytes.data(), h.bytes.size()});
  std::vector<std::uint8_t> bitmap((present_.size() + 7) / 8, 0);
  for (std::size_t i = 0; i < present_.size(); ++i)
    if (present_[i]) bitmap[i / 8] = static_cast<std::uint8_t>(bitmap[i / 8] | (1u << (i % 8)));
  e.write_var_bytes(bitmap);
  auto tmp = meta_path_;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return std::unexpected(errno_error(errno, "cannot write " + tmp.string()));
  const auto& bytes = e.bytes();
  bool ok = ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()) && ::fdatasync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok) return std::unexpected(errno_error(err, "cannot write " + tmp.string()));
  if (::rename(tmp.c_str(), meta_path_.c_str()) != 0)
    return std::unexpected(errno_error(errno, "cannot rename " + tmp.string()));
  return {};
}

Result<> PartialBlob::load_meta() {
  std::ifstream in(meta_path_, std::ios::binary);
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  crdt::Decoder d(bytes);
  if (d.read_var_string() != kMagic) return fail(Errc::kCorruption, "not a partial-blob file");
  auto stored_hash = d.read_view(32);
  if (!d.ok() || !std::equal(stored_hash.begin(), stored_hash.end(), hash_.bytes.begin()))
    return fail(Errc::kCorruption, "partial-blob file names another blob");
  size_ = d.read_var_uint();
  mime_ = d.read_var_string();
  std::uint64_t n = d.read_var_uint();
  if (!d.ok() || n != blobsync::chunk_count(size_) || n > d.remaining() / 32) return fail(Errc::kCorruption, "bad chunk count");
  chunk_hashes_.resize(n);
  for (auto& h : chunk_hashes_) {
    auto v = d.read_view(32);
    if (v.size() == 32) std::copy(v.begin(), v.end(), h.bytes.begin());
  }
  auto bitmap = d.read_var_bytes();
  if (!d.ok() || d.has_more() || bitmap.size() != (n + 7) / 8) return fail(Errc::kCorruption, "bad bitmap");
  present_.assign(n, false);
  present_count_ = 0;
  for (std::uint64_t i = 0; i < n; ++i)
    if ((bitmap[i / 8] >> (i % 8)) & 1) {
      present_[i] = true;
      ++present_count_;
    }
  has_meta_ = true;
  return {};
}

void PartialBlob::discard() {
  fd_.reset();
  std::error_code ec;
  std::filesystem::remove(data_path_, ec);
  std::filesystem::remove(meta_path_, ec);
  has_meta_ = false;
  unsynced_ = 0;
}

}  // namespace blobsync::client
