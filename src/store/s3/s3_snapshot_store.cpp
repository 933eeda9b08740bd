#include "store/s3/s3_snapshot_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <map>

#include "store/backup_files.h"
#include "store/env.h"
#include "store/s3/s3_xml.h"

namespace blobsync::s3 {

namespace {

class S3SnapshotStore final : public SnapshotStore {
 public:
  S3SnapshotStore(S3Backend& backend, std::filesystem::path staging)
      : client_(backend.client()), staging_(std::move(staging)),
        prefix_(backend.client().config().prefix + "snapshots/") {}

  std::string describe() const override {
    return fmt::format("s3://{}/{}", client_.config().bucket, prefix_);
  }

  Result<std::vector<std::string>> list() override {
    auto keys = by_snapshot();
    if (!keys) return std::unexpected(keys.error());
    std::vector<std::string> out;
    for (const auto& [id, files] : *keys)
      if (std::find(files.begin(), files.end(), "manifest") != files.end()) out.push_back(id);
    return out;  // std::map: sorted
  }

  Result<std::uint64_t> remove_partials() override {
    auto keys = by_snapshot();
    if (!keys) return std::unexpected(keys.error());
    std::uint64_t n = 0;
    for (const auto& [id, files] : *keys) {
      if (std::find(files.begin(), files.end(), "manifest") != files.end()) continue;
      for (const auto& f : files) {
        auto r = client_.execute(S3Request("DELETE", prefix_ + id + "/" + f));
        if (!r) return std::unexpected(r.error());
        if (!r->ok() && r->status != 404) return std::unexpected(s3_error(*r, "DELETE " + prefix_ + id + "/" + f));
      }
      ++n;
    }
    std::error_code ec;
    if (std::filesystem::exists(staging_, ec)) {
      auto local = blobsync::remove_partials(Env::posix(), staging_);
      if (!local) return std::unexpected(local.error());
      n += *local;
    }
    return n;
  }

  std::filesystem::path staging_dir(const std::string& id) override { return staging_ / (".partial-" + id); }

  Result<> publish(const std::string& id) override {
    const auto dir = staging_dir(id);
    std::error_code ec;
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) names.push_back(e.path().filename().string());
    if (ec) return fail(Errc::kIOError, "listing {}: {}", dir.string(), ec.message());
    std::sort(names.begin(), names.end());
    names.erase(std::remove(names.begin(), names.end(), "manifest"), names.end());
    names.push_back("manifest");  // last: it makes the snapshot complete
    for (const auto& name : names)
      if (auto r = put_file(dir / name, prefix_ + id + "/" + name); !r) return r;
    std::filesystem::remove_all(dir, ec);
    std::filesystem::remove(staging_, ec);  // only if empty
    return {};
  }

  Result<std::filesystem::path> fetch(const std::string& id, const std::filesystem::path& scratch) override {
    const std::string base = prefix_ + id + "/";
    if (auto r = get_file(base + "manifest", scratch / "manifest"); !r) return std::unexpected(r.error());
    auto m = read_manifest(scratch / "manifest");
    if (!m) return std::unexpected(m.error());
    for (const auto& s : m->header.secrets)
      if (auto r = get_file(base + s, scratch / s); !r) return std::unexpected(r.error());
    auto r = get_file(base + "meta.db", scratch / "meta.db");
    // PostgreSQL metadata on a data directory no server ran in: no meta.db.
    if (!r && !(r.error().code == Errc::kNotFound && !m->header.index_in_meta_db)) return std::unexpected(r.error());
    return scratch;
  }

 private:
  // Every key under PREFIX snapshots/, as snapshot ID -> file names.
  Result<std::map<std::string, std::vector<std::string>>> by_snapshot() {
    std::map<std::string, std::vector<std::string>> out;
    std::string token;
    for (;;) {
      QueryParams q{{"list-type", "2"}, {"prefix", prefix_}};
      if (!token.empty()) q.emplace_back("continuation-token", token);
      auto r = client_.execute(S3Request("GET", {}, std::move(q)));
      if (!r) return std::unexpected(r.error());
      if (!r->ok()) return std::unexpected(s3_error(*r, "ListObjectsV2 " + prefix_));
      for (std::string_view item : xml_elements(r->body, "Contents")) {
        std::string key = xml_text(item, "Key").value_or("");
        if (!key.starts_with(prefix_)) continue;
        std::string_view rest = std::string_view(key).substr(prefix_.size());
        auto slash = rest.find('/');
        if (slash == std::string_view::npos || slash == 0) continue;  // not ours
        out[std::string(rest.substr(0, slash))].emplace_back(rest.substr(slash + 1));
      }
      if (xml_text(r->body, "IsTruncated").value_or("false") != "true") break;
      token = xml_text(r->body, "NextContinuationToken").value_or("");
      if (token.empty()) return fail(Errc::kIOError, "S3 ListObjectsV2: truncated listing without a continuation token");
    }
    return out;
  }

  // One streamed PutObject of a local file (meta.db may be large).
  Result<> put_file(const std::filesystem::path& path, const std::string& key) {
    std::ifstream in(path, std::ios::binary);
    std::error_code ec;
    auto size = std::filesystem::file_size(path, ec);
    if (!in || ec) return fail(Errc::kIOError, "cannot read {}", path.string());
    auto up = client_.upload(S3Request("PUT", key).with_headers({"Content-Type: application/octet-stream"}), size);
    std::vector<char> buf(1 << 20);
    std::uint64_t left = size;
    while (left > 0) {
      in.read(buf.data(), static_cast<std::streamsize>(std::min<std::uint64_t>(buf.size(), left)));
      auto got = static_cast<std::size_t>(in.gcount());
      if (got == 0) return fail(Errc::kIOError, "{} shrank while uploading it", path.string());
      if (auto r = up->write(std::as_bytes(std::span<const char>(buf.data(), got))); !r) return r;
      left -= got;
    }
    auto r = up->finish();
    if (!r) return std::unexpected(r.error());
    if (!r->ok()) return std::unexpected(s3_error(*r, "PUT " + key));
    return {};
  }

  // GETs `key` into a new file `path` (0600). Errors: kNotFound.
  Result<> get_file(const std::string& key, const std::filesystem::path& path) {
    auto head = client_.execute(S3Request("HEAD", key));
    if (!head) return std::unexpected(head.error());
    if (!head->ok()) return std::unexpected(s3_error(*head, "HEAD " + key));
    std::uint64_t size = head->content_length.value_or(0);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) return fail(Errc::kIOError, "cannot write {}", path.string());
    std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    if (size > 0) {
      auto down = client_.download(key, 0, size);
      std::vector<std::byte> buf(1 << 20);
      for (;;) {
        auto n = down->read(buf);
        if (!n) return std::unexpected(n.error());
        if (*n == 0) break;
        out.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(*n));
      }
    }
    out.close();
    if (!out) return fail(Errc::kIOError, "writing {} failed", path.string());
    return {};
  }

  S3Client& client_;
  std::filesystem::path staging_;
  std::string prefix_;
};

}  // namespace

std::unique_ptr<SnapshotStore> s3_snapshot_store(S3Backend& backend, std::filesystem::path staging) {
  return std::make_unique<S3SnapshotStore>(backend, std::move(staging));
}

}  // namespace blobsync::s3
