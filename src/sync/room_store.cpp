#include "sync/room_store.h"

#include <malloc.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <chrono>
#include <future>
#include <optional>
#include <tuple>
#include <unordered_map>

#include "sql/sqlite_db.h"

namespace blobsync::sync {

namespace {

// Append-only: never edit a released step; add a new one.
const std::vector<std::string> kSchema = {
    "CREATE TABLE sync_rooms(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, snapshot BLOB, "
    "snapshot_seq INTEGER NOT NULL DEFAULT 0, updated_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE sync_updates(room_id INTEGER NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL, "
    "PRIMARY KEY(room_id, seq)) WITHOUT ROWID;"
    "CREATE TABLE sync_announced(hash BLOB NOT NULL, room_id INTEGER NOT NULL, size INTEGER NOT NULL, "
    "chunk_count INTEGER NOT NULL, PRIMARY KEY(hash, room_id)) WITHOUT ROWID;"
    "CREATE INDEX sync_announced_by_room ON sync_announced(room_id);",
    // Stored entries that broke a limit at load (seq 0: a copy of the snapshot).
    "CREATE TABLE sync_quarantine(room_id INTEGER NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL, "
    "reason TEXT NOT NULL, at_ms INTEGER NOT NULL, PRIMARY KEY(room_id, seq)) WITHOUT ROWID;",
    // Bytes each room-token key added (sync/token_quota.h).
    "CREATE TABLE token_usage(key TEXT PRIMARY KEY, bytes INTEGER NOT NULL, updated_ms INTEGER NOT NULL) "
    "WITHOUT ROWID;",
};

constexpr std::size_t kMaxBatch = 8192;

// Page cache of the store's own connection. A room is read once when it
// loads and then only appended to, so a large cache holds pages nobody reads
// again; SQLite's default (2 MiB) grew with every room loaded. 512 KiB keeps
// the b-tree interiors and the pages appends touch.
constexpr const char* kCachePragma = "PRAGMA cache_size=-512;";

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::span<const std::uint8_t> digest_span(const Digest& d) { return {d.bytes.data(), d.bytes.size()}; }

// Runs the SELECT sql, its parameters set by bind, and calls row on each row.
Result<> select_rows(SqliteDb& db, const char* sql, const std::function<void(Statement&)>& bind,
                     const std::function<void(Statement&)>& row) {
  auto st = db.prepare(sql);
  if (!st) return std::unexpected(st.error());
  bind(*st);
  for (;;) {
    auto more = st->step();
    if (!more) return std::unexpected(more.error());
    if (!*more) return {};
    row(*st);
  }
}

Result<StoredRoom> load_room(SqliteDb& db, const std::string& name) {
  StoredRoom room;
  {
    // No row is made here: opening a room stores nothing (issue 18); the
    // room's first write calls create().
    auto st = db.prepare("SELECT id, snapshot, snapshot_seq FROM sync_rooms WHERE name = ?");
    if (!st) return std::unexpected(st.error());
    st->bind(1, name);
    auto row = st->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return room;  // id 0: never stored
    room.id = st->column_int64(0);
    if (!st->column_is_null(1)) {
      auto b = st->column_blob(1);
      room.snapshot.assign(b.begin(), b.end());
    }
    room.last_seq = static_cast<std::uint64_t>(st->column_int64(2));
  }
  auto bind_room = [&](Statement& st) { st.bind(1, room.id); };
  auto log = select_rows(db, "SELECT seq, data FROM sync_updates WHERE room_id = ? ORDER BY seq", bind_room,
                         [&](Statement& st) {
                           room.last_seq = std::max(room.last_seq, static_cast<std::uint64_t>(st.column_int64(0)));
                           auto b = st.column_blob(1);
                           room.log_bytes += b.size();
                           room.log.emplace_back(b.begin(), b.end());
                           room.log_seqs.push_back(static_cast<std::uint64_t>(st.column_int64(0)));
                         });
  if (!log) return std::unexpected(log.error());
  auto announced = select_rows(db, "SELECT hash, size, chunk_count FROM sync_announced WHERE room_id = ?", bind_room,
                               [&](Statement& st) {
                                 auto b = st.column_blob(0);
                                 if (b.size() != 32) return;
                                 AnnouncedBlob a;
                                 std::copy(b.begin(), b.end(), a.hash.bytes.begin());
                                 a.size = static_cast<std::uint64_t>(st.column_int64(1));
                                 a.chunk_count = static_cast<std::uint64_t>(st.column_int64(2));
                                 room.announced.push_back(a);
                               });
  if (!announced) return std::unexpected(announced.error());
  return room;
}

}  // namespace

Result<std::unique_ptr<RoomStore>> RoomStore::open(const std::filesystem::path& db_path, bool fsync) {
  SqliteOptions options;
  options.synchronous_full = fsync;
  auto db = SqliteDb::open(db_path, options);
  if (!db) return std::unexpected(db.error());
  if (auto r = (*db)->migrate("sync", kSchema); !r) return std::unexpected(r.error());
  if (auto r = (*db)->exec(kCachePragma); !r) return std::unexpected(r.error());
  std::int64_t max_id = 0;
  {
    auto st = (*db)->prepare("SELECT COALESCE(MAX(id), 0) FROM sync_rooms");
    if (!st) return std::unexpected(st.error());
    auto row = st->step();
    if (!row) return std::unexpected(row.error());
    if (*row) max_id = st->column_int64(0);
  }
  auto store = std::unique_ptr<RoomStore>(new RoomStore(std::move(*db)));
  store->next_id_ = max_id + 1;
  return store;
}

std::int64_t RoomStore::create(const std::string& name, std::shared_ptr<DurabilityListener> listener) {
  std::int64_t id = 0;
  {
    std::lock_guard lock(mu_);
    id = next_id_++;
  }
  // A plain INSERT: a name already stored would mean two rooms of one name,
  // so the group fails (and, through the listener, the room with it) rather
  // than write to a phantom.
  Job job;
  job.seq = 0;
  job.listener = std::move(listener);
  job.run = [id, name](SqliteDb& db) -> Result<> {
    auto st = db.prepare("INSERT INTO sync_rooms(id, name, updated_ms) VALUES (?, ?, ?)");
    if (!st) return std::unexpected(st.error());
    st->bind(1, id).bind(2, name).bind(3, now_ms());
    return st->run();
  };
  push(std::move(job));
  return id;
}

RoomStore::RoomStore(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {
  thread_ = std::thread([this] { loop(); });
}

RoomStore::~RoomStore() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void RoomStore::push(Job job) {
  bool wake;
  {
    std::lock_guard lock(mu_);
    // A write during the spacing wait joins the coming group: no wake-up.
    wake = !spacing_ || !job.write;
    if (!job.write) ++nonwrites_;
    jobs_.push_back(std::move(job));
  }
  if (wake) cv_.notify_one();
}

void RoomStore::loop() {
  std::vector<Job> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      busy_ = false;
      idle_cv_.notify_all();
      cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      busy_ = true;
      if (nonwrites_ == 0 && !stopping_ && std::chrono::steady_clock::now() < next_group_) {
        spacing_ = true;
        cv_.wait_until(lock, next_group_, [&] { return stopping_ || nonwrites_ > 0; });
        spacing_ = false;
      }
      batch.clear();
      bool writes = false;
      while (!jobs_.empty() && batch.size() < kMaxBatch) {
        writes |= jobs_.front().write;
        if (!jobs_.front().write) --nonwrites_;
        batch.push_back(std::move(jobs_.front()));
        jobs_.pop_front();
      }
      if (writes) next_group_ = std::chrono::steady_clock::now() + kCommitSpacing;
    }
    auto guard = db_->lock();
    std::size_t i = 0;
    while (i < batch.size()) {
      // A job is destroyed as soon as it has run (here and after each write
      // group): its callbacks may hold the last reference to a room, which
      // must go before a later flush() returns, not whenever the next batch
      // comes (ASan caught a room outliving its test's io_context that way).
      if (!batch[i].write) {
        run_between_job(batch[i]);
        batch[i] = Job{};
        ++i;
        continue;
      }
      // A run of consecutive writes: one transaction, one fsync. Writes whose
      // precondition failed are left out (with their room's later writes).
      std::size_t j = i;
      while (j < batch.size() && batch[j].write) ++j;
      std::unordered_map<DurabilityListener*, Error> refused;
      std::vector<bool> skip(j - i, false);
      for (std::size_t k = i; k < j; ++k) {
        auto& job = batch[k];
        auto it = job.listener ? refused.find(job.listener.get()) : refused.end();
        if (it == refused.end() && job.precondition && !*job.precondition && job.listener)
          it = refused.emplace(job.listener.get(), job.precondition->error()).first;
        skip[k - i] = it != refused.end() || (job.precondition && !*job.precondition);
      }
      Result<> result;
      {
        auto txn = db_->begin();
        if (!txn) {
          result = std::unexpected(txn.error());
        } else {
          for (std::size_t k = i; k < j && result; ++k)
            if (!skip[k - i]) result = batch[k].run(*db_);
          if (result) result = txn->commit();
        }
      }
      if (!result) spdlog::error("sync: room store commit failed: {}", result.error().to_string());
      if (commits_since_between_ && !result) commits_since_between_ = result;
      std::size_t appends = 0;
      std::unordered_map<DurabilityListener*, std::pair<std::shared_ptr<DurabilityListener>, std::uint64_t>> durable;
      std::vector<std::pair<std::shared_ptr<DurabilityListener>, std::pair<std::uint64_t, Error>>> failed;
      for (std::size_t k = i; k < j; ++k) {
        auto& job = batch[k];
        if (!job.listener) continue;
        if (auto it = refused.find(job.listener.get()); it != refused.end()) {
          if (failed.empty() || failed.back().first != job.listener)
            failed.push_back({job.listener, {job.seq, it->second}});
          continue;
        }
        ++appends;
        auto& slot = durable[job.listener.get()];
        slot.first = job.listener;
        slot.second = std::max(slot.second, job.seq);
      }
      {
        std::lock_guard lock(mu_);
        stats_.commits += 1;
        stats_.appends += appends;
      }
      for (std::size_t k = i; k < j; ++k) {
        if (!batch[k].done) continue;
        if (skip[k - i]) batch[k].done(std::unexpected(batch[k].precondition && !*batch[k].precondition
                                                           ? batch[k].precondition->error()
                                                           : refused.at(batch[k].listener.get())));
        else batch[k].done(result);
      }
      // A refused room hears of its first refused seq (and closes); the others of their commit.
      Told told;
      told.reserve(failed.size() + durable.size());
      for (auto& [listener, at] : failed) told.emplace_back(std::move(listener), at.first, std::unexpected(at.second));
      for (auto& [ptr, slot] : durable) told.emplace_back(std::move(slot.first), slot.second, result);
      tell(std::move(told));
      for (std::size_t k = i; k < j; ++k) batch[k] = Job{};
      i = j;
    }
  }
}

void RoomStore::set_listener_poster(std::function<void(std::function<void()>)> post) {
  std::lock_guard lock(post_mu_);
  poster_ = std::move(post);
}

namespace {
using Told = RoomStore::Told;
using Poster = std::function<void(std::function<void()>)>;

// Tells told[from...] for at most kTellBudget, then posts the rest behind the
// io_context's other work: a group of many rooms (or a room broadcasting to
// many connections first) holds one I/O thread for a bounded time only.
void tell_from(std::shared_ptr<Told> told, std::size_t from, Poster post) {
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t i = from; i < told->size(); ++i) {
    if (i > from && std::chrono::steady_clock::now() - start >= RoomStore::kTellBudget)
      return post([told, i, post] { tell_from(told, i, post); });
    const auto& [listener, seq, result] = (*told)[i];
    listener->on_durable(seq, result);
  }
}
}  // namespace

void RoomStore::tell(Told told) {
  if (told.empty()) return;
  auto shared = std::make_shared<Told>(std::move(told));
  {
    std::lock_guard lock(post_mu_);
    if (poster_) return poster_([shared, post = poster_] { tell_from(shared, 0, post); });
  }
  for (const auto& [listener, seq, result] : *shared) listener->on_durable(seq, result);
}

void RoomStore::run_between_job(Job& job) {
  if (job.after_commits_ok) {
    // A failed group since the last check (even another room's) skips the
    // job: what it would follow may not be durable. Erring this way only
    // keeps a hold longer (the room's next load reconciles it).
    Result<> ok = std::exchange(commits_since_between_, Result<>{});
    if (job.precondition && !*job.precondition) ok = *job.precondition;
    if (!ok) {
      if (job.done) job.done(ok);
      return;
    }
  }
  // A non-write job reports through its own done() or promise (run_between,
  // query_names, flush) and returns {}: there is nothing here to look at.
  (void)job.run(*db_);
}

void RoomStore::push_write(std::function<void(Result<>)> done, std::function<Result<>(SqliteDb&)> run) {
  Job job;
  job.done = std::move(done);
  job.run = std::move(run);
  push(std::move(job));
}

void RoomStore::load(std::string name, std::function<void(Result<StoredRoom>)> done) {
  Job job;
  job.write = false;
  job.run = [name = std::move(name), done = std::move(done)](SqliteDb& db) -> Result<> {
    done(load_room(db, name));
    return {};
  };
  push(std::move(job));
}

void RoomStore::append(std::int64_t room, std::uint64_t seq, crdt::Bytes delta,
                       std::shared_ptr<DurabilityListener> listener, std::shared_ptr<const Result<>> precondition) {
  Job job;
  job.seq = seq;
  job.listener = std::move(listener);
  job.precondition = std::move(precondition);
  job.run = [room, seq, delta = std::move(delta)](SqliteDb& db) -> Result<> {
    auto st = db.prepare("INSERT INTO sync_updates(room_id, seq, data) VALUES (?, ?, ?)");
    if (!st) return std::unexpected(st.error());
    st->bind(1, room).bind(2, static_cast<std::int64_t>(seq)).bind_blob(3, delta);
    return st->run();
  };
  push(std::move(job));
}

void RoomStore::run_between(std::function<Result<>()> fn, std::function<void(Result<>)> done,
                            std::shared_ptr<const Result<>> precondition, bool after_commits) {
  // A non-write job: the loop runs it outside any transaction, so the writes
  // queued before it were committed by then, and those after it start a new one.
  Job job;
  job.write = false;
  job.precondition = std::move(precondition);
  job.after_commits_ok = after_commits;
  // A failed precondition skips fn whether or not after_commits is set.
  if (job.precondition) job.after_commits_ok = true;
  job.done = done;
  job.run = [fn = std::move(fn), done = std::move(done)](SqliteDb&) -> Result<> {
    auto r = fn();
    if (done) done(r);
    return {};
  };
  push(std::move(job));
}

void RoomStore::compact(std::int64_t room, std::uint64_t upto_seq, crdt::Bytes snapshot,
                        std::function<void(Result<>)> done) {
  push_write(std::move(done), [room, upto_seq, snapshot = std::move(snapshot)](SqliteDb& db) -> Result<> {
    auto st = db.prepare("UPDATE sync_rooms SET snapshot = ?, snapshot_seq = ?, updated_ms = ? WHERE id = ?");
    if (!st) return std::unexpected(st.error());
    st->bind_blob(1, snapshot).bind(2, static_cast<std::int64_t>(upto_seq)).bind(3, now_ms()).bind(4, room);
    if (auto r = st->run(); !r) return r;
    auto del = db.prepare("DELETE FROM sync_updates WHERE room_id = ? AND seq <= ?");
    if (!del) return std::unexpected(del.error());
    del->bind(1, room).bind(2, static_cast<std::int64_t>(upto_seq));
    return del->run();
  });
}

void RoomStore::quarantine(std::int64_t room, std::uint64_t seq, std::string reason, std::function<void(Result<>)> done) {
  push_write(std::move(done), [this, room, seq, reason = std::move(reason)](SqliteDb& db) -> Result<> {
    auto ins = db.prepare(seq == 0 ? "INSERT OR IGNORE INTO sync_quarantine(room_id, seq, data, reason, at_ms) "
                                     "SELECT id, 0, snapshot, ?, ? FROM sync_rooms WHERE id = ? AND snapshot IS NOT NULL"
                                   : "INSERT OR IGNORE INTO sync_quarantine(room_id, seq, data, reason, at_ms) "
                                     "SELECT room_id, seq, data, ?, ? FROM sync_updates WHERE room_id = ? AND seq = ?");
    if (!ins) return std::unexpected(ins.error());
    ins->bind(1, reason).bind(2, now_ms()).bind(3, room);
    if (seq != 0) ins->bind(4, static_cast<std::int64_t>(seq));
    if (auto r = ins->run(); !r) return r;
    if (db.changes() > 0) {
      std::lock_guard lock(mu_);
      ++stats_.quarantined;
    }
    if (seq == 0) return {};
    auto del = db.prepare("DELETE FROM sync_updates WHERE room_id = ? AND seq = ?");
    if (!del) return std::unexpected(del.error());
    del->bind(1, room).bind(2, static_cast<std::int64_t>(seq));
    return del->run();
  });
}

void RoomStore::record_announce(std::int64_t room, AnnouncedBlob blob, std::function<void(Result<>)> done) {
  push_write(std::move(done), [room, blob](SqliteDb& db) -> Result<> {
    auto st = db.prepare(
        "INSERT INTO sync_announced(hash, room_id, size, chunk_count) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(hash, room_id) DO UPDATE SET size = excluded.size, chunk_count = excluded.chunk_count");
    if (!st) return std::unexpected(st.error());
    st->bind_blob(1, digest_span(blob.hash))
        .bind(2, room)
        .bind(3, static_cast<std::int64_t>(blob.size))
        .bind(4, static_cast<std::int64_t>(blob.chunk_count));
    return st->run();
  });
}

void RoomStore::remove_announce(std::int64_t room, Digest hash, std::function<void(Result<>)> done) {
  push_write(std::move(done), [room, hash](SqliteDb& db) -> Result<> {
    auto st = db.prepare("DELETE FROM sync_announced WHERE hash = ? AND room_id = ?");
    if (!st) return std::unexpected(st.error());
    st->bind_blob(1, digest_span(hash)).bind(2, room);
    return st->run();
  });
}

namespace {
Result<std::vector<std::string>> names_query(SqliteDb& db, const char* sql, const Digest* hash) {
  std::vector<std::string> out;
  auto bind_hash = [&](Statement& st) {
    if (hash) st.bind_blob(1, digest_span(*hash));
  };
  auto rows = select_rows(db, sql, bind_hash, [&](Statement& st) { out.push_back(st.column_text(0)); });
  if (!rows) return std::unexpected(rows.error());
  return out;
}
}  // namespace

Result<std::vector<std::string>> RoomStore::query_names(const char* sql, const Digest* hash) {
  std::promise<Result<std::vector<std::string>>> p;
  std::optional<Digest> h;
  if (hash) h = *hash;
  Job job;
  job.write = false;
  job.run = [&p, sql, h](SqliteDb& db) -> Result<> {
    p.set_value(names_query(db, sql, h ? &*h : nullptr));
    return {};
  };
  auto f = p.get_future();
  push(std::move(job));
  return f.get();
}

Result<std::vector<std::string>> RoomStore::rooms_with_announcements() {
  return query_names(
      "SELECT name FROM sync_rooms WHERE id IN (SELECT DISTINCT room_id FROM sync_announced) ORDER BY name", nullptr);
}

Result<std::vector<std::string>> RoomStore::rooms_announcing(const Digest& hash) {
  return query_names(
      "SELECT r.name FROM sync_announced a JOIN sync_rooms r ON r.id = a.room_id WHERE a.hash = ? ORDER BY r.name",
      &hash);
}

Result<std::vector<std::string>> RoomStore::room_names() {
  return query_names("SELECT name FROM sync_rooms ORDER BY name", nullptr);
}

Result<std::uint64_t> RoomStore::token_usage(const std::string& key) {
  std::promise<Result<std::uint64_t>> p;
  Job job;
  job.write = false;
  job.run = [&p, &key](SqliteDb& db) -> Result<> {
    std::uint64_t bytes = 0;
    auto rows = select_rows(
        db, "SELECT bytes FROM token_usage WHERE key = ?", [&](Statement& st) { st.bind(1, key); },
        [&](Statement& st) { bytes = static_cast<std::uint64_t>(std::max<std::int64_t>(0, st.column_int64(0))); });
    if (!rows) p.set_value(std::unexpected(rows.error()));
    else p.set_value(bytes);
    return {};
  };
  auto f = p.get_future();
  push(std::move(job));
  return f.get();
}

void RoomStore::save_token_usage(std::function<std::vector<std::pair<std::string, std::uint64_t>>()> rows) {
  push_write({}, [rows = std::move(rows)](SqliteDb& db) -> Result<> {
    for (const auto& [key, bytes] : rows()) {
      auto st = db.prepare(  // cached: one statement, reset per row
          "INSERT INTO token_usage(key, bytes, updated_ms) VALUES (?, ?, ?) "
          "ON CONFLICT(key) DO UPDATE SET bytes = excluded.bytes, updated_ms = excluded.updated_ms");
      if (!st) return std::unexpected(st.error());
      st->bind(1, key).bind(2, static_cast<std::int64_t>(bytes)).bind(3, now_ms());
      if (auto r = st->run(); !r) return r;
    }
    return {};
  });
}

void RoomStore::barrier(std::function<void(Result<>)> done) {
  push_write(std::move(done), [](SqliteDb&) -> Result<> { return {}; });
}

void RoomStore::release_memory() {
  Job job;
  job.write = false;
  job.run = [](SqliteDb& db) -> Result<> {
    sqlite3_db_release_memory(db.handle());
    malloc_trim(0);
    return {};
  };
  push(std::move(job));
}

void RoomStore::flush() {
  std::promise<void> p;
  Job job;
  job.write = false;
  job.run = [&p](SqliteDb&) -> Result<> {
    p.set_value();
    return {};
  };
  auto f = p.get_future();
  push(std::move(job));
  f.wait();
}

RoomStore::Stats RoomStore::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace blobsync::sync
