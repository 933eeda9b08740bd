// QuotaLedger: in-flight reservations against a storage quota, per key (an
// account's DID, a room token's usage key). It does not store usage: the
// caller passes a function that reads the stored usage (a database SUM, an
// in-memory counter), and the ledger adds what is in flight, so two parallel
// writes cannot both pass the check and together exceed the quota.
//
//   reserve(key, n, limit, used)  stored usage + in flight + n <= limit,
//                                 else a QuotaRefusal (nothing reserved)
//   Reservation::grow(n)          the same check for n more bytes (a body
//                                 whose length was not declared)
//   Reservation::commit()         the bytes are now in the stored usage
//   Reservation::release()        they never will be (failure, duplicate);
//                                 the destructor releases
//
// Why commits are counted: `used` may be read just before a parallel write
// commits and releases its reservation; the bytes committed on this key
// since the read began are added to it, so they are never counted neither
// as stored nor as in flight (they may be counted twice: a refusal errs
// towards the quota). Usage that changes elsewhere (another process on the
// same database) is seen only at the next read: the caller's concern.
//
// Reusing a read (`reuse` > 0): a stored usage read less than `reuse` ago
// stands in for a new one, plus every commit on the key since that read, so
// this process's own writes are counted exactly as above. Only a grant
// reuses: a request the reused figure would refuse is checked again on a
// fresh read (usage deleted meanwhile must not cause a refusal). What
// another process adds is seen at most `reuse` later. Why: the read is a
// SUM over every blob of the account (O(blobs)), which took a quarter of
// the server's CPU per 16 KiB upload once an account held a few thousand.
//
// Thread safety: every method may be called from any thread; a Reservation
// is used by one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace blobsync {

struct QuotaRefusal {
  std::uint64_t used = 0;       // stored usage (with commits since it was read)
  std::uint64_t in_flight = 0;  // reserved by other writes (and this one so far)
  std::uint64_t wanted = 0;     // what the refused request asked for
  std::uint64_t limit = 0;
};

class QuotaLedger {
 public:
  struct Entry;

  class Reservation {
   public:
    Reservation() = default;
    Reservation(Reservation&& o) noexcept { *this = std::move(o); }
    Reservation& operator=(Reservation&& o) noexcept;
    ~Reservation() { release(); }

    std::uint64_t bytes() const { return bytes_; }
    bool active() const { return ledger_ != nullptr; }
    // Refused (nothing changes) if n more would pass the limit.
    std::expected<void, QuotaRefusal> grow(std::uint64_t n);
    void commit();
    void release();

   private:
    friend class QuotaLedger;
    void finish(bool committed);
    QuotaLedger* ledger_ = nullptr;
    std::string key_;
    Entry* entry_ = nullptr;
    std::uint64_t bytes_ = 0, limit_ = 0, base_used_ = 0, base_committed_ = 0;
  };

  // limit 0: no quota (always granted, still tracked). `used` runs without
  // the ledger's lock and may block (a database read); nullopt means the read
  // failed: 0 for this call (whose caller reports the failure and drops the
  // reservation), never reused. `reuse`: see above (0: read every time).
  std::expected<Reservation, QuotaRefusal> reserve(const std::string& key, std::uint64_t bytes, std::uint64_t limit,
                                                   const std::function<std::optional<std::uint64_t>()>& used,
                                                   std::chrono::steady_clock::duration reuse = {});
  // Bytes reserved and not yet committed or released on `key`.
  std::uint64_t in_flight(const std::string& key) const;
  // Keys with a reservation or a reserve() in progress (for tests: 0 when
  // idle; keys kept only for a reusable read do not count).
  std::size_t keys() const;

  struct Entry {
    std::uint64_t in_flight = 0;
    std::uint64_t committed = 0;  // total committed while the entry lived
    std::size_t refs = 0;         // reservations and reserve() calls in progress
    // The last usage read, for reuse: its value, `committed` when it began, when it began.
    std::uint64_t read_stored = 0, read_committed = 0;
    std::chrono::steady_clock::time_point read_at{};
    std::chrono::steady_clock::duration reuse{};  // 0: no read kept
  };

 private:
  // REQUIRES: mu_ held.
  void unref(const std::string& key, Entry& e);
  // Whether e's last read may stand in for a new one at `now`. REQUIRES: mu_ held.
  static bool fresh(const Entry& e, std::chrono::steady_clock::time_point now);
  // Drops idle entries kept for their read when there are too many. REQUIRES: mu_ held.
  void sweep_idle(std::chrono::steady_clock::time_point now);
  static constexpr std::size_t kMaxIdleKept = 4096;
  // REQUIRES: mu_ held.
  Reservation grant(const std::string& key, Entry& e, std::uint64_t bytes, std::uint64_t limit, std::uint64_t stored,
                    std::uint64_t committed_before);

  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // guarded by mu_; node addresses are stable
  std::size_t idle_kept_ = 0;  // guarded by mu_: entries with refs 0 kept for their read
};

}  // namespace blobsync
