#include "sync/token_quota.h"

#include <spdlog/spdlog.h>

#include <fmt/format.h>

#include <mutex>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sync/room_store.h"

namespace blobsync::sync {

struct TokenQuotas::State : std::enable_shared_from_this<TokenQuotas::State> {
  explicit State(RoomStore& s) : store(s) {}

  struct Entry {
    std::uint64_t used = 0;
    std::size_t handles = 0;  // open TokenQuota objects; 0 and clean: forgotten
  };

  RoomStore& store;
  QuotaLedger ledger;
  std::mutex mu;
  std::unordered_map<std::string, Entry> entries;  // guarded by mu
  std::set<std::string> dirty;                     // guarded by mu: changed since the last write
  bool write_queued = false;                       // guarded by mu

  // REQUIRES: mu held. Queues one write for every change until it runs.
  void mark_dirty(const std::string& key) {
    dirty.insert(key);
    if (write_queued) return;
    write_queued = true;
    store.save_token_usage([self = shared_from_this()] {
      std::lock_guard lock(self->mu);
      std::vector<std::pair<std::string, std::uint64_t>> rows;
      for (const auto& k : self->dirty) {
        auto it = self->entries.find(k);
        if (it != self->entries.end()) rows.emplace_back(k, it->second.used);
      }
      self->dirty.clear();
      self->write_queued = false;
      // Entries kept only to be written are forgotten now.
      for (const auto& [k, v] : rows)
        if (auto it = self->entries.find(k); it != self->entries.end() && it->second.handles == 0)
          self->entries.erase(it);
      return rows;
    });
  }
};

TokenQuotas::TokenQuotas(RoomStore& store) : s_(std::make_shared<State>(store)) {}
TokenQuotas::~TokenQuotas() = default;

std::shared_ptr<TokenQuota> TokenQuotas::open(const std::string& key, std::uint64_t limit) {
  {
    std::lock_guard lock(s_->mu);
    if (auto it = s_->entries.find(key); it != s_->entries.end()) {
      ++it->second.handles;
      return std::make_shared<TokenQuota>(s_, key, limit);
    }
  }
  // Read outside the lock; a connection that loaded it meanwhile wins (its
  // entry may have grown since).
  auto stored = s_->store.token_usage(key);
  if (!stored) spdlog::warn("sync: reading the usage of room token {} failed: {}", key, stored.error().message);
  std::lock_guard lock(s_->mu);
  auto [it, inserted] = s_->entries.try_emplace(key);
  if (inserted) it->second.used = stored ? *stored : 0;
  ++it->second.handles;
  return std::make_shared<TokenQuota>(s_, key, limit);
}

TokenQuota::TokenQuota(std::shared_ptr<TokenQuotas::State> s, std::string key, std::uint64_t limit)
    : s_(std::move(s)), key_(std::move(key)), limit_(limit) {}

TokenQuota::~TokenQuota() {
  std::lock_guard lock(s_->mu);
  auto it = s_->entries.find(key_);
  if (it == s_->entries.end()) return;
  if (--it->second.handles == 0 && !s_->dirty.contains(key_)) s_->entries.erase(it);
}

std::uint64_t TokenQuota::used() const {
  std::lock_guard lock(s_->mu);
  return s_->entries.at(key_).used;
}

namespace {
std::string refusal(const QuotaRefusal& r, std::string_view what) {
  return fmt::format("this room token has added {} of the {} bytes it may (room_token_quota or its quota claim){}; "
                     "{} of {} more would pass it",
                     r.used, r.limit, r.in_flight ? fmt::format(", {} more in uploads in progress", r.in_flight) : "",
                     what, r.wanted);
}
}  // namespace

std::expected<QuotaLedger::Reservation, std::string> TokenQuota::reserve(std::uint64_t bytes) {
  auto r = s_->ledger.reserve(key_, bytes, limit_, [this] { return used(); });
  if (!r) return std::unexpected(refusal(r.error(), "an upload"));
  return std::move(*r);
}

void TokenQuota::charge(QuotaLedger::Reservation& r) {
  {
    std::lock_guard lock(s_->mu);
    s_->entries.at(key_).used += r.bytes();
    s_->mark_dirty(key_);
  }
  r.commit();
}

std::optional<std::string> TokenQuota::try_add(std::uint64_t bytes) {
  std::uint64_t in_flight = s_->ledger.in_flight(key_);
  std::lock_guard lock(s_->mu);
  auto& e = s_->entries.at(key_);
  if (limit_ && (e.used > limit_ || in_flight > limit_ - e.used || bytes > limit_ - e.used - in_flight))
    return refusal(QuotaRefusal{e.used, in_flight, bytes, limit_}, "an update");
  e.used += bytes;
  s_->mark_dirty(key_);
  return std::nullopt;
}

void TokenQuota::refund(std::uint64_t bytes) {
  std::lock_guard lock(s_->mu);
  auto& e = s_->entries.at(key_);
  e.used -= std::min(e.used, bytes);
  s_->mark_dirty(key_);
}

}  // namespace blobsync::sync
