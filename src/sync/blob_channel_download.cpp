// BlobChannel (blob_channel.h), the download side: REQUEST (stat, replicate
// on fetch, META, then CHUNKs read ahead from the store as CREDIT and the
// connection's write queue allow, then DONE) and HAVE -> HAVE_REPLY. The
// frame dispatch, request bookkeeping and the upload side are in
// blob_channel.cpp.
#include "sync/blob_channel.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/blob_id.h"
#include "core/chunking.h"
#include "core/sha256.h"
#include "protocol/flow_control.h"
#include "store/blob_store.h"

namespace blobsync::sync {

struct BlobChannel::Download {
  Digest hash;
  std::uint64_t size = 0;
  std::vector<Digest> chunk_hashes;
  protocol::ChunkSender sender;  // which chunk next, within the window
  bool reading = false;
  bool stalled = false;
};

// ---- download --------------------------------------------------------------

void BlobChannel::check_listed(std::vector<Digest> hashes, std::function<void(std::vector<bool>)> then) {
  if (conn_.peer || !conn_.listed) {
    // No room to ask (a peer, or a test without one): every blob, if it
    // reads any; none otherwise.
    std::vector<bool> all(hashes.size(), conn_.peer);
    return then(std::move(all));
  }
  conn_.listed(std::move(hashes), [self = shared_from_this(), then = std::move(then)](std::vector<bool> listed) mutable {
    self->conn_.post([then = std::move(then), listed = std::move(listed)]() mutable { then(std::move(listed)); });
  });
}

void BlobChannel::on_request(protocol::RequestMsg m) {
  if (!check_new_req(m.req)) return;
  pending_[m.req] = true;
  auto hash = m.hash;
  check_listed({hash}, [self = shared_from_this(), m = std::move(m)](std::vector<bool> listed) mutable {
    if (!self->pending_.contains(m.req)) return;  // cancelled or closed meanwhile
    if (listed.empty() || !listed[0]) {
      // The same answer as for a blob this server lacks: a room member
      // learns nothing about what else the store holds.
      self->error(m.req, protocol::BlobErrorCode::kNotFound,
                  fmt::format("this room does not list {}", to_hash_ref(m.hash)));
      return self->end(m.req);
    }
    self->serve_request(std::move(m), static_cast<bool>(self->conn_.fetch_missing));
  });
}

void BlobChannel::serve_request(protocol::RequestMsg m, bool may_fetch) {
  deps_.run_blocking([self = shared_from_this(), m = std::move(m), may_fetch]() mutable {
    auto record = self->deps_.store.stat(m.hash);
    self->conn_.post([self, m = std::move(m), record = std::move(record), may_fetch]() mutable {
      std::uint64_t id = m.req;
      if (!self->pending_.contains(id)) return;  // cancelled or closed meanwhile
      // Quarantined bytes are never served: as if absent (a fetch heals it).
      bool bad = record && !record->quarantine.empty();
      // Nor a temporary blob (an XRPC upload no record references yet) or
      // one being deleted: absent, and not fetched again.
      if (record && record->state != BlobState::kPermanent) {
        self->pending_.erase(id);
        self->error(id, protocol::BlobErrorCode::kNotFound, fmt::format("this server does not hold {}", to_hash_ref(m.hash)));
        return self->end(id);
      }
      if ((bad || (!record && record.error().code == Errc::kNotFound)) && may_fetch) {
        // Replicate on fetch: get it from another holder, then serve it.
        auto hash = m.hash;
        self->conn_.fetch_missing(hash, [self, m = std::move(m)](Result<> r) mutable {
          self->conn_.post([self, m = std::move(m), r = std::move(r)]() mutable {
            if (!self->pending_.contains(m.req)) return;
            if (r) return self->serve_request(std::move(m), false);
            self->pending_.erase(m.req);
            self->error(m.req, protocol::BlobErrorCode::kNotFound,
                        fmt::format("this server does not hold {} and cannot fetch it: {}", to_hash_ref(m.hash),
                                    r.error().message));
            self->end(m.req);
          });
        });
        return;
      }
      self->pending_.erase(id);
      if (bad) return self->error(id, protocol::BlobErrorCode::kNotFound, fmt::format("{} is quarantined here", to_hash_ref(m.hash)));
      if (!record) {
        if (record.error().code == Errc::kNotFound)
          return self->error(id, protocol::BlobErrorCode::kNotFound,
                             fmt::format("this server does not hold {}", to_hash_ref(m.hash)));
        return self->error(id, protocol::BlobErrorCode::kInternal, record.error().message);
      }
      auto dl = std::make_shared<Download>();
      dl->hash = m.hash;
      dl->size = record->size;
      dl->chunk_hashes = std::move(record->chunk_hashes);
      std::uint64_t count = chunk_count(dl->size);
      if (dl->chunk_hashes.size() != count)
        return self->error(id, protocol::BlobErrorCode::kInternal, "stored blob has no chunk hashes");
      auto ranges = m.wanted;
      if (ranges.empty() && count > 0) ranges.push_back({0, count});
      auto total = protocol::check_ranges(ranges, count);
      if (!total) return self->error(id, protocol::BlobErrorCode::kBadRequest, total.error().message);
      if (*total * 32 + 1024 + record->mime_type.size() > protocol::kMaxBlobFrame)
        return self->error(id, protocol::BlobErrorCode::kTooLarge,
                           fmt::format("ask for at most {} chunks per REQUEST", (protocol::kMaxBlobFrame - 2048) / 32));
      protocol::MetaMsg meta{id, dl->size, record->mime_type, count, {}};
      meta.chunk_hashes.reserve(*total);
      for (const auto& r : ranges)
        for (std::uint64_t i = r.first; i < r.first + r.count; ++i) meta.chunk_hashes.push_back(dl->chunk_hashes[i]);
      self->send(meta);
      dl->sender = protocol::ChunkSender(std::move(ranges), protocol::negotiate_window(m.window, self->deps_.config.window));
      if (*total == 0) {
        self->send(protocol::DoneMsg{id, dl->hash});
        return self->end(id);
      }
      self->downloads_[id] = dl;
      self->pump(id);
    });
  });
}

// Reads ahead: up to kReadAhead consecutive chunks (as credit allows) in one
// blocking task through one reader, so the disk and the socket overlap and a
// transfer pays one task hop per batch, not per 256 KiB chunk.
void BlobChannel::pump(std::uint64_t req) {
  constexpr std::uint64_t kReadAhead = 8;
  auto it = downloads_.find(req);
  if (it == downloads_.end()) return;
  auto dl = it->second;
  if (dl->reading || dl->sender.sendable() == 0) return;
  if (conn_.queued_bytes() >= kQueueHighWater) {
    dl->stalled = true;
    return;
  }
  std::uint64_t first = dl->sender.next();
  std::uint64_t count = std::min(kReadAhead, dl->sender.sendable_run());
  dl->reading = true;
  deps_.run_blocking([self = shared_from_this(), dl, req, first, count] {
    std::vector<std::vector<std::uint8_t>> frames;
    frames.reserve(count);
    Result<> r;
    std::uint64_t end = std::min(chunk_offset(first + count), dl->size);
    auto reader = self->deps_.store.open(dl->hash, chunk_offset(first), end - chunk_offset(first));
    if (!reader) r = std::unexpected(reader.error());
    for (std::uint64_t index = first; r && index < first + count; ++index) {
      std::uint64_t len = chunk_length(index, dl->size);
      auto header = protocol::encode_chunk_header(req, index, len);
      std::vector<std::uint8_t> frame(header.size() + len);
      std::copy(header.begin(), header.end(), frame.begin());
      std::size_t got = 0;
      while (got < len) {
        auto n = (*reader)->read({reinterpret_cast<std::byte*>(frame.data() + header.size() + got), len - got});
        if (!n) {
          r = std::unexpected(n.error());
          break;
        }
        if (*n == 0) {
          r = fail(Errc::kIOError, "stored blob is shorter than its record");
          break;
        }
        got += *n;
      }
      if (r && !self->conn_.peer && Sha256::of(frame.data() + header.size(), len) != dl->chunk_hashes[index]) {
        r = fail(Errc::kCorruption, "stored chunk {} does not match its hash", index);
        // The chunk is refused either way (r); a failed quarantine only means
        // the next request finds the mismatch again.
        if (auto q = self->deps_.store.quarantine(dl->hash, fmt::format("serving: chunk {} hash mismatch", index)); !q)
          spdlog::error("sync: cannot quarantine {}: {}", to_hash_ref(dl->hash), q.error().message);
      }
      if (r) frames.push_back(std::move(frame));
      else spdlog::error("sync: serving {} chunk {}: {}", to_hash_ref(dl->hash), index, r.error().message);
    }
    self->conn_.post([self, dl, req, r, frames = std::move(frames)]() mutable {
      dl->reading = false;
      auto found = self->downloads_.find(req);
      if (found == self->downloads_.end() || found->second != dl) return;
      // Chunks read before a failure still go out, then the error.
      for (auto& frame : frames) {
        self->conn_.send(share_bytes(std::move(frame)));
        dl->sender.mark_sent();
        if (dl->sender.finished()) {
          self->send(protocol::DoneMsg{req, dl->hash});
          return self->end(req);
        }
      }
      if (!r) {
        self->error(req, r.error().code == Errc::kNotFound ? protocol::BlobErrorCode::kNotFound : protocol::BlobErrorCode::kInternal,
                    r.error().message);
        return self->end(req);
      }
      self->pump(req);
    });
  });
}

void BlobChannel::on_credit(const protocol::CreditMsg& m) {
  if (auto it = downloads_.find(m.req); it != downloads_.end()) {
    it->second->sender.on_credit(m.chunks);
    pump(m.req);
    return;
  }
  if (uploads_.contains(m.req))
    return error(m.req, protocol::BlobErrorCode::kBadRequest, "CREDIT for an upload: the server is the receiver");
  if (!recently_ended(m.req) && !pending_.contains(m.req))
    error(m.req, protocol::BlobErrorCode::kBadRequest, "CREDIT for no transfer in progress");
}

void BlobChannel::on_drained() {
  std::vector<std::uint64_t> stalled;
  for (auto& [req, dl] : downloads_)
    if (dl->stalled) {
      dl->stalled = false;
      stalled.push_back(req);
    }
  for (auto req : stalled) pump(req);
}

// ---- have ------------------------------------------------------------------

void BlobChannel::on_have(protocol::HaveMsg m) {
  std::uint64_t req = m.req;
  if (!check_new_req(req)) return;
  if (m.hashes.size() > protocol::kMaxHaveHashes) {
    error(req, protocol::BlobErrorCode::kBadRequest,
          fmt::format("HAVE asks about {} blobs; at most {} per message", m.hashes.size(), protocol::kMaxHaveHashes));
    return end(req);
  }
  pending_[req] = true;
  auto hashes = m.hashes;
  check_listed(std::move(hashes), [self = shared_from_this(), m = std::move(m)](std::vector<bool> listed) mutable {
    if (!self->pending_.contains(m.req)) return;
    self->answer_have(std::move(m), std::move(listed));
  });
}

// Held = could be read here: listed (or a peer asking), permanent, not quarantined.
void BlobChannel::answer_have(protocol::HaveMsg m, std::vector<bool> listed) {
  deps_.run_blocking([self = shared_from_this(), m = std::move(m), listed = std::move(listed)] {
    protocol::HaveReplyMsg reply{m.req, {}};
    reply.have.reserve(m.hashes.size());
    for (std::size_t i = 0; i < m.hashes.size(); ++i) {
      bool have = false;
      if (i < listed.size() && listed[i]) {
        auto r = self->deps_.store.stat(m.hashes[i]);
        have = r && r->state == BlobState::kPermanent && r->quarantine.empty();
      }
      reply.have.push_back(have);
    }
    self->conn_.post([self, reply = std::move(reply)] {
      if (!self->pending_.erase(reply.req)) return;
      self->send(reply);
      self->end(reply.req);
    });
  });
}

}  // namespace blobsync::sync
