#include "store/sqlite_metadata.h"

namespace blobsync {

Result<std::unique_ptr<SqliteMetadata>> SqliteMetadata::open(const std::filesystem::path& path,
                                                            const SqliteOptions& options) {
  auto db = SqliteSqlDb::open(path, options);
  if (!db) return std::unexpected(db.error());
  SqliteSqlDb* raw = db->get();
  std::shared_ptr<SqlDb> shared(std::move(*db));
  if (auto r = shared->migrate("blobs", migrations()); !r) return std::unexpected(r.error());
  return std::unique_ptr<SqliteMetadata>(new SqliteMetadata(std::move(shared), raw));
}

}  // namespace blobsync
