#include "sync/room_core.h"

#include <fmt/format.h>

#include <algorithm>

#include "crdt/block.h"
#include "crdt/doc.h"
#include "crdt/state_vector.h"
#include "protocol/registry.h"
#include "protocol/y_protocol.h"

namespace blobsync::sync {

namespace {

using protocol::kMsgAuth;
using protocol::kMsgAwareness;
using protocol::kMsgQueryAwareness;
using protocol::kMsgSync;
using protocol::kSyncStep1;
using protocol::kSyncStep2;
using protocol::kSyncUpdate;

char kLocalTag = 0;   // distinct addresses tag transaction origins
char kRemoteTag = 0;

SharedBytes sync_message(std::uint64_t sub, crdt::ByteView payload) {
  crdt::Encoder e;
  e.write_var_uint(kMsgSync);
  e.write_var_uint(sub);
  e.write_var_bytes(payload);
  return share_bytes(e.take());
}

SharedBytes awareness_message(const std::vector<std::uint8_t>& update) {
  crdt::Encoder e;
  e.write_var_uint(kMsgAwareness);
  e.write_var_bytes(update);
  return share_bytes(e.take());
}

// A length-prefixed payload as a view into the message (no copy).
crdt::ByteView read_payload(crdt::Decoder& d) {
  std::uint64_t n = d.read_var_uint();
  if (!d.ok()) return {};
  if (n > d.remaining()) {
    d.fail(fmt::format("payload length {} exceeds the {} bytes left", n, d.remaining()));
    return {};
  }
  return d.read_view(static_cast<std::size_t>(n));
}

}  // namespace

void RoomCore::set_doc_bytes(std::uint64_t encoded_size) {
  doc_bytes_ = encoded_size - std::min<std::uint64_t>(encoded_size, doc_->pending_bytes());
}

RoomCore::RoomCore(bool gc, SyncConfig::DocLimits limits)
    : limits_(limits), doc_(std::make_unique<crdt::Doc>(crdt::random_client_id(), gc)) {
  doc_->set_pending_limits({static_cast<std::size_t>(limits.max_pending_structs),
                            static_cast<std::size_t>(limits.max_pending_bytes)});
  doc_->on_update([this](const crdt::Bytes& update, const crdt::Transaction& txn) {
    doc_bytes_ += update.size();
    if (!fx_) return;  // loading persisted state
    fx_->persist.push_back(update);
    fx_->out.push_back({kAllConnections, sync_message(kSyncUpdate, update), true});
    if (crdt::Branch* reg = doc_->root(protocol::kRegistryMap)) {
      if (auto it = txn.changed.find(reg); it != txn.changed.end()) {
        if (txn.origin != &kLocalTag) fx_->registry_changed_remotely = true;
        for (const std::string* key : it->second)
          if (key) fx_->registry_keys.push_back(*key);
      }
    }
  });
}

RoomCore::~RoomCore() = default;

const void* RoomCore::local_origin() { return &kLocalTag; }

std::vector<RoomCore::LoadFailure> RoomCore::load(crdt::ByteView snapshot, const std::vector<crdt::Bytes>& log) {
  std::vector<LoadFailure> failed;
  if (!snapshot.empty())
    if (auto r = doc_->apply_update(snapshot, &kRemoteTag); !r) failed.push_back({kSnapshot, r.error().to_string()});
  for (std::size_t i = 0; i < log.size(); ++i)
    if (auto r = doc_->apply_update(log[i], &kRemoteTag); !r) failed.push_back({i, r.error().to_string()});
  return failed;
}

namespace {
// Whether applying u could add structs to doc (a pure delete cannot).
bool adds_structs(const crdt::DecodedUpdate& u, crdt::Doc& doc) {
  for (const auto& c : u.clients)
    if (!c.blocks.empty() && c.blocks.back().end_clock() > doc.store().get_state(c.client)) return true;
  return false;
}
}  // namespace

SharedBytes RoomCore::keepalive_message() {
  static const SharedBytes msg = share_bytes({kMsgAwareness, 1, 0});
  return msg;
}

SharedBytes RoomCore::protocol_error_message(std::string_view text) {
  crdt::Encoder e;
  e.write_var_uint(kMsgAuth);
  e.write_var_uint(0);  // permission denied: the only y-protocols message with text
  std::string reason = "blobsync protocol error: ";
  // Keep it short and valid UTF-8 (the text may quote peer input).
  for (char c : text.substr(0, 400)) reason.push_back(static_cast<unsigned char>(c) < 0x80 ? c : '?');
  e.write_var_string(reason);
  return share_bytes(e.take());
}

void RoomCore::error(ConnId conn, std::string text, RoomEffects& fx) {
  fx.out.push_back({conn, protocol_error_message(text), false});
  fx.errors.push_back(std::move(text));
}

void RoomCore::join(ConnId conn, RoomEffects& fx) {
  conns_.try_emplace(conn, kFewBuckets);
  fx.out.push_back({conn, sync_message(kSyncStep1, doc_->encode_state_vector()), true});
  if (awareness_.has_states()) fx.out.push_back({conn, awareness_message(awareness_.encode_all()), false});
}

void RoomCore::leave(ConnId conn, RoomEffects& fx) {
  auto it = conns_.find(conn);
  if (it == conns_.end()) return;
  std::vector<std::uint64_t> clients(it->second.begin(), it->second.end());
  conns_.erase(it);
  if (conns_.empty()) conns_ = decltype(conns_)();  // an idle room keeps no bucket array (`= {}` would keep it)
  // Another connection may have taken over a client (a reconnect): keep those.
  std::erase_if(clients, [&](std::uint64_t c) {
    for (const auto& [other, set] : conns_)
      if (set.contains(c)) return true;
    return false;
  });
  auto change = awareness_.remove(clients, 0);
  broadcast_awareness(change, fx);
}

void RoomCore::broadcast_awareness(const protocol::AwarenessChange& change, RoomEffects& fx) {
  if (change.empty() || conns_.empty()) return;
  fx.out.push_back({kAllConnections, awareness_message(awareness_.encode_update(change.all())), false});
}

void RoomCore::expire_awareness(std::int64_t now_ms, RoomEffects& fx) {
  auto change = awareness_.expire(now_ms);
  for (auto& [conn, set] : conns_)
    for (auto c : change.removed) set.erase(c);
  broadcast_awareness(change, fx);
}

void RoomCore::local_change(const std::function<void(crdt::Doc&)>& fn, RoomEffects& fx) {
  fx_ = &fx;
  fn(*doc_);
  fx_ = nullptr;
}

void RoomCore::handle(ConnId conn, std::span<const std::uint8_t> msg, bool read_only, std::int64_t now_ms,
                      RoomEffects& fx, TokenQuota* quota) {
  crdt::Decoder d(msg);
  std::uint64_t type = d.read_var_uint();
  if (!d.ok()) return error(conn, fmt::format("unreadable message type: {}", d.error()), fx);
  switch (type) {
    case kMsgSync: {
      std::uint64_t sub = d.read_var_uint();
      crdt::ByteView payload = read_payload(d);
      if (!d.ok()) return error(conn, fmt::format("malformed sync message: {}", d.error()), fx);
      if (sub == kSyncStep1) {
        auto sv = crdt::decode_state_vector(payload);
        if (!sv) return error(conn, fmt::format("sync step 1: bad state vector: {}", sv.error().message), fx);
        fx.out.push_back({conn, sync_message(kSyncStep2, doc_->encode_state_as_update(*sv)), true});
        return;
      }
      if (sub != kSyncStep2 && sub != kSyncUpdate)
        return error(conn, fmt::format("unknown sync message type {}", sub), fx);
      if (read_only) return;  // y-protocols PROTOCOL.md: drop [0,1] and [0,2] of read-only users
      // Decode everything before touching the document, so a malformed
      // update changes (and persists) nothing.
      auto update = crdt::decode_update(payload);
      if (!update)
        return error(conn, fmt::format("sync {}: malformed update: {}", sub == kSyncStep2 ? "step 2" : "update",
                                       update.error().message),
                     fx);
      // Deletes are still welcome in a full document: they are how it shrinks.
      if (limits_.max_doc_bytes && doc_bytes_ + payload.size() > limits_.max_doc_bytes && adds_structs(*update, *doc_))
        return error(conn,
                     fmt::format("update refused: the room's document holds about {} bytes; {} more would pass its "
                                 "limit of {} bytes (sync_max_doc_bytes)",
                                 doc_bytes_, payload.size(), limits_.max_doc_bytes),
                     fx);
      if (quota)
        if (auto refused = quota->try_add(payload.size()))
          return error(conn, fmt::format("update refused: {}", *refused), fx);
      fx_ = &fx;
      auto applied = doc_->apply_decoded(std::move(*update), &kRemoteTag);
      fx_ = nullptr;
      if (!applied) {
        // Charged for what applied: a pending-limit refusal keeps what integrated.
        if (quota && applied.error().code != Errc::kTooLarge) quota->refund(payload.size());
        // kTooLarge is only the pending limits: name the keys an operator would raise.
        error(conn,
              fmt::format("update rejected: {}{}", applied.error().message,
                          applied.error().code == Errc::kTooLarge ? " (sync_max_pending_structs, sync_max_pending_bytes)"
                                                                  : ""),
              fx);
      }
      return;
    }
    case kMsgAwareness: {
      crdt::ByteView payload = read_payload(d);
      if (!d.ok()) return error(conn, fmt::format("malformed awareness message: {}", d.error()), fx);
      auto change = awareness_.apply_update(payload, now_ms, limits_.max_awareness_bytes);
      if (!change) return error(conn, change.error().message, fx);
      auto& mine = conns_.try_emplace(conn, kFewBuckets).first->second;
      for (auto c : change->added) mine.insert(c);
      for (auto c : change->updated) mine.insert(c);
      for (auto c : change->removed)
        for (auto& [other, set] : conns_) set.erase(c);
      broadcast_awareness(*change, fx);
      return;
    }
    case kMsgAuth:
      return;  // the server ignores auth messages, as the reference does
    case kMsgQueryAwareness:
      fx.out.push_back({conn, awareness_message(awareness_.encode_all()), false});
      return;
    default:
      return error(conn, fmt::format("unknown message type {}", type), fx);
  }
}

}  // namespace blobsync::sync
