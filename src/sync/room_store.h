// RoomStore: durable room state in SQLite (the server's meta.db), written by
// one thread with group commit.
//
// Per room: a snapshot (a v1 update of the whole document, or nothing) and a
// log of deltas numbered by a per-room sequence. The state of a room is the
// snapshot followed by the log. compact() replaces the snapshot and drops the
// log entries it covers in one transaction, so a crash at any point leaves a
// loadable state that loses nothing that was reported durable.
//
// Also kept here: the bytes each room token added (token_usage), and which blobs this server announced in which room's
// _blobRegistry (sync_announced), for withdraw-on-delete and re-announce at
// start.
//
// Group commit: jobs run strictly in the order they were queued; consecutive
// writes share one transaction (one fsync), so many concurrent updates cost
// one commit. A read (load) queued after a write sees it. Write groups start
// at least kCommitSpacing apart: a write that comes sooner after the previous
// group waits (with every write queued meanwhile) until then, unless a
// non-write job (a read, run_between, flush) is queued or the store stops.
// So a busy server commits (and a room broadcasts, sync/room.cpp) once per
// spacing, not once per fsync time; a quiet one commits at once.
//
// Thread safety: every method may be called from any thread. Callbacks run on
// the store's thread (listeners: see set_listener_poster) and must not block;
// post work elsewhere.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "core/digest.h"
#include "core/error.h"
#include "crdt/lib0.h"

namespace blobsync {
class SqliteDb;
}

namespace blobsync::sync {

struct AnnouncedBlob {
  Digest hash;
  std::uint64_t size = 0;
  std::uint64_t chunk_count = 0;
};

struct StoredRoom {
  std::int64_t id = 0;
  crdt::Bytes snapshot;            // v1 update, empty if none yet
  std::vector<crdt::Bytes> log;    // deltas after the snapshot, in order
  std::vector<std::uint64_t> log_seqs;  // their sequence numbers
  std::uint64_t last_seq = 0;      // highest sequence number stored
  std::uint64_t log_bytes = 0;
  std::vector<AnnouncedBlob> announced;
};

// Told once per commit with the highest sequence number made durable (or the
// error that lost the batch).
class DurabilityListener {
 public:
  virtual ~DurabilityListener() = default;
  virtual void on_durable(std::uint64_t seq, const Result<>& result) = 0;
};

class RoomStore {
 public:
  // Long enough to gather a busy server's updates into few fsyncs and few
  // broadcasts, short against the 10 ms send-to-delivery goal
  // (docs/performance.md): an update waits at most this plus one commit.
  static constexpr std::chrono::microseconds kCommitSpacing{5000};
  // How long one closure of set_listener_poster's tells rooms of a group.
  static constexpr std::chrono::microseconds kTellBudget{1000};

  // Opens the database (creating the sync tables) and starts the writer
  // thread. fsync: synchronous=FULL, else NORMAL.
  static Result<std::unique_ptr<RoomStore>> open(const std::filesystem::path& db_path, bool fsync);
  ~RoomStore();  // runs every queued job, then stops
  RoomStore(const RoomStore&) = delete;
  RoomStore& operator=(const RoomStore&) = delete;

  // Loads the room `name`; one never stored comes back empty with id 0
  // (loading stores nothing: a name gets a row only once it holds content).
  void load(std::string name, std::function<void(Result<StoredRoom>)> done);
  // Queues the row of a room loaded with id 0 and returns its id, usable at
  // once (writes queued after this one see the row). REQUIRES: `name` has no
  // row and no other create() for it is queued (RoomManager loads one Room
  // per name, and a load queued after the create sees the row). `listener`
  // (may be null) hears of a failed commit, as for append() (seq 0).
  std::int64_t create(const std::string& name, std::shared_ptr<DurabilityListener> listener = nullptr);
  // Appends a delta. REQUIRES: seq greater than every seq of the room so far.
  // `precondition` (may be null): set by a run_between() queued before; if it
  // holds an error when the append runs, the append fails with it (and its
  // commit group with it), so the delta never becomes durable.
  void append(std::int64_t room, std::uint64_t seq, crdt::Bytes delta, std::shared_ptr<DurabilityListener> listener,
              std::shared_ptr<const Result<>> precondition = nullptr);
  // Runs `fn` on the store's thread between commits: after every write
  // queued before it is durable, before any write queued after it begins.
  // For work in another database that must be ordered with a room's
  // appends (the holds its registry entries put on blobs). `fn` may block;
  // its result goes to `done` (may be empty), on the store's thread.
  // `precondition` (may be null): as for append(); with `after_commits`, fn
  // runs only if every write group since the previous such job committed
  // (so the writes queued before it are durable): for work that must follow
  // their durability. A skipped fn's `done` gets the error.
  void run_between(std::function<Result<>()> fn, std::function<void(Result<>)> done = {},
                   std::shared_ptr<const Result<>> precondition = nullptr, bool after_commits = false);
  // Makes `snapshot` the room's state up to and including upto_seq.
  void compact(std::int64_t room, std::uint64_t upto_seq, crdt::Bytes snapshot,
               std::function<void(Result<>)> done = {});
  // Keeps a stored entry that broke a limit at load aside, in
  // sync_quarantine with `reason` (never deleted by the server): the log
  // entry `seq` is moved there; seq 0 copies the snapshot (the room's next
  // compaction replaces it).
  void quarantine(std::int64_t room, std::uint64_t seq, std::string reason, std::function<void(Result<>)> done = {});
  void record_announce(std::int64_t room, AnnouncedBlob blob, std::function<void(Result<>)> done = {});
  void remove_announce(std::int64_t room, Digest hash, std::function<void(Result<>)> done = {});

  // Synchronous queries (queued like everything else, then awaited).
  Result<std::vector<std::string>> rooms_with_announcements();
  Result<std::vector<std::string>> rooms_announcing(const Digest& hash);
  // Every room ever created, by name.
  Result<std::vector<std::string>> room_names();
  // Room-token usage (sync/token_quota.h): the bytes stored for `key` (0 if
  // none), read synchronously; and a write of the rows `rows()` returns
  // when the job runs (so one job carries every change made until then).
  Result<std::uint64_t> token_usage(const std::string& key);
  void save_token_usage(std::function<std::vector<std::pair<std::string, std::uint64_t>>()> rows);
  // done runs once every write queued before it is durable.
  void barrier(std::function<void(Result<>)> done);
  // Waits until everything queued so far has run.
  void flush();
  // Queues a job that gives SQLite's page cache back (unpinned pages are
  // freed; the next reads fault them in from the OS cache) and then hands
  // free heap pages to the kernel: after rooms unloaded, the cache is what
  // their loads left (up to cache_size) in the store thread's arena.
  void release_memory();

  // Where DurabilityListener::on_durable runs: on the store's thread (the
  // default), or, with `post` set, in one closure per commit group handed to
  // `post` (the rooms' io_context): one wake-up per group instead of one per
  // room, and each room then runs inline on the thread that took it. A
  // closure that ran kTellBudget hands the rest of its group to `post` again
  // (fairness: other rooms' work is not held behind a large group). `post`
  // must stay callable until set_listener_poster({}) returns (which waits
  // for a post in progress) and, from the closures it runs, while they run.
  void set_listener_poster(std::function<void(std::function<void()>)> post);

  struct Stats {
    std::uint64_t commits = 0, appends = 0;
    std::uint64_t quarantined = 0;  // entries newly put in sync_quarantine
  };
  Stats stats() const;

  // A commit group's listeners, each with its seq and the group's result.
  using Told = std::vector<std::tuple<std::shared_ptr<DurabilityListener>, std::uint64_t, Result<>>>;

 private:
  struct Job {
    bool write = true;
    std::function<Result<>(SqliteDb&)> run;
    std::function<void(const Result<>&)> done;        // after commit (writes) or after run (reads)
    std::shared_ptr<DurabilityListener> listener;     // appends
    std::uint64_t seq = 0;
    // Writes: refused (with this error, and so are the listener's later
    // writes in the group) if it holds an error when the group forms; the
    // rest of the group commits. Non-writes (run_between): not run, and
    // `done` gets the error.
    std::shared_ptr<const Result<>> precondition;
    // Non-writes: run only if every write group since the previous such
    // job committed (else `done` gets that error).
    bool after_commits_ok = false;
  };
  explicit RoomStore(std::unique_ptr<SqliteDb> db);
  Result<std::vector<std::string>> query_names(const char* sql, const Digest* hash);
  void run_between_job(Job& job);
  // Tells each listener of its commit (set_listener_poster says where).
  void tell(Told told);
  void push(Job job);
  // A write job that reports through done once its group committed.
  void push_write(std::function<void(Result<>)> done, std::function<Result<>(SqliteDb&)> run);
  void loop();

  std::unique_ptr<SqliteDb> db_;
  mutable std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<Job> jobs_;   // guarded by mu_
  Result<> commits_since_between_;  // the loop thread's: every group since the last after_commits job
  std::mutex post_mu_;
  std::function<void(std::function<void()>)> poster_;  // guarded by post_mu_
  bool stopping_ = false;  // guarded by mu_
  bool busy_ = false;      // guarded by mu_
  bool spacing_ = false;   // guarded by mu_: the loop waits for kCommitSpacing (writes need not wake it)
  std::size_t nonwrites_ = 0;  // guarded by mu_: non-write jobs queued (they end the wait)
  std::chrono::steady_clock::time_point next_group_{};  // the loop thread's: when a write group may start
  Stats stats_;            // guarded by mu_
  std::int64_t next_id_ = 1;  // guarded by mu_: create()'s next room id
  std::thread thread_;
};

}  // namespace blobsync::sync
