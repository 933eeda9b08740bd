// Opening the metadata database named by `--metadata` and a BlobStore on it
// that is safe to share with other processes and servers.
//
//   ""  or "sqlite"             DATA/meta.db (the embedded default)
//   "sqlite:PATH"               another SQLite file
//   "postgresql://user[:pw]@host[:port]/db[?sslmode=...]"  (also postgres://)
//
// open_shared_store() opens that database, migrates the blob index on it,
// opens the BlobStore (disk backend in DATA unless one is given) and wraps
// it in a FencedBlobStore. Every process that opens the same database this
// way (servers, `blobsync gc`) is kept safe from the others' GC.
//
// Thread safety: functions are safe to call from any thread; see each
// returned object for its own contract.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "store/blob_store.h"
#include "store/blob_fence.h"
#include "store/fenced_store.h"
#include "sql/sql_db.h"

namespace blobsync {

// Errors: kInvalidArgument for an unknown scheme or malformed URL; the
// database's own errors (kPermissionDenied, kNotFound, kIOError...).
Result<std::shared_ptr<SqlDb>> open_metadata_db(std::string_view url, const std::filesystem::path& data_dir);

// The URL with any password replaced by "***", for logs and errors.
std::string redact_metadata_url(std::string_view url);

struct SharedStoreOptions {
  std::filesystem::path data_dir = "data";
  std::string metadata;                  // see the file comment
  std::shared_ptr<BlobBackend> backend;  // nullptr: disk in data_dir
  Env* env = nullptr;
};

struct SharedStore {
  std::shared_ptr<SqlDb> db;
  std::shared_ptr<BlobFence> fence;
  std::unique_ptr<FencedBlobStore> store;
};

Result<SharedStore> open_shared_store(const SharedStoreOptions& options);

}  // namespace blobsync
