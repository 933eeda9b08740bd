// Client: the blocking C++ client library. Connects to a room on a blobsync
// server, keeps the room's Y.Doc in sync, and moves blobs:
//
//   auto c = Client::connect({.server = "ws://127.0.0.1:3913/sync", .room = "notes",
//                             .data_dir = "client-data"});
//   auto ref = (*c)->put_blob("photo.jpg");       // stored locally, then uploaded
//   auto rec = (*c)->get_blob(ref->hash);         // local, else any holder
//
// get_blob follows the Epicenter design: the local store first, else the
// holders listed in the room's _blobRegistry in shuffled order (the connected
// server last if it is not listed), each with an idle timeout, up to `rounds`
// rounds with exponential backoff. Every chunk is verified as it arrives and
// kept, so a broken transfer resumes with the next holder where it stopped;
// the blob hash is verified before the blob is visible in the local store.
//
// Thread safety: a Client may be used from several threads; its methods
// serialise internally. The document is only reachable through with_doc().
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "client/tls_context.h"
#include "core/blob_ref.h"
#include "core/error.h"
#include "crdt/fwd.h"
#include "store/fwd.h"
#include "store/metadata.h"

namespace blobsync::client {

struct ClientOptions {
  std::string server;  // ws://host:port/sync or wss://...
  std::string room;
  // Trust for wss:// servers and holders: the system's store, or ca_file;
  // insecure (tests only) verifies nothing.
  TlsOptions tls;
  std::string token;
  std::filesystem::path data_dir = "blobsync-client";  // local content store
  std::chrono::milliseconds timeout{30000};            // connect + initial sync; per-holder idle limit
  int rounds = 3;                                      // get_blob: rounds over all holders
  std::chrono::milliseconds backoff{1000};             // before round 2; doubles each round
  bool sync_doc = true;                                // false: blobs only, no document
  // get_blob tries these holders first, in this order (e.g. a nearby server),
  // then the rest of the registry's holders shuffled.
  std::vector<std::string> preferred_holders;
  // Told about every holder that failed during get_blob (the CLI prints it).
  std::function<void(const std::string& holder, const Error& error)> on_holder_error;
  // Told when get_blob resumes a download an earlier run left in
  // DATA/partial: the bytes already here and the blob's size.
  std::function<void(std::uint64_t have, std::uint64_t size)> on_resume;
};

using ProgressFn = std::function<void(std::uint64_t done, std::uint64_t total)>;

class Client {
 public:
  // Connects and waits until the document is synced (if sync_doc).
  // Errors: kInvalidArgument (bad URL, unreadable CA file), kIOError/kTimeout
  // (unreachable, or its certificate did not verify), kForbidden (token refused).
  static Result<std::unique_ptr<Client>> connect(const ClientOptions& options);
  ~Client();

  // Stores `file` in the local store, then uploads it to the connected server,
  // which verifies it and announces itself as a holder in the registry.
  Result<BlobRef> put_blob(const std::filesystem::path& file, const ProgressFn& progress = {});

  // The blob in the local store, fetched from a holder first if needed.
  Result<BlobRecord> get_blob(const Digest& hash, const ProgressFn& progress = {});

  // Runs f on the client's I/O thread with the document. REQUIRES: f does not
  // call back into this Client.
  void with_doc(const std::function<void(crdt::Doc&)>& f);
  std::string doc_json();
  // Waits until every document update made so far (with_doc) is written to
  // the server's connection, up to `timeout`. Call it before the Client goes
  // away: the destructor drops what is still queued. Errors: kTimeout,
  // kCancelled or kIOError (the connection ended first).
  Result<> flush();

  BlobStore& store();

  struct Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace blobsync::client
