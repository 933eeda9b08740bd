// The files of a backup directory (store/backup.h): private directories, the
// secrets copied with mode 0600, and the snapshot's manifest.
//
// Manifest (text, one record a line; "end" last, so a cut file is refused):
//   blobsync-backup 1
//   id 20261207T041500Z
//   index meta.db            (or "postgresql": the blob index is not in meta.db)
//   secret jwt.secret        (one line per secret file in the snapshot)
//   blobs COUNT BYTES
//   blob <64 hex> <size>     (COUNT lines, in digest order)
//   end
//
// Thread safety: plain functions, safe from any thread on distinct paths.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "store/backend.h"

namespace blobsync {

class Env;

// The data directory's secrets that a snapshot carries.
inline constexpr const char* kSecretFiles[] = {"jwt.secret", "room_token.secret"};

// Creates `dir` (mode 0700) and its missing parents. An existing directory is fine.
Result<> make_private_dir(Env* env, const std::filesystem::path& dir);

// Removes every ".partial-*" entry of `snapshots`; returns how many.
Result<std::uint64_t> remove_partials(Env* env, const std::filesystem::path& snapshots);

// Copies a file into a new file `to` (mode `mode`, fsynced). Errors: kNotFound
// if `from` does not exist; kAlreadyExists if `to` does.
Result<> copy_file(Env* env, const std::filesystem::path& from, const std::filesystem::path& to, unsigned mode);

// Sets the mode of an existing file and makes its bytes durable.
Result<> fsync_file(Env* env, const std::filesystem::path& path, unsigned mode);

struct ManifestHeader {
  std::string id;
  bool index_in_meta_db = true;
  std::vector<std::string> secrets;
};

struct Manifest {
  ManifestHeader header;
  std::vector<BackendStat> blobs;
  std::uint64_t bytes = 0;
};

// Writes the manifest to a new file, fsynced.
Result<> write_manifest(Env* env, const std::filesystem::path& path, const ManifestHeader& header,
                        const std::vector<BackendStat>& blobs);

// Errors: kNotFound; kCorruption naming the line for anything malformed.
Result<Manifest> read_manifest(const std::filesystem::path& path);

}  // namespace blobsync
