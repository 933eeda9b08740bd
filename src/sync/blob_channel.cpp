// BlobChannel (blob_channel.h): frame dispatch, request ids and their end,
// and the upload side (UPLOAD -> WANT, CHUNKs staged and credited, ingest,
// announce, DONE). The download side (REQUEST, CREDIT, HAVE) is in
// blob_channel_download.cpp.
#include "sync/blob_channel.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "core/blob_id.h"
#include "core/chunking.h"
#include "protocol/flow_control.h"
#include "store/mime_policy.h"
#include "store/blob_store.h"
#include "store/mime_sniffer.h"
#include "sync/token_quota.h"
#include "sync/upload_staging.h"

namespace blobsync::sync {

namespace {

constexpr std::size_t kEndedMemory = 256;
constexpr std::size_t kIngestPiece = 1u << 20;

std::span<const std::byte> as_bytes(std::span<const std::uint8_t> s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// The store's MIME policy (store/mime_policy.h), as HTTP uploads apply it, to
// a declared type and the sniffed one ("" when not recognised). Any refusal
// is UNSUPPORTED_TYPE on the wire.
Result<std::string> check_mime(const MimePolicy& policy, const std::string& declared, std::string_view sniffed) {
  auto d = policy.decide(normalize_mime(declared), sniffed);
  if (!d) return fail(Errc::kUnsupported, "{}", d.error().message);
  return *d;
}

}  // namespace

struct BlobChannel::Upload {
  protocol::UploadMsg msg;
  std::shared_ptr<StagedUpload> staged;
  protocol::ChunkReceiver receiver;  // chunks on their way to disk hold the window
  std::set<std::uint64_t> inflight_idx;
  std::uint64_t remaining = 0;  // chunks not yet on disk
  bool finalizing = false;
  bool dead = false;  // ended while work was in flight
  bool mime_checked = false;
  std::chrono::steady_clock::time_point last_chunk = std::chrono::steady_clock::now();
  std::function<void()> cancel_idle;  // stops the idle timer
  QuotaLedger::Reservation quota;     // the room token's, for the declared size
};

BlobChannel::BlobChannel(BlobChannelDeps& deps, ConnectionDeps conn) : deps_(deps), conn_(std::move(conn)) {}

BlobChannel::~BlobChannel() = default;

void BlobChannel::send(const protocol::BlobMessage& m) {
  if (!closed_) conn_.send(share_bytes(protocol::encode_blob_message(m)));
}

void BlobChannel::error(std::uint64_t req, protocol::BlobErrorCode code, std::string message) {
  spdlog::debug("sync: blob req {}: {} {}", req, protocol::blob_error_name(code), message);
  send(protocol::ErrorMsg{req, code, std::move(message)});
}

bool BlobChannel::recently_ended(std::uint64_t req) const {
  return std::find(ended_.begin(), ended_.end(), req) != ended_.end();
}

bool BlobChannel::check_new_req(std::uint64_t req) {
  if (req == 0 || !protocol::is_client_request_id(req)) {
    error(req, protocol::BlobErrorCode::kBadRequest, "request ids chosen by a client must be odd");
    return false;
  }
  if (uploads_.contains(req) || downloads_.contains(req) || pending_.contains(req)) {
    error(req, protocol::BlobErrorCode::kBadRequest, "request id already in use");
    return false;
  }
  if (uploads_.size() + downloads_.size() + pending_.size() >= deps_.config.max_transfers_per_connection) {
    error(req, protocol::BlobErrorCode::kBusy, "too many transfers on this connection");
    return false;
  }
  return true;
}

void BlobChannel::end(std::uint64_t req) {
  ended_.push_back(req);
  if (ended_.size() > kEndedMemory) ended_.pop_front();
  pending_.erase(req);
  downloads_.erase(req);
  auto it = uploads_.find(req);
  if (it == uploads_.end()) return;
  auto up = it->second;
  uploads_.erase(it);
  up->dead = true;
  if (up->cancel_idle) std::exchange(up->cancel_idle, nullptr)();
  if (up->receiver.held() == 0 && !up->finalizing) deps_.staging.unclaim(up->msg.hash);
}

void BlobChannel::close() {
  std::vector<std::shared_ptr<Upload>> ups;
  for (auto& [req, up] : uploads_) ups.push_back(up);
  for (auto& up : ups) {
    end(up->msg.req);
    drop_if_empty(up);
  }
  downloads_.clear();
  pending_.clear();
  closed_ = true;
}

void BlobChannel::on_frame(std::vector<std::uint8_t> frame) {
  if (closed_) return;
  std::uint64_t req = 0;
  auto msg = protocol::decode_blob_message(frame, &req);
  if (!msg) {
    if (frame.size() > 0 && frame[0] == static_cast<std::uint8_t>(protocol::BlobMsg::kError)) return;  // never answer an ERROR
    error(req, protocol::BlobErrorCode::kBadRequest, msg.error().message);
    if (req && (uploads_.contains(req) || downloads_.contains(req))) end(req);
    return;
  }
  std::visit(
      [&](auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, protocol::UploadMsg>) {
          on_upload(std::move(m));
        } else if constexpr (std::is_same_v<T, protocol::RequestMsg>) {
          on_request(std::move(m));
        } else if constexpr (std::is_same_v<T, protocol::ChunkMsg>) {
          protocol::ChunkMsg c = m;
          on_chunk(std::move(frame), c);  // c.data points into the moved buffer, which stays put
        } else if constexpr (std::is_same_v<T, protocol::HaveMsg>) {
          on_have(std::move(m));
        } else if constexpr (std::is_same_v<T, protocol::CreditMsg>) {
          on_credit(m);
        } else if constexpr (std::is_same_v<T, protocol::CancelMsg> || std::is_same_v<T, protocol::ErrorMsg>) {
          if (uploads_.contains(m.req) || downloads_.contains(m.req) || pending_.contains(m.req)) end(m.req);
        } else {
          // META, WANT, DONE, HAVE_REPLY answer requests; this server sent none.
          if (!recently_ended(m.req))
            error(m.req, protocol::BlobErrorCode::kBadRequest, "unexpected reply: this server made no request with this id");
        }
      },
      *msg);
}

// ---- upload ----------------------------------------------------------------

void BlobChannel::on_upload(protocol::UploadMsg m) {
  std::uint64_t req = m.req;
  if (!check_new_req(req)) return;
  if (conn_.read_only) return error(req, protocol::BlobErrorCode::kForbidden, "this connection's token is read-only");
  if (m.size > deps_.config.max_blob_bytes)
    return error(req, protocol::BlobErrorCode::kTooLarge,
                 fmt::format("blob of {} bytes is over this server's limit of {} bytes", m.size,
                             deps_.config.max_blob_bytes));
  if (m.chunk_hashes.size() != chunk_count(m.size))
    return error(req, protocol::BlobErrorCode::kBadRequest, "chunk hash count does not match the size");
  if (uploads_.size() >= deps_.config.max_uploads_per_connection)
    return error(req, protocol::BlobErrorCode::kBusy, "too many uploads in progress on this connection");
  if (deps_.staging.claimed() >= deps_.config.max_uploads)
    return error(req, protocol::BlobErrorCode::kBusy, "too many uploads in progress on this server");
  switch (deps_.staging.claim(m.hash, m.size)) {
    case UploadStaging::Claim::kOk:
      break;
    case UploadStaging::Claim::kBusy:
      return error(req, protocol::BlobErrorCode::kBusy, "another upload of this blob is in progress");
    case UploadStaging::Claim::kFull:
      return error(req, protocol::BlobErrorCode::kBusy, "upload staging is full on this server (max_staging_bytes)");
  }
  auto up = std::make_shared<Upload>();
  up->msg = std::move(m);
  up->receiver = protocol::ChunkReceiver(protocol::negotiate_window(protocol::kMaxWindow, deps_.config.window));
  uploads_[req] = up;
  watch_idle(req, up);
  deps_.run_blocking([self = shared_from_this(), up, req] {
    auto& deps = self->deps_;
    deps.staging.maybe_sweep();
    auto held = deps.store.contains(up->msg.hash);
    Result<std::unique_ptr<StagedUpload>> staged = nullptr;
    bool have = held && *held;
    // A blob already here still takes the name if it has none (the first name
    // seen wins; a failure only loses the name, not the upload).
    if (have && !up->msg.filename.empty()) (void)deps.store.metadata().set_filename(up->msg.hash, up->msg.filename);
    // The room token's quota, once it is known whether the blob is new here
    // (one the server holds costs nothing) and before anything is staged.
    auto quota = std::make_shared<QuotaLedger::Reservation>();
    std::string refused;
    if (!have && self->conn_.quota) {
      auto r = self->conn_.quota->reserve(up->msg.size);
      if (r) *quota = std::move(*r);
      else refused = std::move(r.error());
    }
    if (!have && refused.empty()) staged = deps.staging.open(up->msg.hash, up->msg.size, up->msg.chunk_hashes);
    std::shared_ptr<StagedUpload> s;
    Error err;
    bool ok = have || staged.has_value();
    if (!ok) err = staged.error();
    else if (!have) s = std::move(*staged);
    self->conn_.post([self, up, req, have, ok, s, err, quota, refused = std::move(refused)] {
      if (up->dead) {
        if (up->receiver.held() == 0 && !up->finalizing) self->deps_.staging.unclaim(up->msg.hash);
        return;
      }
      if (!refused.empty()) {
        self->error(req, protocol::BlobErrorCode::kQuotaExceeded, refused);
        return self->end(req);
      }
      up->quota = std::move(*quota);
      if (!ok) {
        self->error(req, protocol::BlobErrorCode::kInternal, err.message);
        return self->end(req);
      }
      if (have) {
        self->send(protocol::WantMsg{req, up->receiver.window(), {}});
        up->finalizing = true;  // nothing to receive
        self->conn_.announce(AnnouncedBlob{up->msg.hash, up->msg.size, chunk_count(up->msg.size)},
                              [self, up, req](Result<>) {
                                self->conn_.post([self, up, req] {
                                  up->finalizing = false;
                                  if (!up->dead) self->send(protocol::DoneMsg{req, up->msg.hash});
                                  self->end(req);
                                  if (up->dead && up->receiver.held() == 0) self->deps_.staging.unclaim(up->msg.hash);
                                });
                              });
        return;
      }
      up->staged = s;
      auto missing = s->missing();
      up->remaining = 0;
      for (const auto& r : missing) up->remaining += r.count;
      up->mime_checked = s->has(0);  // checked when it was received
      self->send(protocol::WantMsg{req, up->receiver.window(), std::move(missing)});
      if (up->remaining == 0) self->finalize(req);
    });
  });
}

void BlobChannel::on_chunk(std::vector<std::uint8_t> frame, const protocol::ChunkMsg& m) {
  auto it = uploads_.find(m.req);
  if (it == uploads_.end()) {
    if (!recently_ended(m.req)) error(m.req, protocol::BlobErrorCode::kBadRequest, "CHUNK for no upload in progress");
    return;
  }
  auto up = it->second;
  up->last_chunk = std::chrono::steady_clock::now();
  if (!up->staged) {
    error(m.req, protocol::BlobErrorCode::kBadRequest, "CHUNK before WANT");
    return end(m.req);
  }
  if (auto ok = protocol::check_chunk(m, up->msg.size); !ok) {
    error(m.req, protocol::BlobErrorCode::kBadRequest, ok.error().message);
    return end(m.req);
  }
  if (up->finalizing || up->staged->has(m.index) || up->inflight_idx.contains(m.index)) {
    send(protocol::CreditMsg{m.req, 1});  // a duplicate: nothing to do, give the credit back
    return;
  }
  if (auto ok = up->receiver.admit(); !ok) {
    error(m.req, protocol::BlobErrorCode::kBadRequest, ok.error().message);
    return end(m.req);
  }
  up->inflight_idx.insert(m.index);
  std::size_t bytes = frame.size();
  buffered_ += bytes;
  bool sniff = m.index == 0;
  auto data = m.data;
  std::uint64_t req = m.req, index = m.index;
  deps_.run_blocking([self = shared_from_this(), up, req, index, bytes, sniff, data, frame = std::move(frame)] {
    auto r = up->staged->write_chunk(index, data);
    Result<std::string> out = std::string();
    if (!r) out = std::unexpected(r.error());
    else if (sniff && may_be_specific(as_bytes(data))) {  // else libmagic could only guess
      auto s = sniff_mime(as_bytes(data));
      *out = s.specific ? s.mime : "";
    }
    self->conn_.post(
        [self, up, req, index, bytes, out = std::move(out)]() mutable {
          self->buffered_ -= bytes;
          up->receiver.release(1);  // its credit goes back below, or the upload ends
          up->inflight_idx.erase(index);
          if (up->dead) {
            if (up->receiver.held() == 0 && !up->finalizing) self->deps_.staging.unclaim(up->msg.hash);
            return;
          }
          self->chunk_written(req, index, bytes, std::move(out));
        });
  });
}

void BlobChannel::chunk_written(std::uint64_t req, std::uint64_t index, std::size_t, Result<std::string> sniffed) {
  auto it = uploads_.find(req);
  if (it == uploads_.end()) return;
  auto up = it->second;
  if (!sniffed) {
    if (sniffed.error().code == Errc::kCorruption) {
      deps_.staging.remove(up->msg.hash);
      error(req, protocol::BlobErrorCode::kHashMismatch,
            fmt::format("chunk {} does not match its declared hash; upload discarded, nothing stored", index));
    } else {
      error(req, protocol::BlobErrorCode::kInternal, sniffed.error().message);
    }
    return end(req);
  }
  if (index == 0 && !up->mime_checked) {
    up->mime_checked = true;
    if (auto d = check_mime(deps_.mime, up->msg.mime_type, *sniffed); !d) {
      deps_.staging.remove(up->msg.hash);
      error(req, protocol::BlobErrorCode::kUnsupportedType, d.error().message);
      return end(req);
    }
  }
  send(protocol::CreditMsg{req, 1});
  if (up->remaining > 0) --up->remaining;
  if (up->remaining == 0 && up->receiver.held() == 0) finalize(req);
}

void BlobChannel::watch_idle(std::uint64_t req, const std::shared_ptr<Upload>& up) {
  if (!deps_.run_after) return;
  auto timeout = deps_.config.upload_idle_timeout;
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(up->last_chunk + timeout -
                                                                    std::chrono::steady_clock::now());
  std::weak_ptr<BlobChannel> weak = weak_from_this();
  std::weak_ptr<Upload> weak_up = up;
  up->cancel_idle = deps_.run_after(std::max(wait, std::chrono::milliseconds(1)), [weak, weak_up, req] {
    auto self = weak.lock();
    if (!self) return;
    self->conn_.post([self, weak_up, req, timeout = self->deps_.config.upload_idle_timeout] {
      auto u = weak_up.lock();
      if (!u || u->dead || self->closed_) return;
      // Waiting for the disk or the store (chunks held, finalizing) is the
      // server's doing, not the client's idling.
      bool idle = std::chrono::steady_clock::now() - u->last_chunk >= timeout;
      if (!idle || u->finalizing || u->receiver.held() > 0) return self->watch_idle(req, u);
      self->error(req, protocol::BlobErrorCode::kCancelled,
                  fmt::format("no chunk for {} s (upload_idle_timeout): upload ended; send UPLOAD again to resume",
                              std::chrono::duration_cast<std::chrono::seconds>(timeout).count()));
      self->end(req);
      self->drop_if_empty(u);
    });
  });
}

void BlobChannel::drop_if_empty(const std::shared_ptr<Upload>& up) {
  // Staging that holds no chunk is nothing to resume, but still counts
  // against max_staging_bytes until swept a day later: delete it now,
  // under a claim of its own so no new upload of the blob races with it.
  if (!up->staged || up->finalizing || up->receiver.held() > 0 || up->staged->missing_count() != up->staged->chunk_count())
    return;
  deps_.run_blocking([&staging = deps_.staging, hash = up->msg.hash] {
    if (!staging.claim(hash)) return;
    staging.remove(hash);
    staging.unclaim(hash);
  });
}

void BlobChannel::finalize(std::uint64_t req) {
  auto up = uploads_.at(req);
  up->finalizing = true;
  enum class Outcome { kStored, kResend, kHashMismatch, kUnsupported, kTooLarge, kInternal };
  deps_.run_blocking([self = shared_from_this(), up, req] {
    auto& deps = self->deps_;
    Outcome outcome = Outcome::kStored;
    std::string message;
    std::vector<protocol::ChunkRange> missing;
    auto run = [&]() -> void {
      if (auto r = up->staged->sync(); !r) {
        outcome = Outcome::kInternal;
        message = r.error().message;
        return;
      }
      PutOptions options;
      options.expected = up->msg.hash;
      options.max_size = deps.config.max_blob_bytes;
      options.declared_mime = normalize_mime(up->msg.mime_type);
      options.filename = up->msg.filename;  // kept if the blob has no name yet
      // Held by the room from its row's first commit: the announcement that
      // follows makes an entry, but a sweep must not find the blob unheld in between.
      options.hold = self->conn_.hold;
      options.state = options.hold.empty() ? BlobState::kTemporary : BlobState::kPermanent;
      auto ingest = deps.store.begin_put(options);
      if (!ingest) {
        outcome = Outcome::kInternal;
        message = ingest.error().message;
        return;
      }
      std::vector<std::uint8_t> buf(kIngestPiece);
      std::uint64_t size = up->msg.size, offset = 0;
      bool checked = false;
      for (;;) {
        if (!checked && (offset >= kSniffBytes || offset == size)) {
          checked = true;
          if (auto d = check_mime(deps.mime, up->msg.mime_type, (*ingest)->sniffed_mime()); !d) {
            outcome = Outcome::kUnsupported;
            message = d.error().message;
            return;
          }
        }
        if (offset == size) break;
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kIngestPiece, size - offset));
        if (auto r = up->staged->read(offset, {buf.data(), n}); !r) {
          outcome = Outcome::kInternal;
          message = r.error().message;
          return;
        }
        if (auto r = (*ingest)->write(as_bytes({buf.data(), n})); !r) {
          outcome = r.error().code == Errc::kTooLarge ? Outcome::kTooLarge : Outcome::kInternal;
          message = r.error().message;
          return;
        }
        offset += n;
      }
      auto record = (*ingest)->finish();
      if (record) return;
      if (record.error().code != Errc::kCorruption) {
        outcome = Outcome::kInternal;
        message = record.error().message;
        return;
      }
      // The chunks matched their declared hashes when written. Either the
      // declared hashes lie, or the disk lost a write: re-check to tell.
      auto cleared = up->staged->reverify();
      if (cleared && *cleared > 0) {
        outcome = Outcome::kResend;
        missing = up->staged->missing();
        return;
      }
      outcome = Outcome::kHashMismatch;
      message = "the chunks do not add up to the blob's hash; nothing stored";
    };
    run();
    if (outcome == Outcome::kStored || outcome == Outcome::kHashMismatch || outcome == Outcome::kUnsupported ||
        outcome == Outcome::kTooLarge)
      deps.staging.remove(up->msg.hash);
    self->conn_.post([self, up, req, outcome, message = std::move(message), missing = std::move(missing)]() mutable {
      auto& env2 = self->deps_;
      if (outcome == Outcome::kStored) {
        spdlog::info("sync: stored blob {} ({} bytes) from the blob channel", to_hash_ref(up->msg.hash), up->msg.size);
        if (self->conn_.quota) self->conn_.quota->charge(up->quota);
        // Announce even if the connection went away meanwhile: the blob is stored.
        self->conn_.announce(AnnouncedBlob{up->msg.hash, up->msg.size, chunk_count(up->msg.size)},
                              [self, up, req](Result<> r) {
                                if (!r) spdlog::warn("sync: announcing {} failed: {}", to_hash_ref(up->msg.hash),
                                                     r.error().message);
                                self->conn_.post([self, up, req] {
                                  up->finalizing = false;
                                  if (!up->dead) {
                                    self->send(protocol::DoneMsg{req, up->msg.hash});
                                    self->end(req);
                                  } else if (up->receiver.held() == 0) {
                                    self->deps_.staging.unclaim(up->msg.hash);
                                  }
                                });
                              });
        return;
      }
      up->finalizing = false;
      if (up->dead) {
        if (up->receiver.held() == 0) env2.staging.unclaim(up->msg.hash);
        return;
      }
      switch (outcome) {
        case Outcome::kResend:
          up->remaining = 0;
          for (const auto& r : missing) up->remaining += r.count;
          self->send(protocol::WantMsg{req, up->receiver.window(), std::move(missing)});
          return;
        case Outcome::kHashMismatch:
          self->error(req, protocol::BlobErrorCode::kHashMismatch, message);
          break;
        case Outcome::kUnsupported:
          self->error(req, protocol::BlobErrorCode::kUnsupportedType, message);
          break;
        case Outcome::kTooLarge:
          self->error(req, protocol::BlobErrorCode::kTooLarge, message);
          break;
        default:
          self->error(req, protocol::BlobErrorCode::kInternal, message);
          break;
      }
      self->end(req);
    });
  });
}

}  // namespace blobsync::sync
