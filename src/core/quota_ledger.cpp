#include "core/quota_ledger.h"

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
    const std::string& key, std::uint64_t bytes, std::uint64_t limit, const std::function<std::uint64_t()>& used) {
  Entry* e = nullptr;
  std::uint64_t committed_before = 0;
  {
    std::lock_guard lock(mu_);
    e = &entries_[key];
    ++e->refs;
    committed_before = e->committed;
  }
  std::uint64_t stored = used();
  std::lock_guard lock(mu_);
  // Commits since the read began may be missing from it (see the header).
  std::uint64_t eff = stored + (e->committed - committed_before);
  if (over(eff, e->in_flight, bytes, limit)) {
    QuotaRefusal r{eff, e->in_flight, bytes, limit};
    unref(key, *e);
    return std::unexpected(r);
  }
  e->in_flight += bytes;
  Reservation res;
  res.ledger_ = this;
  res.key_ = key;
  res.entry_ = e;
  res.bytes_ = bytes;
  res.limit_ = limit;
  res.base_used_ = stored;
  res.base_committed_ = committed_before;
  return res;
}

std::uint64_t QuotaLedger::in_flight(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  return it == entries_.end() ? 0 : it->second.in_flight;
}

std::size_t QuotaLedger::keys() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

void QuotaLedger::unref(const std::string& key, Entry& e) {
  if (--e.refs == 0) entries_.erase(key);
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
