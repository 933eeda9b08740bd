// S3SnapshotStore: backup snapshots (store/backup.h) as objects of a bucket,
// beside the blobs the S3 backend keeps there:
//
//   PREFIX blobs/<hex>               the blobs, shared by every snapshot
//   PREFIX snapshots/<ID>/meta.db    the snapshot's files, as in DIR/snapshots/<ID>
//   PREFIX snapshots/<ID>/manifest   uploaded last: a snapshot without one is
//                                    incomplete, never listed, and deleted by
//                                    the next backup's remove_partials()
//
// S3 has no rename, so the manifest is the commit: a snapshot is staged in a
// local directory (`staging`/.partial-<ID>), its other files are uploaded,
// then the manifest, then the staging directory goes.
//
// Thread safety: used by one thread at a time.
#pragma once

#include <filesystem>
#include <memory>

#include "store/backup.h"
#include "store/s3/s3_backend.h"

namespace blobsync::s3 {

// `backend` outlives the result. `staging`: a local directory for snapshots
// being written (created when needed; unused by restore).
std::unique_ptr<SnapshotStore> s3_snapshot_store(S3Backend& backend, std::filesystem::path staging);

}  // namespace blobsync::s3
