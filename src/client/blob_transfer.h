// Blob-channel transfers as sans-I/O state machines: they turn incoming
// blob messages into outgoing frames and disk writes, and know nothing about
// sockets, so the CLI client, the C++ client library and server-to-server
// replication drive the same logic over their own transports.
//
//   DownloadSession: REQUEST -> META -> CHUNK... (CREDIT back) -> DONE,
//                    into a BlobSink (PartialBlob or StreamingDownload;
//                    verified, resumable).
//   UploadSession:   UPLOAD -> WANT -> CHUNK... (as CREDIT allows) -> DONE,
//                    reading chunks from the local BlobStore.
//
// Thread safety: one thread (strand) at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "store/metadata.h"
#include "protocol/blob_messages.h"
#include "protocol/flow_control.h"

namespace blobsync {
class BlobStore;
}

namespace blobsync::client {

class BlobSink;

using Frame = std::vector<std::uint8_t>;

enum class TransferStatus { kInProgress, kDone };

// Maps a holder's ERROR reply to an Error (NOT_FOUND -> kNotFound, ...).
Error error_from_reply(const protocol::ErrorMsg& reply);

class DownloadSession {
 public:
  // REQUIRES: `sink` outlives the session.
  DownloadSession(std::uint64_t req, BlobSink& sink, std::uint32_t window = protocol::kDefaultWindow);

  // The REQUEST frame: every chunk, or only the missing ones when resuming.
  Frame request_frame();

  // Handles one message addressed to this request; appends CREDIT frames to
  // `out`. Errors: the holder's ERROR, kCorruption (bad chunk or META: try
  // another holder), kInvalidArgument (protocol violation).
  Result<TransferStatus> on_message(const protocol::BlobMessage& msg, std::vector<Frame>& out);

  std::uint64_t req() const { return req_; }
  // Chunks received so far in this session.
  std::uint64_t chunks_received() const { return next_; }

 private:
  std::uint64_t req_;
  BlobSink& partial_;
  protocol::ChunkReceiver receiver_;
  std::vector<protocol::ChunkRange> wanted_;
  std::vector<std::uint64_t> order_;  // chunk indices in sending order, after META
  bool have_meta_ = false;
  std::uint64_t next_ = 0;  // position in order_
};

class UploadSession {
 public:
  // `record` must carry its chunk hashes (BlobStore::stat). REQUIRES: the
  // store outlives the session.
  UploadSession(std::uint64_t req, BlobStore& store, BlobRecord record, std::string filename);

  Frame upload_frame() const;

  // Handles one message addressed to this request; appends CHUNK frames to
  // `out` as the window allows. Errors: the holder's ERROR, store read
  // errors, kInvalidArgument (protocol violation).
  Result<TransferStatus> on_message(const protocol::BlobMessage& msg, std::vector<Frame>& out);

  std::uint64_t req() const { return req_; }
  std::uint64_t chunks_sent() const { return sender_.sent(); }
  std::uint64_t chunks_to_send() const { return sender_.total(); }

 private:
  Result<> send_more(std::vector<Frame>& out);

  std::uint64_t req_;
  BlobStore& store_;
  BlobRecord record_;
  std::string filename_;
  protocol::ChunkSender sender_;  // the chunks the holder wants, within its window
  bool have_want_ = false;
};

}  // namespace blobsync::client
