#include "mesh/local_replica.h"

#include <boost/asio/post.hpp>

#include <chrono>

#include "crdt/doc.h"
#include "mesh/mesh_conn_id.h"
#include "mesh/yjs_frames.h"
#include "protocol/registry.h"
#include "sync/room.h"
#include "sync/conn_pool.h"

namespace blobsync::mesh {

namespace asio = boost::asio;

// A replica's work runs in a ConnPool::Scope: its document (the directory's, an entry per room ever
// made, for the server's life) goes to pool slabs, not between short-lived rooms' heap objects.

std::shared_ptr<LocalReplica> LocalReplica::create(asio::any_io_executor ex, std::shared_ptr<sync::Room> room,
                                                   Mode mode) {
  return std::shared_ptr<LocalReplica>(new LocalReplica(std::move(ex), std::move(room), mode));
}

LocalReplica::LocalReplica(asio::any_io_executor ex, std::shared_ptr<sync::Room> room, Mode mode)
    : strand_(asio::make_strand(std::move(ex))), room_(std::move(room)), id_(next_mesh_conn_id()), mode_(mode) {}

LocalReplica::~LocalReplica() = default;

void LocalReplica::start(OnChange on_change) {
  asio::post(strand_, [self = shared_from_this(), on_change = std::move(on_change)]() mutable {
    sync::ConnPool::Scope pooled;
    self->on_change_ = std::move(on_change);
    if (self->mode_ == Mode::kCopy) self->doc_ = std::make_unique<crdt::Doc>();
    LocalReplica* raw = self.get();
    if (self->doc_) self->doc_->on_update([raw](const crdt::Bytes& update, const crdt::Transaction& txn) {
      if (txn.origin == raw) {  // from the room
        if (crdt::Branch* reg = raw->doc_->root(protocol::kRegistryMap)) {
          if (auto it = txn.changed.find(reg); it != txn.changed.end())
            for (const std::string* key : it->second)
              if (key) raw->registry_keys_.push_back(*key);
        }
        return;
      }
      raw->to_room(sync_frame(protocol::kSyncUpdate, update));  // our own edit
    });
    std::weak_ptr<LocalReplica> weak = self;
    self->room_->join(self, [weak](bool ok) {
      auto s = weak.lock();
      if (!s) return;
      asio::post(s->strand_, [s, ok] {
        if (!ok) {
          s->closed_ = true;
          return;
        }
        s->joined_ = true;
        if (s->stopped_) {
          s->room_->leave(s->id_);
          return;
        }
        if (s->mode_ == Mode::kThrough) {  // nothing to fetch: the room's document is read in place
          s->synced_ = true;
          s->changed_through();
          return;
        }
        // Ask for everything: the room answers with SyncStep2.
        s->to_room(sync_frame(protocol::kSyncStep1, s->doc_->encode_state_vector()));
      });
    });
  });
}

void LocalReplica::stop() {
  stopping_ = true;
  asio::post(strand_, [self = shared_from_this()] {
    if (self->stopped_) return;
    self->stopped_ = true;
    self->on_change_ = nullptr;
    if (self->joined_) self->room_->leave(self->id_);
  });
}

void LocalReplica::read(std::function<void(crdt::Doc&)> fn) {
  if (mode_ == Mode::kThrough) {
    // fn always runs (callers count on it): on an empty document if the room has closed.
    return room_->edit([fn = std::move(fn)](crdt::Doc* doc) {
      if (doc) return fn(*doc);
      crdt::Doc empty;
      fn(empty);
    });
  }
  asio::post(strand_, [self = shared_from_this(), fn = std::move(fn)] {
    if (self->doc_) fn(*self->doc_);
  });
}

void LocalReplica::edit(std::function<void(crdt::Doc&)> fn) {
  if (mode_ == Mode::kThrough) {
    // Origin nullptr, as the room sees a kCopy replica's edits: not the room's own.
    return room_->edit([self = shared_from_this(), fn = std::move(fn)](crdt::Doc* doc) {
      if (doc && !self->stopping_ && !self->closed_) doc->transact([&](crdt::Transaction&) { fn(*doc); });
    });
  }
  asio::post(strand_, [self = shared_from_this(), fn = std::move(fn)] {
    sync::ConnPool::Scope pooled;
    if (!self->doc_ || self->stopped_ || self->closed_) return;
    self->doc_->transact([&](crdt::Transaction&) { fn(*self->doc_); });
  });
}

void LocalReplica::send(std::vector<sync::SharedBytes> messages) {
  asio::post(strand_, [self = shared_from_this(), messages = std::move(messages)] {
    sync::ConnPool::Scope pooled;
    if (self->stopped_) return;
    for (const auto& m : messages) self->handle(*m);
  });
}

void LocalReplica::close(std::uint16_t, std::string_view) { closed_ = true; }

std::int64_t LocalReplica::last_send_ms() const {
  // Always "just sent": an in-process connection needs no keep-alives.
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void LocalReplica::handle(const std::vector<std::uint8_t>& msg) {
  crdt::Decoder d(msg);
  if (d.read_var_uint() != 0 || !d.ok()) return;  // awareness and the rest: not ours to track
  std::uint64_t sub = d.read_var_uint();
  crdt::Bytes payload = d.read_var_bytes();
  if (!d.ok()) return;
  if (mode_ == Mode::kThrough) {
    if (sub == protocol::kSyncUpdate) changed_through();
    return;
  }
  if (sub == protocol::kSyncStep1) {
    if (auto update = doc_->encode_state_as_update_for(payload)) to_room(sync_frame(protocol::kSyncStep2, *update));
    return;
  }
  if (sub != protocol::kSyncStep2 && sub != protocol::kSyncUpdate) return;
  registry_keys_.clear();
  (void)doc_->apply_update(payload, this);  // the room only sends what it applied itself
  if (sub == protocol::kSyncStep2) synced_ = true;
  if (on_change_) on_change_(*doc_, registry_keys_);
}

void LocalReplica::changed_through() {
  if (!on_change_) return;
  room_->edit([self = shared_from_this(), cb = on_change_](crdt::Doc* doc) {
    if (doc && !self->stopping_) cb(*doc, {});
  });
}

void LocalReplica::to_room(std::vector<std::uint8_t> msg) {
  if (closed_) return;
  room_->message(id_, false, std::move(msg), [] {});
}

}  // namespace blobsync::mesh
