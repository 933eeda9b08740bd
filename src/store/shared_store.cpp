#include "store/shared_store.h"

#include "sql/pg_db.h"
#include "store/sql_metadata.h"
#include "sql/sqlite_sql_db.h"

namespace blobsync {

std::string redact_metadata_url(std::string_view url) {
  auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  auto at = url.find('@', scheme + 3);
  auto slash = url.find('/', scheme + 3);
  if (at == std::string_view::npos || (slash != std::string_view::npos && slash < at)) return std::string(url);
  auto colon = url.find(':', scheme + 3);
  if (colon == std::string_view::npos || colon > at) return std::string(url);
  return std::string(url.substr(0, colon + 1)) + "***" + std::string(url.substr(at));
}

Result<std::shared_ptr<SqlDb>> open_metadata_db(std::string_view url, const std::filesystem::path& data_dir) {
  if (url.empty() || url == "sqlite") {
    auto db = SqliteSqlDb::open(data_dir / "meta.db");
    if (!db) return std::unexpected(db.error());
    return std::shared_ptr<SqlDb>(std::move(*db));
  }
  if (url.starts_with("sqlite:")) {
    std::string_view path = url.substr(7);
    if (path.empty()) return fail(Errc::kInvalidArgument, "metadata 'sqlite:' needs a path (sqlite:/path/meta.db)");
    auto db = SqliteSqlDb::open(std::filesystem::path(path));
    if (!db) return std::unexpected(db.error());
    return std::shared_ptr<SqlDb>(std::move(*db));
  }
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
    auto db = PgDb::connect(url);
    if (!db) return fail(db.error().code, "metadata {}: {}", redact_metadata_url(url), db.error().message);
    return std::shared_ptr<SqlDb>(std::move(*db));
  }
  return fail(Errc::kInvalidArgument,
              "metadata '{}' is not 'sqlite', 'sqlite:PATH' or a postgresql://user@host:port/db URL",
              redact_metadata_url(url));
}

Result<SharedStore> open_shared_store(const SharedStoreOptions& options) {
  SharedStore out;
  // The data dir holds the disk backend, jwt.secret and rooms even when the
  // metadata lives elsewhere; SQLite in it needs it to exist first.
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec) return fail(Errc::kIOError, "cannot create data directory {}: {}", options.data_dir.string(), ec.message());
  auto db = open_metadata_db(options.metadata, options.data_dir);
  if (!db) return std::unexpected(db.error());
  out.db = std::move(*db);
  auto meta = SqlMetadata::open(out.db);
  if (!meta) return fail(meta.error().code, "cannot open metadata database: {}", meta.error().message);
  auto fence = BlobFence::open(*out.db);
  if (!fence) return std::unexpected(fence.error());
  out.fence = std::move(*fence);
  StoreOptions so;
  so.data_dir = options.data_dir;
  so.env = options.env;
  so.backend = options.backend;
  so.metadata = std::shared_ptr<MetadataStore>(std::move(*meta));
  auto store = BlobStore::open(so);
  if (!store) return std::unexpected(store.error());
  out.store = std::make_unique<FencedBlobStore>(std::move(*store), out.fence);
  return out;
}

}  // namespace blobsync
