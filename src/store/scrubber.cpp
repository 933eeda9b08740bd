#include "store/scrubber.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <iterator>

#include "core/blob_id.h"
#include "store/blob_check.h"
#include "store/blob_store.h"

namespace blobsync {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kPage = 64;
constexpr std::uint64_t kPerBlobCost = 4096;                  // budget a blob costs besides its bytes
constexpr auto kSaveEvery = std::chrono::seconds(10);         // cursor to the state file
constexpr auto kRecountEvery = std::chrono::seconds(10);     // other processes' quarantines (a few totals rows)
constexpr auto kIdlePoll = std::chrono::seconds(1);           // gauge refresh while between passes
constexpr auto kCredit = std::chrono::milliseconds(100);      // at most this much unspent budget is kept
constexpr auto kRetryList = std::chrono::seconds(10);         // after a failed index read

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "blob sha256:…: chunk 3 hash mismatch" -> "chunk 3 hash mismatch": the
// quarantine error names the blob already.
std::string problem_of(const Error& e, const Digest& hash) {
  std::string_view m = e.message;
  std::string prefix = "blob " + to_hash_ref(hash);
  if (m.starts_with(prefix)) {
    m.remove_prefix(prefix.size());
    while (!m.empty() && (m.front() == ':' || m.front() == ' ')) m.remove_prefix(1);
  }
  return std::string(m);
}

}  // namespace

Scrubber::Scrubber(BlobStore& store, ScrubOptions options) : store_(store), options_(std::move(options)) {}

Scrubber::~Scrubber() { stop(); }

void Scrubber::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void Scrubber::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Scrubber::Stats Scrubber::stats() const {
  return Stats{bytes_.load(), failures_.load(), released_.load(), passes_.load(), quarantined_.load()};
}

std::string Scrubber::render_metrics() const {
  Stats s = stats();
  std::string out;
  auto line = [&](const char* name, const char* type, const char* help, auto value) {
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
  };
  if (s.quarantined >= 0)
    line("blobsync_store_quarantined_blobs", "gauge", "Blobs quarantined: their bytes failed a re-hash; not served.",
         s.quarantined);
  line("blobsync_scrub_bytes_total", "counter", "Bytes re-hashed by the background scrubber.", s.bytes);
  line("blobsync_scrub_failures_total", "counter", "Blobs the scrubber found corrupt and quarantined.", s.failures);
  return out;
}

bool Scrubber::wait_until(Clock::time_point deadline) {
  std::unique_lock lock(mu_);
  return !cv_.wait_until(lock, deadline, [this] { return stopping_; });
}

bool Scrubber::throttle(std::uint64_t bytes) {
  auto now = Clock::now();
  budget_ = std::max(budget_, now - kCredit);  // no burst after a pause
  budget_ += std::chrono::nanoseconds(static_cast<std::int64_t>(
      static_cast<double>(bytes) * 1e9 / static_cast<double>(options_.rate)));
  if (budget_ <= now) {
    std::lock_guard lock(mu_);
    return !stopping_;
  }
  return wait_until(budget_);
}

void Scrubber::recount(bool force) {
  auto now = Clock::now();
  std::uint64_t gen = store_.quarantine_generation();
  if (!force && gen == counted_gen_ && now - last_count_ < kRecountEvery) return;
  auto n = store_.metadata().count_quarantined();
  last_count_ = now;
  if (!n) {
    spdlog::warn("scrub: cannot count quarantined blobs: {}", n.error().to_string());
    return;
  }
  counted_gen_ = gen;
  quarantined_.store(static_cast<std::int64_t>(*n));
}

Result<> Scrubber::rehash(const BlobRecord& row) {
  auto sink = [this](std::span<const std::byte> chunk) -> Result<> {
    bytes_.fetch_add(chunk.size(), std::memory_order_relaxed);
    if (!throttle(chunk.size())) return fail(Errc::kCancelled, "scrubber stopping");
    return {};
  };
  if (!throttle(kPerBlobCost)) return fail(Errc::kCancelled, "scrubber stopping");
  if (row.quarantine.empty()) return store_.read_verified(row.hash, sink);
  // read_verified refuses a quarantined blob: check the bytes themselves.
  auto rec = store_.stat(row.hash);
  if (!rec) return std::unexpected(rec.error());
  return read_checked(store_.backend(), *rec, sink);
}

bool Scrubber::scrub(const BlobRecord& row) {
  auto r = rehash(row);
  if (r) {
    if (!row.quarantine.empty()) {
      if (auto rel = store_.release_quarantine(row.hash); rel) {
        released_.fetch_add(1);
        spdlog::info("scrub: {} checks out again; quarantine ({}) lifted", to_hash_ref(row.hash), row.quarantine);
      }
    }
    return true;
  }
  switch (r.error().code) {
    case Errc::kCancelled: return false;
    case Errc::kNotFound: return true;  // removed meanwhile
    case Errc::kCorruption: break;
    default:
      // Maybe transient (EIO, a remote backend's timeout): the next pass looks again.
      spdlog::warn("scrub: cannot read {}: {}", to_hash_ref(row.hash), r.error().to_string());
      return true;
  }
  if (row.quarantine.empty()) {
    std::string problem = problem_of(r.error(), row.hash);
    auto q = store_.quarantine(row.hash, "scrub: " + problem);
    if (q) {
      failures_.fetch_add(1);
      spdlog::warn("scrub: quarantined {}: {}; not served until a verified copy replaces it", to_hash_ref(row.hash),
                   problem);
    } else if (q.error().code == Errc::kNotFound) {
      return true;  // collected (or removed) while it was being read: nothing to heal
    } else {
      spdlog::error("scrub: cannot quarantine {} ({}): {}", to_hash_ref(row.hash), problem, q.error().to_string());
    }
  }
  if (options_.heal) options_.heal(row.hash);
  return true;
}

void Scrubber::run() {
  recount(true);
  if (options_.rate == 0) {  // scrubbing off: only the gauge (verify in another process, heals)
    while (wait_until(Clock::now() + kIdlePoll)) recount(false);
    return;
  }
  load_state();
  for (;;) {
    if (!in_pass_) {
      // The next pass is due `interval` after the last one started.
      std::int64_t due = pass_started_ms_ == 0 ? 0 : pass_started_ms_ + options_.interval.count();
      for (std::int64_t now = wall_ms(); now < due; now = wall_ms()) {
        auto wait = std::min<std::chrono::milliseconds>(std::chrono::milliseconds(due - now), kIdlePoll);
        if (!wait_until(Clock::now() + wait)) return;
        recount(false);
      }
      in_pass_ = true;
      cursor_.reset();
      pass_started_ms_ = wall_ms();
      save_state();
    }
    auto page = store_.list(cursor_, kPage);
    if (!page) {
      spdlog::warn("scrub: cannot read the blob index: {}", page.error().to_string());
      if (!wait_until(Clock::now() + kRetryList)) return;
      continue;
    }
    if (page->empty()) {  // wrapped around
      in_pass_ = false;
      cursor_.reset();
      save_state();
      recount(true);
      passes_.fetch_add(1);
      continue;
    }
    for (const auto& row : *page) {
      if (!scrub(row)) return save_state();
      cursor_ = row.hash;
      if (Clock::now() - last_save_ >= kSaveEvery) save_state();
      recount(false);
    }
  }
}

// State file: "<cursor hex or -> <pass start, Unix ms> <1 if a pass is running>".
void Scrubber::load_state() {
  if (options_.state_file.empty()) return;
  std::ifstream in(options_.state_file);
  std::string cursor;
  std::int64_t started = 0;
  int running = 0;
  if (!(in >> cursor >> started >> running)) return;  // none yet, or unreadable: start afresh
  Digest d;
  if (cursor != "-" && !parse_hex_digest(cursor, d)) return;
  if (cursor != "-") cursor_ = d;
  pass_started_ms_ = started;
  in_pass_ = running == 1;
}

void Scrubber::save_state() {
  last_save_ = Clock::now();
  if (options_.state_file.empty()) return;
  // Losing it costs re-hashing part of a pass, so no fsync; rename keeps it whole.
  auto tmp = options_.state_file;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << (cursor_ ? cursor_->hex() : "-") << ' ' << pass_started_ms_ << ' ' << (in_pass_ ? 1 : 0) << '\n';
    if (!out) return;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, options_.state_file, ec);
}

}  // namespace blobsync
