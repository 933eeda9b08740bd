#include "client/blob_transfer.h"

#include "client/blob_sink.h"
#include "core/chunking.h"
#include "store/blob_store.h"

namespace blobsync::client {

Error error_from_reply(const protocol::ErrorMsg& reply) {
  Errc code = Errc::kIOError;
  switch (reply.code) {
    case protocol::BlobErrorCode::kNotFound: code = Errc::kNotFound; break;
    case protocol::BlobErrorCode::kBadRequest: code = Errc::kInvalidArgument; break;
    case protocol::BlobErrorCode::kTooLarge: code = Errc::kTooLarge; break;
    case protocol::BlobErrorCode::kUnsupportedType: code = Errc::kUnsupported; break;
    case protocol::BlobErrorCode::kHashMismatch: code = Errc::kCorruption; break;
    case protocol::BlobErrorCode::kForbidden: code = Errc::kForbidden; break;
    case protocol::BlobErrorCode::kBusy: code = Errc::kTimeout; break;
    case protocol::BlobErrorCode::kInternal: code = Errc::kIOError; break;
    case protocol::BlobErrorCode::kCancelled: code = Errc::kCancelled; break;
    case protocol::BlobErrorCode::kQuotaExceeded: code = Errc::kForbidden; break;
  }
  return Error{code, fmt::format("holder replied {}: {}", protocol::blob_error_name(reply.code), reply.message)};
}

// ---------------------------------------------------------------- download

DownloadSession::DownloadSession(std::uint64_t req, BlobSink& partial, std::uint32_t window)
    : req_(req), partial_(partial), receiver_(window) {}

Frame DownloadSession::request_frame() {
  wanted_ = partial_.missing_ranges();
  return protocol::encode_blob_message(protocol::RequestMsg{req_, partial_.hash(), receiver_.window(), wanted_});
}

Result<TransferStatus> DownloadSession::on_message(const protocol::BlobMessage& msg, std::vector<Frame>& out) {
  if (auto* err = std::get_if<protocol::ErrorMsg>(&msg)) return std::unexpected(error_from_reply(*err));
  if (auto* meta = std::get_if<protocol::MetaMsg>(&msg)) {
    if (have_meta_) return fail(Errc::kInvalidArgument, "holder sent META twice");
    auto order = partial_.adopt_meta(*meta, wanted_);
    if (!order) return std::unexpected(order.error());
    order_ = std::move(*order);
    have_meta_ = true;
    return TransferStatus::kInProgress;
  }
  if (auto* chunk = std::get_if<protocol::ChunkMsg>(&msg)) {
    if (!have_meta_) return fail(Errc::kInvalidArgument, "holder sent a chunk before META");
    if (next_ >= order_.size()) return fail(Errc::kInvalidArgument, "holder sent more chunks than requested");
    if (chunk->index != order_[next_])
      return fail(Errc::kInvalidArgument, "holder sent chunk {} where {} was due", chunk->index, order_[next_]);
    if (auto ok = receiver_.admit(); !ok)
      return fail(Errc::kInvalidArgument, "holder overran the flow-control window: {}", ok.error().message);
    if (auto r = partial_.write_chunk(chunk->index, chunk->data); !r) return std::unexpected(r.error());
    ++next_;
    if (auto due = receiver_.batch_due(); due > 0 && next_ < order_.size()) {
      out.push_back(protocol::encode_blob_message(protocol::CreditMsg{req_, due}));
      receiver_.release(due);
    }
    return TransferStatus::kInProgress;
  }
  if (std::get_if<protocol::DoneMsg>(&msg)) {
    if (!have_meta_ || next_ != order_.size())
      return fail(Errc::kInvalidArgument, "holder said DONE after {} of {} chunks", next_, order_.size());
    if (auto r = partial_.checkpoint(); !r) return std::unexpected(r.error());
    return TransferStatus::kDone;
  }
  return fail(Errc::kInvalidArgument, "unexpected message in a download");
}

// ------------------------------------------------------------------ upload

UploadSession::UploadSession(std::uint64_t req, BlobStore& store, BlobRecord record, std::string filename)
    : req_(req), store_(store), record_(std::move(record)), filename_(std::move(filename)) {}

Frame UploadSession::upload_frame() const {
  return protocol::encode_blob_message(
      protocol::UploadMsg{req_, record_.hash, record_.size, record_.mime_type, filename_, record_.chunk_hashes});
}

Result<> UploadSession::send_more(std::vector<Frame>& out) {
  while (sender_.sendable() > 0) {
    std::uint64_t index = sender_.next();
    std::uint64_t len = chunk_length(index, record_.size);
    auto reader = store_.open(record_.hash, chunk_offset(index), len);
    if (!reader) return std::unexpected(reader.error());
    Frame frame = protocol::encode_chunk_header(req_, index, len);
    std::size_t header = frame.size();
    frame.resize(header + len);
    std::size_t got = 0;
    while (got < len) {
      auto n = (*reader)->read({reinterpret_cast<std::byte*>(frame.data() + header + got), len - got});
      if (!n) return std::unexpected(n.error());
      if (*n == 0) return fail(Errc::kCorruption, "stored blob is shorter than its metadata says");
      got += *n;
    }
    out.push_back(std::move(frame));
    sender_.mark_sent();
  }
  return {};
}

Result<TransferStatus> UploadSession::on_message(const protocol::BlobMessage& msg, std::vector<Frame>& out) {
  if (auto* err = std::get_if<protocol::ErrorMsg>(&msg)) return std::unexpected(error_from_reply(*err));
  if (auto* want = std::get_if<protocol::WantMsg>(&msg)) {
    if (have_want_) return fail(Errc::kInvalidArgument, "holder sent WANT twice");
    auto covered = protocol::check_ranges(want->missing, record_.chunk_count);
    if (!covered) return std::unexpected(covered.error());
    sender_ = protocol::ChunkSender(want->missing, protocol::negotiate_window(want->window, protocol::kMaxWindow));
    have_want_ = true;
    if (auto r = send_more(out); !r) return std::unexpected(r.error());
    return TransferStatus::kInProgress;
  }
  if (auto* credit = std::get_if<protocol::CreditMsg>(&msg)) {
    if (!have_want_) return fail(Errc::kInvalidArgument, "holder sent CREDIT before WANT");
    sender_.on_credit(credit->chunks);
    if (auto r = send_more(out); !r) return std::unexpected(r.error());
    return TransferStatus::kInProgress;
  }
  if (auto* done = std::get_if<protocol::DoneMsg>(&msg)) {
    if (done->hash != record_.hash) return fail(Errc::kInvalidArgument, "holder confirmed a different blob");
    if (have_want_ && !sender_.finished())
      return fail(Errc::kInvalidArgument, "holder said DONE before receiving every chunk");
    return TransferStatus::kDone;
  }
  return fail(Errc::kInvalidArgument, "unexpected message in an upload");
}

}  // namespace blobsync::client
