// Replicator: fetches blobs this server lacks from the holders listed in a
// room's registry, verifies them, stores them and announces this server as a
// holder. Used for background replication (MeshConfig::replication = all)
// and for replicate-on-fetch (a client asked for a blob this server lacks).
//
//   - Single flight: one fetch per blob at a time, whichever rooms and
//     callers want it; later callers join the fetch in progress.
//   - Bounded: at most `max_fetches` blobs move at once; the rest queue
//     (client requests ahead of background work).
//   - Verified: chunks stream in order into a BlobStore ingest
//     (StreamingDownload) with `expected` = the blob hash and the holder's
//     chunk hashes as `expected_chunk_hashes`: the store's own hashing pass
//     is the chunk check (every byte hashed twice: whole blob and chunk), so
//     nothing unverified becomes visible. A broken transfer resumes at the
//     next holder where it stopped; a corrupt one fails at finish() and the
//     blob starts over with the next holder.
//   - Only holders the DialPolicy admits are dialed (peers with peer_token,
//     mesh_allow matches with no token); the rest of a job's list is dropped.
//   - Sizes come from the holder's META, never from the registry: a blob
//     over the job's max_bytes is not fetched (kTooLarge, counted; background
//     replication does not ask again for it).
//   - Holders are tried in random order (this server skipped), each through
//     one of a few pooled blob-only connections (fetches spread over them;
//     each connection runs on its own strand, so transfers on different
//     connections receive, hash and write in parallel and one transfer's
//     disk writes do not stall the others); connection failures go to
//     HolderHealth.
//   - Per-blob backoff: a blob that failed at every holder is not retried in
//     the background before its jittered, doubling delay has passed (client
//     requests ignore it: a holder may be back).
//
// Thread safety: every public method may be called from any thread; state
// lives on the replicator's strand. Callbacks run on that strand.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "client/tls_context.h"
#include "core/digest.h"
#include "core/error.h"
#include "sync/room_store.h"

namespace blobsync {
class BlobStore;
}

namespace blobsync::mesh {

class DialPolicy;
class HolderHealth;

struct ReplicatorDeps {
  boost::asio::any_io_executor ex;  // network I/O
  BlobStore& store;
  HolderHealth& health;
  std::filesystem::path partial_dir;
  std::string self_url;
  std::shared_ptr<const DialPolicy> policy;  // who may be dialed, with which token
  std::shared_ptr<client::TlsContext> tls;   // trust for wss:// holders
  unsigned max_fetches = 8;
  unsigned connections_per_holder = 4;
  std::chrono::milliseconds backoff_initial{1000}, backoff_max{300'000};
  std::chrono::milliseconds connect_timeout{10'000}, idle_timeout{30'000};
  // Runs blocking work (ingest, store lookups) off the I/O threads.
  std::function<void(std::function<void()>)> run_blocking;
  // Announces a freshly stored blob in `room` (Room::announce).
  std::function<void(const std::string& room, const sync::AnnouncedBlob& blob)> announce;
};

struct FetchJob {
  Digest hash;
  std::string room;                  // where the registry entry was seen
  std::vector<std::string> holders;  // from the entry (filtered by the DialPolicy)
  // Largest blob this job may fetch, checked against the holder's META
  // (0: no limit). The registry's size is a client's claim: never used.
  std::uint64_t max_bytes = 0;
};

class Replicator : public std::enable_shared_from_this<Replicator> {
 public:
  static std::shared_ptr<Replicator> create(ReplicatorDeps deps);
  ~Replicator();

  // Background replication: queued unless already queued or running, the
  // blob is backing off after failures, or a holder said it is too large.
  void want(FetchJob job);
  // A client is waiting: runs ahead of background work, ignores backoff,
  // joins a fetch in progress. done(ok) once the blob is stored.
  void fetch_now(FetchJob job, std::function<void(Result<>)> done);
  // Stops starting fetches, cancels running ones (waiters get kCancelled)
  // and closes pooled connections.
  void stop();

  struct Stats {
    std::size_t queued = 0, active = 0, backing_off = 0;
    std::uint64_t fetched = 0, failed = 0, bytes = 0;
    std::size_t too_large = 0;  // distinct blobs a holder said are over the background limit
  };
  struct HolderStats {
    std::size_t pending = 0;  // queued or running fetches listing this holder
    std::uint64_t fetched = 0, failed = 0;
  };
  Stats stats() const;
  std::map<std::string, HolderStats> holder_stats() const;

  struct Impl;

 private:
  explicit Replicator(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace blobsync::mesh
