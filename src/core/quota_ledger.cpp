#include "core/quota_ledger.h"

#include <algorithm>
#include <utility>

namespace blobsync {

namespace {

// a + b + c > limit without overflow (sizes come from clients).
bool over(std::uint64_t a, std::uint64_t b, std::uint64_t c, std::uint64_t limit) {
  if (limit == 0) return false;
  if (a > limit) return true;
  limit -= a;
  if (b > limit) return true;
  limit -= b;
  return c > limit;
}

}  // namespace

std::expected<QuotaLedger::Reservation, QuotaRefusal> QuotaLedger::reserve(
    const std::string& key, std::uint64_t bytes, std::uint64_t limit,
    const std::function<std::optional<std::uint64_t>()>& used,
    std::chrono::steady_clock::duration reuse) {
  Entry* e = nullptr;
  std::uint64_t committed_before = 0;
  auto started = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    if (idle_kept_ > kMaxIdleKept) sweep_idle(started);
    e = &entries_[key];
    if (e->refs++ == 0 && e->reuse.count() > 0) --idle_kept_;  // a kept entry is in use again
    if (reuse.count() > 0 && e->reuse.count() > 0 && started - e->read_at < std::min(reuse, e->reuse)) {
      // Commits since that read began may be missing from it, as below.
      std::uint64_t eff = e->read_stored + (e->committed - e->read_committed);
      if (!over(eff, e->in_flight, bytes, limit)) return grant(key, *e, bytes, limit, e->read_stored, e->read_committed);
      // Refused on the reused figure: ask again (usage may have gone down).
    }
    committed_before = e->committed;
  }
  std::optional<std::uint64_t> read = used();
  std::uint64_t stored = read.value_or(0);
  std::lock_guard lock(mu_);
  if (reuse.count() > 0 && read) {
    e->read_stored = stored;
    e->read_committed = committed_before;
    e->read_at = started;  // when the read began: what came after may be missing from it
    e->reuse = reuse;
  }
  // Commits since the read began may be missing from it (see the header).
  std::uint64_t eff = stored + (e->committed - committed_before);
  if (over(eff, e->in_flight, bytes, limit)) {
    QuotaRefusal r{eff, e->in_flight, bytes, limit};
    unref(key, *e);
    return std::unexpected(r);
  }
  return grant(key, *e, bytes, limit, stored, committed_before);
}

QuotaLedger::Reservation QuotaLedger::grant(const std::string& key, Entry& e, std::uint64_t bytes,
                                            std::uint64_t limit, std::uint64_t stored,
                                            std::uint64_t committed_before) {
  e.in_flight += bytes;
  Reservation res;
  res.ledger_ = this;
  res.key_ = key;
  res.entry_ = &e;
  res.bytes_ = bytes;
  res.limit_ = limit;
  res.base_used_ = stored;
  res.base_committed_ = committed_before;
  return res;
}

bool QuotaLedger::fresh(const Entry& e, std::chrono::steady_clock::time_point now) {
  return e.reuse.count() > 0 && now - e.read_at < e.reuse;
}

void QuotaLedger::sweep_idle(std::chrono::steady_clock::time_point now) {
  // Stale reads first; if that is not enough, every idle entry (a reuse is
  // only a saving, never needed for correctness).
  for (bool all : {false, true}) {
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (it->second.refs == 0 && (all || !fresh(it->second, now))) {
        it = entries_.erase(it);
        --idle_kept_;
      } else {
        ++it;
      }
    }
    if (idle_kept_ <= kMaxIdleKept / 2) return;
  }
}

std::uint64_t QuotaLedger::in_flight(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  return it == entries_.end() ? 0 : it->second.in_flight;
}

std::size_t QuotaLedger::keys() const {
  std::lock_guard lock(mu_);
  return entries_.size() - idle_kept_;
}

void QuotaLedger::unref(const std::string& key, Entry& e) {
  if (--e.refs != 0) return;
  // An entry whose read may still be reused stays (with its commit count,
  // which the reuse needs); sweep_idle() bounds how many.
  if (fresh(e, std::chrono::steady_clock::now())) ++idle_kept_;
  else entries_.erase(key);
}

QuotaLedger::Reservation& QuotaLedger::Reservation::operator=(Reservation&& o) noexcept {
  if (this == &o) return *this;
  release();
  ledger_ = std::exchange(o.ledger_, nullptr);
  key_ = std::move(o.key_);
  entry_ = std::exchange(o.entry_, nullptr);
  bytes_ = std::exchange(o.bytes_, 0);
  limit_ = o.limit_;
  base_used_ = o.base_used_;
  base_committed_ = o.base_committed_;
  return *this;
}

std::expected<void, QuotaRefusal> QuotaLedger::Reservation::grow(std::uint64_t n) {
  if (!ledger_) return {};
  std::lock_guard lock(ledger_->mu_);
  auto& e = *entry_;
  std::uint64_t eff = base_used_ + (e.committed - base_committed_);
  if (over(eff, e.in_flight, n, limit_)) return std::unexpected(QuotaRefusal{eff, e.in_flight, n, limit_});
  e.in_flight += n;
  bytes_ += n;
  return {};
}

void QuotaLedger::Reservation::commit() { finish(true); }
void QuotaLedger::Reservation::release() { finish(false); }

void QuotaLedger::Reservation::finish(bool committed) {
  if (!ledger_) return;
  std::lock_guard lock(ledger_->mu_);
  auto& e = *entry_;
  e.in_flight -= bytes_;
  if (committed) e.committed += bytes_;
  ledger_->unref(key_, e);
  ledger_ = nullptr;
  entry_ = nullptr;
  bytes_ = 0;
}

}  // namespace blobsync
