#include "mesh/replicator.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <tuple>

#include "client/streaming_download.h"
#include "client/room_client.h"
#include "core/blob_id.h"
#include "store/blob_store.h"
#include "mesh/backoff.h"
#include "mesh/dial_policy.h"
#include "mesh/holder_health.h"
#include "mesh/mesh_config.h"

namespace blobsync::mesh {

namespace asio = boost::asio;
using client::StreamingDownload;
using client::RoomClient;

namespace {

constexpr auto kPoolIdle = std::chrono::seconds(30);
constexpr auto kSweepEvery = std::chrono::seconds(10);

// Limits where 0 means none: the wider of two.
std::uint64_t wider(std::uint64_t a, std::uint64_t b) { return a == 0 || b == 0 ? 0 : std::max(a, b); }

}  // namespace

struct Replicator::Impl : std::enable_shared_from_this<Replicator::Impl> {
  explicit Impl(ReplicatorDeps e) : deps(std::move(e)), strand(asio::make_strand(deps.ex)), sweep(strand) {}

  using Waiter = std::function<void(Result<>)>;

  struct Job {
    FetchJob job;
    std::vector<Waiter> waiters;
    bool active = false;
    std::vector<std::string> order;  // holders to try, shuffled
    unsigned slot = 0;               // which of a holder's pooled connections
    std::size_t next = 0;
    std::unique_ptr<StreamingDownload> partial;  // kept across holders: a broken transfer resumes
    Error last{Errc::kNotFound, "no holder listed"};
    std::optional<Error> too_large;  // a holder's META was over max_bytes
  };

  // One blob-only connection to a holder's room, shared by fetches. The
  // client runs on its own strand (transfers on different connections
  // receive, hash and write in parallel); only `alive` is shared with it.
  struct Pooled {
    std::shared_ptr<RoomClient> client;
    std::atomic<bool> alive{false};  // open and not yet closed (set on the client's strand)
    bool opening = true;
    std::vector<std::function<void(Result<std::shared_ptr<Pooled>>)>> waiters;
    std::size_t users = 0;
    Clock::time_point last_used = Clock::now();
  };

  struct Retry {
    Backoff backoff;
    Clock::time_point next;
  };

  ReplicatorDeps deps;
  asio::strand<asio::any_io_executor> strand;
  asio::steady_timer sweep;
  std::mt19937_64 rng{std::random_device{}()};

  // Strand only.
  std::map<Digest, std::shared_ptr<Job>> jobs;
  std::deque<Digest> queue;
  std::size_t active = 0;
  std::map<Digest, Retry> retries;
  std::set<Digest> too_large;  // background replication skips these (a holder said so)
  std::map<std::tuple<std::string, std::string, unsigned>, std::shared_ptr<Pooled>> pool;  // (url, room, slot)
  unsigned next_slot = 0;
  bool stopped = false, sweeping = false;

  mutable std::mutex mu;
  Stats stats;                                  // guarded by mu (queued/active/backing_off set on read)
  std::map<std::string, HolderStats> holders;  // guarded by mu

  void count_pending(const std::vector<std::string>& hs, int delta) {
    std::lock_guard lock(mu);
    for (const auto& h : hs) {
      if (h == deps.self_url) continue;
      auto& p = holders[h].pending;
      p = delta > 0 ? p + 1 : (p ? p - 1 : 0);
    }
  }

  // Adds holders the job did not know yet (a newer view of the registry).
  void merge(Job& j, const std::vector<std::string>& hs) {
    std::vector<std::string> added;
    for (const auto& h : hs)
      if (std::find(j.job.holders.begin(), j.job.holders.end(), h) == j.job.holders.end()) added.push_back(h);
    if (added.empty()) return;
    count_pending(added, +1);
    for (auto& h : added) {
      j.job.holders.push_back(h);
      if (j.active && h != deps.self_url) j.order.push_back(h);  // tried after the current ones
    }
  }

  void add(FetchJob job, bool urgent, Waiter waiter) {
    job.holders = deps.policy->admit(job.holders);  // whoever calls, only admitted holders are dialed
    if (auto it = jobs.find(job.hash); it != jobs.end()) {
      merge(*it->second, job.holders);
      if (!it->second->active) it->second->job.max_bytes = wider(it->second->job.max_bytes, job.max_bytes);
      if (waiter) {
        it->second->waiters.push_back(std::move(waiter));
        if (!it->second->active && urgent) {  // jump the queue
          std::erase(queue, job.hash);
          queue.push_front(job.hash);
        }
      }
      pump();
      return;
    }
    if (!urgent) {
      if (too_large.contains(job.hash)) return;
      if (auto r = retries.find(job.hash); r != retries.end() && Clock::now() < r->second.next) return;
    }
    if (job.holders.empty()) {
      if (waiter) waiter(fail(Errc::kNotFound, "no holder this server may dial is listed"));
      return;
    }
    auto j = std::make_shared<Job>();
    count_pending(job.holders, +1);
    j->job = std::move(job);
    if (waiter) j->waiters.push_back(std::move(waiter));
    Digest h = j->job.hash;
    jobs.emplace(h, std::move(j));
    if (urgent) queue.push_front(h);
    else queue.push_back(h);
    pump();
  }

  // Refreshes the gauges stats() reports.
  void publish() {
    std::size_t backing_off = 0;
    auto now = Clock::now();
    for (const auto& [h, r] : retries) backing_off += now < r.next;
    std::lock_guard lock(mu);
    stats.active = active;
    stats.queued = jobs.size() - std::min(jobs.size(), active);
    stats.backing_off = backing_off;
    stats.too_large = too_large.size();
  }

  void pump() {
    while (!stopped && active < std::max(1u, deps.max_fetches) && !queue.empty()) {
      Digest h = queue.front();
      queue.pop_front();
      auto it = jobs.find(h);
      if (it == jobs.end() || it->second->active) continue;
      start(it->second);
    }
    publish();
  }

  void start(std::shared_ptr<Job> j) {
    ++active;
    j->active = true;
    j->slot = next_slot++ % std::max(1u, deps.connections_per_holder);
    j->order.clear();
    for (const auto& h : j->job.holders)
      if (h != deps.self_url) j->order.push_back(h);
    std::shuffle(j->order.begin(), j->order.end(), rng);
    j->next = 0;
    deps.run_blocking([self = shared_from_this(), j] {
      // Maybe a client uploaded it meanwhile; else stream it into the store.
      // No partial file: the bytes are written once, into the ingest; the
      // job keeps the download across holders, so a broken transfer resumes
      // where it stopped (a partial left by an older version is resumed too).
      auto held = self->deps.store.contains(j->job.hash);
      Result<std::unique_ptr<StreamingDownload>> partial = fail(Errc::kInternal, "unused");
      bool have = held && *held;
      if (!have) {
        client::StreamingOptions o;
        o.partial_dir = self->deps.partial_dir;
        o.keep_partial = false;
        o.store_checks_chunks = true;  // the ingest's chunk hashes are the check: two hashing passes, not three
        o.holder_typed_it = true;      // a peer's octet-stream needs no second libmagic pass
        std::uint64_t limit = j->job.max_bytes ? j->job.max_bytes : UINT64_MAX;
        o.max_size = limit;  // checked against the holder's META
        partial = StreamingDownload::open(self->deps.store, j->job.hash, std::move(o));
        // A partial left by an older version already knows its size.
        if (partial && limit < (*partial)->size())
          partial = fail(Errc::kTooLarge, "blob of {} bytes is over this server's limit of {}", (*partial)->size(),
                         limit);
      }
      asio::post(self->strand, [self, j, have, partial = std::move(partial)]() mutable {
        if (have) return self->finish(j, {});
        if (!partial) return self->finish(j, std::unexpected(partial.error()));
        j->partial = std::move(*partial);
        self->next_holder(j);
      });
    });
  }

  void next_holder(std::shared_ptr<Job> j) {
    if (stopped) return finish(j, fail(Errc::kCancelled, "replication stopped"));
    if (j->next >= j->order.size()) return finish(j, std::unexpected(j->too_large ? *j->too_large : j->last));
    std::string url = j->order[j->next++];
    connect(url, j->job.room, j->slot, [self = shared_from_this(), j, url](Result<std::shared_ptr<Pooled>> c) {
      if (!c) {
        self->holder_failed(url);
        j->last = Error{c.error().code, fmt::format("{}: {}", url, c.error().message)};
        return self->next_holder(j);
      }
      auto conn = *c;
      ++conn->users;
      // The transfer runs on the connection's strand; its end comes back here.
      asio::post(conn->client->strand(), [self, j, url, conn] {
        conn->client->download(*j->partial, {}, [self, j, url, conn](Result<> r) {
          asio::post(self->strand, [self, j, url, conn, r = std::move(r)] {
            --conn->users;
            conn->last_used = Clock::now();
            if (!r && r.error().code == Errc::kTooLarge) {  // the holder is fine; the blob is not for us
              j->too_large = Error{Errc::kTooLarge, fmt::format("{}: {}", url, r.error().message)};
              return self->next_holder(j);
            }
            if (!r) {
              self->holder_failed(url);
              j->last = Error{r.error().code, fmt::format("{}: {}", url, r.error().message)};
              return self->next_holder(j);
            }
            if (!j->partial->complete()) return self->next_holder(j);
            self->ingest(j, url);
          });
        });
      });
    });
  }

  void ingest(std::shared_ptr<Job> j, std::string url) {
    deps.run_blocking([self = shared_from_this(), j, url = std::move(url)]() mutable {
      // Verifies the blob hash and commits; on corruption (the chunk hashes
      // the holders sent do not add up to the blob) the download starts over.
      auto stored = j->partial->finish();
      bool corrupt = !stored && stored.error().code == Errc::kCorruption;
      asio::post(self->strand, [self, j, url, stored = std::move(stored), corrupt]() mutable {
        if (stored) {
          {
            std::lock_guard lock(self->mu);
            ++self->stats.fetched;
            self->stats.bytes += stored->size;
            ++self->holders[url].fetched;
          }
          spdlog::info("mesh: replicated {} ({} bytes) from {}", to_hash_ref(j->job.hash), stored->size, url);
          if (self->deps.announce)
            self->deps.announce(j->job.room, sync::AnnouncedBlob{stored->hash, stored->size, stored->chunk_count});
          return self->finish(j, {});
        }
        if (corrupt) {
          self->holder_failed(url);
          j->last = Error{Errc::kCorruption, fmt::format("{}: {}", url, stored.error().message)};
          return self->next_holder(j);
        }
        self->finish(j, std::unexpected(stored.error()));  // our disk failed: no point trying others now
      });
    });
  }

  void holder_failed(const std::string& url) {
    std::lock_guard lock(mu);
    ++holders[url].failed;
  }

  void finish(std::shared_ptr<Job> j, Result<> r) {
    if (j->active) {
      --active;
      j->active = false;
    }
    auto it = jobs.find(j->job.hash);
    if (it != jobs.end() && it->second == j) jobs.erase(it);
    count_pending(j->job.holders, -1);
    if (r) {
      retries.erase(j->job.hash);
      too_large.erase(j->job.hash);
    } else if (r.error().code == Errc::kTooLarge) {
      if (too_large.insert(j->job.hash).second)
        spdlog::warn("mesh: not replicating {}: {}", to_hash_ref(j->job.hash), r.error().message);
    } else if (r.error().code != Errc::kCancelled) {
      auto [rit, fresh] = retries.try_emplace(j->job.hash, Retry{Backoff(deps.backoff_initial, deps.backoff_max), {}});
      rit->second.next = Clock::now() + rit->second.backoff.next();
      {
        std::lock_guard lock(mu);
        ++stats.failed;
      }
      spdlog::warn("mesh: cannot replicate {}: {}", to_hash_ref(j->job.hash), r.error().message);
    }
    auto waiters = std::move(j->waiters);
    j->partial.reset();
    for (auto& w : waiters) w(r);
    pump();
  }

  void connect(const std::string& url, const std::string& room, unsigned slot,
               std::function<void(Result<std::shared_ptr<Pooled>>)> cb) {
    // Jobs hold admitted URLs only; checked again here, where the token is chosen.
    auto target = deps.policy->classify(url);
    if (target.kind != DialPolicy::Kind::kPeer && target.kind != DialPolicy::Kind::kAllowed)
      return cb(fail(Errc::kForbidden, "{} is neither a peer nor under mesh_allow", url));
    auto key = std::make_tuple(url, room, slot);
    auto& entry = pool[key];
    if (entry && !entry->opening && entry->alive.load()) {
      entry->last_used = Clock::now();
      return cb(entry);
    }
    if (entry && entry->opening) {
      entry->waiters.push_back(std::move(cb));
      return;
    }
    auto parsed = client::parse_ws_url(url);
    if (!parsed) {
      pool.erase(key);
      return cb(std::unexpected(parsed.error()));
    }
    auto p = std::make_shared<Pooled>();
    entry = p;
    p->waiters.push_back(std::move(cb));
    client::RoomClientOptions o;
    o.server = *parsed;
    o.tls = deps.tls;
    if (o.tls) warn_if_insecure(*o.tls, o.server);
    o.room = room;
    o.token = target.token;  // peer_token for peers; mesh_allow holders get none
    o.sync_doc = false;
    o.user_agent = kMeshUserAgent;  // informational; peer_token (above) stops the holder fetching for us
    o.connect_timeout = deps.connect_timeout;
    o.idle_timeout = deps.idle_timeout;
    p->client = RoomClient::create(deps.ex, std::move(o), nullptr);
    std::weak_ptr<Pooled> weak = p;
    p->client->on_closed([weak](const Error&) {
      if (auto strong = weak.lock()) strong->alive = false;
    });
    p->client->open([self = shared_from_this(), p, key](Result<> r) {
      if (r) p->alive = true;
      asio::post(self->strand, [self, p, key, r = std::move(r)] { self->opened(p, key, r); });
    });
    schedule_sweep();
  }

  static void close_client(const std::shared_ptr<RoomClient>& c) {
    asio::post(c->strand(), [c] { c->close(); });
  }

  void opened(const std::shared_ptr<Pooled>& p, const std::tuple<std::string, std::string, unsigned>& key,
              const Result<>& r) {
    p->opening = false;
    auto waiters = std::move(p->waiters);
    p->waiters.clear();
    if (!r) {
      deps.health.unreachable(std::get<0>(key));
      if (auto it = pool.find(key); it != pool.end() && it->second == p) pool.erase(it);
      for (auto& w : waiters) w(std::unexpected(r.error()));
      return;
    }
    deps.health.reachable(std::get<0>(key));
    for (auto& w : waiters) w(p);
  }

  // Closes pooled connections nobody used for a while.
  void schedule_sweep() {
    if (sweeping || stopped) return;
    sweeping = true;
    sweep.expires_after(kSweepEvery);
    sweep.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      self->sweeping = false;
      if (ec || self->stopped) return;
      auto now = Clock::now();
      for (auto it = self->pool.begin(); it != self->pool.end();) {
        auto& p = *it->second;
        bool dead = !p.opening && !p.alive.load();
        if (dead || (!p.opening && p.users == 0 && now - p.last_used > kPoolIdle)) {
          close_client(p.client);
          it = self->pool.erase(it);
        } else {
          ++it;
        }
      }
      if (!self->pool.empty()) self->schedule_sweep();
    });
  }
};

std::shared_ptr<Replicator> Replicator::create(ReplicatorDeps deps) {
  return std::shared_ptr<Replicator>(new Replicator(std::make_shared<Impl>(std::move(deps))));
}

Replicator::Replicator(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Replicator::~Replicator() { stop(); }

void Replicator::want(FetchJob job) {
  asio::post(impl_->strand, [s = impl_, job = std::move(job)]() mutable {
    if (!s->stopped) s->add(std::move(job), false, {});
  });
}

void Replicator::fetch_now(FetchJob job, std::function<void(Result<>)> done) {
  asio::post(impl_->strand, [s = impl_, job = std::move(job), done = std::move(done)]() mutable {
    if (s->stopped) return done(fail(Errc::kCancelled, "replication stopped"));
    s->add(std::move(job), true, std::move(done));
  });
}

void Replicator::stop() {
  asio::post(impl_->strand, [s = impl_] {
    if (s->stopped) return;
    s->stopped = true;
    s->sweep.cancel();
    s->queue.clear();
    // Closing a connection fails its transfers, which finish their jobs.
    auto pool = std::move(s->pool);
    s->pool.clear();
    for (auto& [key, p] : pool) Impl::close_client(p->client);
    auto jobs = s->jobs;
    for (auto& [hash, j] : jobs)
      if (!j->active) s->finish(j, fail(Errc::kCancelled, "replication stopped"));
  });
}

Replicator::Stats Replicator::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

std::map<std::string, Replicator::HolderStats> Replicator::holder_stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->holders;
}

}  // namespace blobsync::mesh
