// Flow control of one blob-channel transfer (docs/protocol.md, "Credit"):
// the sans-I/O rules both ends of every transfer share, whoever they are.
//
//   ChunkSender    the end that sends CHUNKs: a server answering REQUEST,
//                  a client (or another server) uploading after WANT. Walks
//                  the wanted ranges in order; never more than `window`
//                  chunks sent and not yet credited.
//   ChunkReceiver  the end that receives them: a server taking an UPLOAD,
//                  a client downloading. Counts the chunks it holds (received,
//                  credit not yet returned) and refuses a sender that
//                  overruns the window.
//   check_chunk    a CHUNK's index and length against its blob.
//
// Neither knows about sockets, disks or threads, so the server's BlobChannel
// and the client's UploadSession/DownloadSession apply the same rules and
// they are tested without either (tests/protocol/flow_control_test.cpp).
//
// Thread safety: values; one thread at a time per object.
#pragma once

#include <cstdint>
#include <vector>

#include "core/error.h"
#include "protocol/blob_messages.h"

namespace blobsync::protocol {

// The window a holder uses: what the other end asked for, capped at its own
// and at kMaxWindow, at least 1.
std::uint32_t negotiate_window(std::uint32_t requested, std::uint32_t local);

// kInvalidArgument unless `chunk.index` is one of the blob's chunks and
// `chunk.data` is exactly that chunk's length.
Result<> check_chunk(const ChunkMsg& chunk, std::uint64_t blob_size);

// Request ids a client chooses are odd (docs/protocol.md, "Requests").
constexpr bool is_client_request_id(std::uint64_t req) { return req % 2 == 1; }

class ChunkSender {
 public:
  ChunkSender() = default;
  // REQUIRES: check_ranges(ranges, chunk count) succeeded; window >= 1.
  ChunkSender(std::vector<ChunkRange> ranges, std::uint32_t window);

  std::uint64_t total() const { return total_; }
  std::uint64_t sent() const { return sent_; }
  bool finished() const { return sent_ == total_; }
  // Chunks that may be sent now: what the window leaves, at most what is left.
  std::uint64_t sendable() const;
  // Of those, how many are consecutive from next() (one read covers them).
  std::uint64_t sendable_run() const;
  // The index of the next chunk to send. REQUIRES: !finished().
  std::uint64_t next() const { return ranges_[range_].first + offset_; }
  // The next chunk went out. REQUIRES: sendable() > 0.
  void mark_sent();
  // CREDIT from the receiver. Credit for more chunks than are outstanding is
  // ignored, so a receiver cannot make this end exceed its window.
  void on_credit(std::uint64_t chunks);

 private:
  std::vector<ChunkRange> ranges_;
  std::uint32_t window_ = 1;
  std::size_t range_ = 0;    // ranges_[range_] holds the next chunk
  std::uint64_t offset_ = 0;  // ... at this offset within it
  std::uint64_t total_ = 0, sent_ = 0, credited_ = 0;
};

class ChunkReceiver {
 public:
  explicit ChunkReceiver(std::uint32_t window = kDefaultWindow) : window_(window) {}

  std::uint32_t window() const { return window_; }
  // Chunks received whose credit has not gone back.
  std::uint32_t held() const { return held_; }
  // A new chunk arrived. kInvalidArgument when the sender already had
  // `window` chunks without credit (it broke the protocol).
  Result<> admit();
  // `chunks` no longer count against the window: their credit went back
  // (or the transfer ended). More than held() releases all.
  void release(std::uint32_t chunks);
  // Credit to return now when it goes back in batches of a quarter window
  // (fewer messages, the pipe stays full); 0: not yet.
  std::uint32_t batch_due() const;

 private:
  std::uint32_t window_;
  std::uint32_t held_ = 0;
};

}  // namespace blobsync::protocol
