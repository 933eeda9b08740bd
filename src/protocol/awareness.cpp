#include "protocol/awareness.h"

#include <boost/json/parse.hpp>

#include "crdt/lib0.h"

namespace blobsync::protocol {

std::vector<std::uint64_t> AwarenessChange::all() const {
  std::vector<std::uint64_t> out = added;
  out.insert(out.end(), updated.begin(), updated.end());
  out.insert(out.end(), removed.begin(), removed.end());
  return out;
}

namespace {
struct Entry {
  std::uint64_t client, clock;
  std::string json;
  bool is_null;
};
}  // namespace

Result<AwarenessChange> Awareness::apply_update(std::span<const std::uint8_t> update, std::int64_t now_ms,
                                                std::uint64_t max_state_bytes) {
  crdt::Decoder d(update);
  std::uint64_t n = d.read_count();
  std::vector<Entry> entries;
  for (std::uint64_t i = 0; i < n && d.ok(); ++i) {
    Entry e;
    e.client = d.read_var_uint();
    e.clock = d.read_var_uint();
    e.json = d.read_var_string();
    if (!d.ok()) break;
    if (max_state_bytes && e.json.size() > max_state_bytes)
      return fail(Errc::kTooLarge, "awareness state of client {} is {} bytes, over the limit of {} (sync_max_awareness_bytes)",
                  e.client, e.json.size(), max_state_bytes);
    boost::system::error_code ec;
    auto value = boost::json::parse(e.json, ec);
    if (ec) return fail(Errc::kInvalidArgument, "awareness state of client {} is not JSON: {}", e.client, ec.message());
    e.is_null = value.is_null();
    entries.push_back(std::move(e));
  }
  if (!d.ok()) return fail(Errc::kInvalidArgument, "malformed awareness update: {}", d.error());
  if (d.has_more()) return fail(Errc::kInvalidArgument, "malformed awareness update: trailing bytes");

  AwarenessChange change;
  for (auto& e : entries) {
    auto meta = meta_.find(e.client);
    std::uint64_t current_clock = meta == meta_.end() ? 0 : meta->second.clock;
    bool known = states_.contains(e.client);
    if (!(current_clock < e.clock || (current_clock == e.clock && e.is_null && known))) continue;
    if (e.is_null) states_.erase(e.client);
    else states_[e.client] = std::move(e.json);
    bool was_new = meta == meta_.end();
    meta_[e.client] = Meta{e.clock, now_ms};
    if (was_new && !e.is_null) change.added.push_back(e.client);
    else if (!was_new && e.is_null) change.removed.push_back(e.client);
    else if (!e.is_null) change.updated.push_back(e.client);
  }
  return change;
}

AwarenessChange Awareness::remove(const std::vector<std::uint64_t>& clients, std::int64_t now_ms) {
  AwarenessChange change;
  for (auto client : clients) {
    if (!states_.erase(client)) continue;
    auto& meta = meta_[client];
    meta.clock += 1;
    meta.last_updated_ms = now_ms;
    change.removed.push_back(client);
  }
  return change;
}

AwarenessChange Awareness::expire(std::int64_t now_ms, std::int64_t timeout_ms) {
  std::vector<std::uint64_t> stale;
  for (const auto& [client, state] : states_) {
    auto it = meta_.find(client);
    if (it != meta_.end() && now_ms - it->second.last_updated_ms >= timeout_ms) stale.push_back(client);
  }
  return remove(stale, now_ms);
}

std::vector<std::uint8_t> Awareness::encode_update(const std::vector<std::uint64_t>& clients) const {
  crdt::Encoder e;
  e.write_var_uint(clients.size());
  for (auto client : clients) {
    auto meta = meta_.find(client);
    auto state = states_.find(client);
    e.write_var_uint(client);
    e.write_var_uint(meta == meta_.end() ? 0 : meta->second.clock);
    e.write_var_string(state == states_.end() ? std::string_view("null") : std::string_view(state->second));
  }
  return e.take();
}

std::vector<std::uint8_t> Awareness::encode_all() const {
  std::vector<std::uint64_t> clients;
  clients.reserve(states_.size());
  for (const auto& [client, state] : states_) clients.push_back(client);
  return encode_update(clients);
}

const std::string* Awareness::state_of(std::uint64_t client) const {
  auto it = states_.find(client);
  return it == states_.end() ? nullptr : &it->second;
}

}  // namespace blobsync::protocol
