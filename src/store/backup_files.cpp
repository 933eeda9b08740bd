#include "store/backup_files.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <functional>

#include "store/backup.h"
#include "store/env.h"

namespace blobsync {

namespace {

Result<> write_all_new(Env* env, const std::filesystem::path& path, unsigned mode,
                       const std::function<Result<>(int fd)>& body) {
  auto fd = env->open(path, Env::kWrite | Env::kCreate | Env::kExclusive, mode);
  if (!fd) return std::unexpected(fd.error());
  auto r = body(*fd);
  if (r) r = env->fsync(*fd);
  auto closed = env->close(*fd);
  if (r && !closed) r = closed;
  if (!r) (void)env->unlink(path);
  return r;
}

std::uint64_t parse_u64(std::string_view s, bool& ok) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  ok = ok && ec == std::errc() && p == s.data() + s.size() && !s.empty();
  return v;
}

}  // namespace

Result<> make_private_dir(Env* env, const std::filesystem::path& dir) {
  std::error_code ec;
  if (dir.has_parent_path()) {
    std::filesystem::create_directories(dir.parent_path(), ec);
    if (ec) return std::unexpected(errno_error(ec.value(), "create directory " + dir.parent_path().string()));
  }
  auto made = env->mkdir(dir, 0700);
  if (!made) return std::unexpected(made.error());
  auto st = env->stat(dir);
  if (!st) return std::unexpected(st.error());
  if (!st->is_dir) return fail(Errc::kIOError, "{} is not a directory", dir.string());
  if (::access(dir.c_str(), W_OK) != 0)  // root passes; a read-only mount does not
    return std::unexpected(errno_error(errno, "write into " + dir.string()));
  return {};
}

Result<std::uint64_t> remove_partials(Env* env, const std::filesystem::path& snapshots) {
  auto names = env->list_dir(snapshots);
  if (!names) return std::unexpected(names.error());
  std::uint64_t n = 0;
  for (const auto& name : *names) {
    if (!name.starts_with(".partial-")) continue;
    std::error_code ec;
    std::filesystem::remove_all(snapshots / name, ec);
    if (ec) return std::unexpected(errno_error(ec.value(), "remove " + (snapshots / name).string()));
    ++n;
  }
  return n;
}

Result<> copy_file(Env* env, const std::filesystem::path& from, const std::filesystem::path& to, unsigned mode) {
  auto in = env->open(from, Env::kRead);
  if (!in) return std::unexpected(in.error());
  auto r = write_all_new(env, to, mode, [&](int out) -> Result<> {
    std::vector<std::byte> buf(1 << 20);
    for (;;) {
      auto n = env->read(*in, buf);
      if (!n) return std::unexpected(n.error());
      if (*n == 0) return {};
      if (auto w = env->write(out, std::span<const std::byte>(buf.data(), *n)); !w) return w;
    }
  });
  (void)env->close(*in);
  if (r && ::chmod(to.c_str(), mode) != 0) return std::unexpected(errno_error(errno, "chmod " + to.string()));
  return r;
}

Result<> fsync_file(Env* env, const std::filesystem::path& path, unsigned mode) {
  if (::chmod(path.c_str(), mode) != 0) return std::unexpected(errno_error(errno, "chmod " + path.string()));
  auto fd = env->open(path, Env::kRead | Env::kWrite);
  if (!fd) return std::unexpected(fd.error());
  auto r = env->fsync(*fd);
  auto closed = env->close(*fd);
  return r ? closed : r;
}

Result<> write_manifest(Env* env, const std::filesystem::path& path, const ManifestHeader& header,
                        const std::vector<BackendStat>& blobs) {
  std::uint64_t bytes = 0;
  for (const auto& b : blobs) bytes += b.size;
  std::string text = fmt::format("blobsync-backup 1\nid {}\nindex {}\n", header.id,
                                 header.index_in_meta_db ? "meta.db" : "postgresql");
  for (const auto& s : header.secrets) text += fmt::format("secret {}\n", s);
  text += fmt::format("blobs {} {}\n", blobs.size(), bytes);
  for (const auto& b : blobs) text += fmt::format("blob {} {}\n", b.digest.hex(), b.size);
  text += "end\n";
  return write_all_new(env, path, 0600, [&](int fd) {
    return env->write(fd, std::as_bytes(std::span<const char>(text.data(), text.size())));
  });
}

Result<Manifest> read_manifest(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return fail(Errc::kNotFound, "no manifest at {}", path.string());
  Manifest m;
  std::string line;
  std::size_t lineno = 0;
  std::uint64_t count = 0;
  bool have_count = false, ended = false, header = false;
  auto bad = [&](std::string_view why) {
    return fail(Errc::kCorruption, "manifest {} line {}: {}", path.string(), lineno, why);
  };
  while (std::getline(in, line)) {
    ++lineno;
    if (ended) return bad("text after 'end'");
    std::string_view l(line);
    auto sp = l.find(' ');
    std::string_view word = l.substr(0, sp), rest = sp == std::string_view::npos ? "" : l.substr(sp + 1);
    if (!header) {
      if (l != "blobsync-backup 1") return bad("not a blobsync backup manifest (version 1)");
      header = true;
    } else if (word == "id") {
      m.header.id = std::string(rest);
    } else if (word == "index") {
      if (rest != "meta.db" && rest != "postgresql") return bad("unknown index");
      m.header.index_in_meta_db = rest == "meta.db";
    } else if (word == "secret") {
      if (rest.empty() || rest.find('/') != std::string_view::npos || rest.starts_with(".")) return bad("bad secret name");
      m.header.secrets.emplace_back(rest);
    } else if (word == "blobs") {
      bool ok = true;
      auto sp2 = rest.find(' ');
      if (sp2 == std::string_view::npos) return bad("blobs COUNT BYTES");
      count = parse_u64(rest.substr(0, sp2), ok);
      m.bytes = parse_u64(rest.substr(sp2 + 1), ok);
      if (!ok) return bad("blobs COUNT BYTES");
      have_count = true;
    } else if (word == "blob") {
      auto sp2 = rest.find(' ');
      BackendStat b;
      bool ok = sp2 != std::string_view::npos && parse_hex_digest(rest.substr(0, sp2), b.digest);
      if (ok) b.size = parse_u64(rest.substr(sp2 + 1), ok);
      if (!ok) return bad("blob <64 hex> <size>");
      if (!m.blobs.empty() && !(m.blobs.back().digest < b.digest)) return bad("blobs out of order");
      m.blobs.push_back(b);
    } else if (word == "end") {
      ended = true;
    } else {
      return bad("unknown record");
    }
  }
  if (!ended) return fail(Errc::kCorruption, "manifest {} is cut short (no 'end')", path.string());
  if (!have_count || count != m.blobs.size()) return fail(Errc::kCorruption, "manifest {}: blob count does not match", path.string());
  return m;
}

}  // namespace blobsync

namespace blobsync {

namespace {

class DirSnapshotStore final : public SnapshotStore {
 public:
  DirSnapshotStore(std::filesystem::path dir, Env* env) : dir_(std::move(dir)), env_(env) {}

  std::string describe() const override { return snapshots().string(); }

  Result<std::vector<std::string>> list() override {
    auto names = env_->list_dir(snapshots());
    if (!names) {
      if (names.error().code == Errc::kNotFound)
        return fail(Errc::kNotFound, "{} is not a blobsync backup (no snapshots/ in it)", dir_.string());
      return std::unexpected(names.error());
    }
    std::vector<std::string> out;
    for (const auto& n : *names) {
      if (n.starts_with(".")) continue;  // .partial-*: an interrupted run
      if (env_->stat(snapshots() / n / "manifest").has_value()) out.push_back(n);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  Result<std::uint64_t> remove_partials() override { return blobsync::remove_partials(env_, snapshots()); }

  std::filesystem::path staging_dir(const std::string& id) override { return snapshots() / (".partial-" + id); }

  Result<> publish(const std::string& id) override {
    if (auto r = env_->fsync_dir(staging_dir(id)); !r) return r;
    if (auto r = env_->rename(staging_dir(id), snapshots() / id); !r) return r;
    return env_->fsync_dir(snapshots());
  }

  Result<std::filesystem::path> fetch(const std::string& id, const std::filesystem::path&) override {
    return snapshots() / id;
  }

 private:
  std::filesystem::path snapshots() const { return dir_ / "snapshots"; }
  std::filesystem::path dir_;
  Env* env_;
};

}  // namespace

std::unique_ptr<SnapshotStore> dir_snapshot_store(const std::filesystem::path& dir, Env* env) {
  return std::make_unique<DirSnapshotStore>(dir, env ? env : Env::posix());
}

}  // namespace blobsync
