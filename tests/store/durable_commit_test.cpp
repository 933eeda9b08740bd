// The one-flush-phase commit (store/durable_commit.h): the row commits with a
// pending note while the bytes are flushed; a crash at any point, with power
// loss, leaves every reported blob intact and no row naming wrong bytes; the
// recovery at open removes noted rows whose bytes did not survive; a file at
// a final name is never trusted without a hash (docs/architecture.md,
// "Durable commit").
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "core/blob_id.h"
#include "store/blob_store.h"
#include "store/disk_backend.h"
#include "store/durable_commit.h"
#include "store/env.h"
#include "store/fault_injection_env.h"
#include "store/sqlite_metadata.h"
#include "test_util.h"

namespace blobsync {
namespace {

using testing::random_bytes;
using testing::sha;
using testing::TempDir;

const std::vector<std::byte>& payload() {
  static const auto data = random_bytes((3u << 20) + 777, 77);
  return data;
}

Result<std::unique_ptr<BlobStore>> open_store(const std::filesystem::path& dir, Env* env,
                                              std::shared_ptr<MetadataStore> meta = nullptr) {
  StoreOptions o;
  o.data_dir = dir;
  o.env = env;
  o.metadata = std::move(meta);
  return BlobStore::open(o);
}

std::filesystem::path blob_file(const std::filesystem::path& dir, const Digest& d) {
  std::string hex = d.hex();
  return dir / "blobs" / hex.substr(0, 2) / hex;
}

void add_note(const std::filesystem::path& dir, const Digest& d, std::int64_t token) {
  auto meta = SqliteMetadata::open(dir / "meta.db");
  ASSERT_TRUE(meta);
  auto st = (*meta)->db().prepare("INSERT INTO blob_pending(hash, token) VALUES (?, ?)");
  ASSERT_TRUE(st);
  st->bind_blob(1, std::span<const std::uint8_t>(d.bytes.data(), d.bytes.size()));
  st->bind(2, token);
  ASSERT_TRUE(st->run());
}

std::size_t note_count(const std::filesystem::path& dir) {
  auto meta = SqliteMetadata::open(dir / "meta.db");
  if (!meta) return 999;
  auto notes = (*meta)->pending_notes();
  return notes ? notes->size() : 999;
}

bool reads_back(BlobStore& store, const Digest& d, std::uint64_t size) {
  std::uint64_t n = 0;
  auto r = store.read_verified(d, [&](std::span<const std::byte> b) -> Result<> {
    n += b.size();
    return {};
  });
  return r && n == size;
}

TEST(DurableCommit, TheNoteGoesWithTheNextTransactionOrAtClose) {
  TempDir tmp;
  auto store = open_store(tmp.path(), Env::posix());
  ASSERT_TRUE(store);
  auto a = (*store)->put_bytes(random_bytes(5000, 1), {});
  ASSERT_TRUE(a);
  auto note_a = (*store)->metadata().pending_note(a->hash);
  ASSERT_TRUE(note_a);
  EXPECT_TRUE(note_a->has_value()) << "written with the row, deleted only by a later transaction";
  auto b = (*store)->put_bytes(random_bytes(5000, 2), {});
  ASSERT_TRUE(b);
  EXPECT_FALSE((*store)->metadata().pending_note(a->hash)->has_value());
  EXPECT_TRUE((*store)->metadata().pending_note(b->hash)->has_value());
  store->reset();
  EXPECT_EQ(note_count(tmp.path()), 0u);
}

TEST(DurableCommit, RecoveryKeepsIntactNotedBlobsAndRemovesTheOthers) {
  TempDir tmp;
  auto good = random_bytes(700'000, 3), flipped = random_bytes(600'000, 4), gone = random_bytes(1000, 5);
  {
    auto store = open_store(tmp.path(), Env::posix());
    ASSERT_TRUE(store);
    for (auto* b : {&good, &flipped, &gone}) ASSERT_TRUE((*store)->put_bytes(*b, {}));
  }
  ASSERT_EQ(note_count(tmp.path()), 0u);
  for (auto* b : {&good, &flipped, &gone}) add_note(tmp.path(), sha(*b), 42);
  {
    // The right size, other bytes: what a rename before its flush can leave.
    std::fstream f(blob_file(tmp.path(), sha(flipped)), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(300'001);
    f.put('\x5a');
  }
  std::filesystem::remove(blob_file(tmp.path(), sha(gone)));
  auto store = open_store(tmp.path(), Env::posix());
  ASSERT_TRUE(store) << store.error().to_string();
  EXPECT_TRUE(reads_back(**store, sha(good), good.size()));
  for (auto* b : {&flipped, &gone}) {
    auto st = (*store)->stat(sha(*b));
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, Errc::kNotFound);
    EXPECT_FALSE(std::filesystem::exists(blob_file(tmp.path(), sha(*b))));
  }
  EXPECT_EQ((*store)->stats()->blob_count, 1u);
  EXPECT_EQ(note_count(tmp.path()), 0u);
  EXPECT_TRUE((*store)->verify()->problems.empty());
  // The put that was never reported can be made again.
  ASSERT_TRUE((*store)->put_bytes(flipped, {}));
  EXPECT_TRUE(reads_back(**store, sha(flipped), flipped.size()));
}

// The CLI next to a running server: the server's notes are its own (their
// flushes may be done and the blob reported, its bytes damaged since: that
// is for verify to quarantine, not for a recovery to remove).
TEST(DurableCommit, AnotherLiveProcessesNotesAreLeftAlone) {
  TempDir tmp;
  auto server = open_store(tmp.path(), Env::posix());
  ASSERT_TRUE(server);
  auto rec = (*server)->put_bytes(payload(), {});
  ASSERT_TRUE(rec);
  ASSERT_TRUE((*server)->metadata().pending_note(rec->hash)->has_value());
  {
    std::fstream f(blob_file(tmp.path(), rec->hash), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1000);
    f.put('\x11');
  }
  auto cli = open_store(tmp.path(), Env::posix());
  ASSERT_TRUE(cli);
  EXPECT_TRUE((*cli)->stat(rec->hash)) << "a live process's reported blob was removed";
  EXPECT_TRUE(std::filesystem::exists(blob_file(tmp.path(), rec->hash)));
  auto report = (*cli)->verify();
  ASSERT_TRUE(report);
  ASSERT_FALSE(report->problems.empty());
  EXPECT_TRUE(report->problems[0].quarantined);
}

TEST(DurableCommit, AnUnindexedFileAtTheNameIsTrustedOnlyIfItHashesRight) {
  TempDir tmp;
  FaultInjectionEnv env(Env::posix());  // outlives the store
  auto store = open_store(tmp.path(), Env::posix());
  ASSERT_TRUE(store);
  const Digest d = sha(payload());
  // Garbage of the right size (a crash's leftover): replaced, not adopted.
  std::vector<std::byte> garbage(payload().size(), std::byte{7});
  std::ofstream(blob_file(tmp.path(), d), std::ios::binary)
      .write(reinterpret_cast<const char*>(garbage.data()), static_cast<std::streamsize>(garbage.size()));
  auto rec = (*store)->put_bytes(payload(), {});
  ASSERT_TRUE(rec) << rec.error().to_string();
  EXPECT_TRUE(reads_back(**store, d, payload().size()));
  EXPECT_TRUE((*store)->verify()->problems.empty());
  ASSERT_TRUE((*store)->remove(d));
  store->reset();

  // The right bytes, unindexed: adopted (our rename is refused), and synced by this put.
  {
    std::ofstream f(blob_file(tmp.path(), d), std::ios::binary);
    f.write(reinterpret_cast<const char*>(payload().data()), static_cast<std::streamsize>(payload().size()));
  }
  store = open_store(tmp.path(), &env);
  ASSERT_TRUE(store);
  auto renames = env.count(EnvOp::kRename), syncs = env.count(EnvOp::kFdatasync);
  ASSERT_TRUE((*store)->put_bytes(payload(), {}));
  EXPECT_EQ(env.count(EnvOp::kRename), renames + 1);  // one no-replace rename, refused
  EXPECT_EQ(env.count(EnvOp::kFdatasync), syncs + 1);
  EXPECT_TRUE(reads_back(**store, d, payload().size()));
}

TEST(DurableCommit, ADedupOnANotedRowSyncsTheStoredCopyFirst) {
  TempDir tmp;
  FaultInjectionEnv env(Env::posix());
  auto store = open_store(tmp.path(), &env);
  ASSERT_TRUE(store);
  ASSERT_TRUE((*store)->put_bytes(payload(), {}));
  // The first put's note is still there (no transaction since): the second
  // put cannot tell whether that copy is durable, so it syncs it, and fails
  // if that fails.
  auto syncs = env.count(EnvOp::kFdatasync);
  env.fail_nth(EnvOp::kFdatasync, 1, EIO);
  auto again = (*store)->put_bytes(payload(), {});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::kIOError);
  EXPECT_EQ(env.count(EnvOp::kFdatasync), syncs + 1);
  // Its transaction took the first put's note (that flush had completed):
  // a dedup now flushes nothing.
  EXPECT_FALSE((*store)->metadata().pending_note(sha(payload()))->has_value());
  ASSERT_TRUE((*store)->put_bytes(payload(), {}));
  EXPECT_EQ(env.count(EnvOp::kFdatasync), syncs + 1);
  EXPECT_TRUE(reads_back(**store, sha(payload()), payload().size()));
}

// SqliteMetadata as a process that dies sees it: once the Env has "crashed",
// the cleanups fail (delete_blob, clear_note, flush_notes) and, if
// `rows_die_too`, so does the row's insert (the crash came before the
// metadata commit, which runs beside the flush). `flush` places the put's
// flush (`meanwhile`): where the inner store puts it (this thread leads its
// group and hands the flush to a flush thread), or on this thread as when
// another caller's group commits the row, before or after that commit.
enum class FlushAt { kAsInner, kBeforeRow, kAfterRow };

class DyingMetadata final : public MetadataStore {
 public:
  DyingMetadata(std::shared_ptr<MetadataStore> inner, FaultInjectionEnv& env, bool rows_die_too,
                FlushAt flush = FlushAt::kAsInner)
      : inner_(std::move(inner)), env_(env), rows_die_too_(rows_die_too), flush_(flush) {}
  Result<bool> insert_blob(const BlobRecord& r, std::string_view h) override {
    return insert_blob_noted(r, h, {}, 0, {});
  }
  Result<bool> insert_blob_with(const BlobRecord& r, std::string_view h, const RowHook& w) override {
    return insert_blob_noted(r, h, w, 0, {});
  }
  bool keeps_notes() const override { return true; }
  Result<bool> insert_blob_noted(const BlobRecord& r, std::string_view h, const RowHook& w, std::int64_t n,
                                 const Meanwhile& meanwhile) override {
    if (rows_die_too_ && env_.crashed()) {
      if (meanwhile) meanwhile(false);
      return dead();
    }
    if (!meanwhile || flush_ == FlushAt::kAsInner) return inner_->insert_blob_noted(r, h, w, n, meanwhile);
    if (flush_ == FlushAt::kBeforeRow) meanwhile(false);
    auto row = inner_->insert_blob_noted(r, h, w, n, {});
    if (flush_ == FlushAt::kAfterRow) meanwhile(false);
    return row;
  }
  Result<std::optional<std::int64_t>> pending_note(const Digest& d) override { return inner_->pending_note(d); }
  void note_flushed(const Digest& d, std::int64_t n) override {
    if (!env_.crashed()) inner_->note_flushed(d, n);
  }
  Result<> flush_notes() override { return env_.crashed() ? dead() : inner_->flush_notes(); }
  Result<std::vector<std::pair<Digest, std::int64_t>>> pending_notes() override { return inner_->pending_notes(); }
  Result<> clear_note(const Digest& d, std::int64_t n) override { return env_.crashed() ? dead() : inner_->clear_note(d, n); }
  Result<std::optional<BlobRecord>> get_blob(const Digest& h) override { return inner_->get_blob(h); }
  Result<> set_state(const Digest& h, BlobState s) override { return inner_->set_state(h, s); }
  Result<> set_quarantine(const Digest& h, std::string_view r) override { return inner_->set_quarantine(h, r); }
  Result<> set_filename(const Digest& h, std::string_view n) override { return inner_->set_filename(h, n); }
  Result<std::uint64_t> count_quarantined() override { return inner_->count_quarantined(); }
  Result<> delete_blob(const Digest& h) override { return env_.crashed() ? dead() : inner_->delete_blob(h); }
  Result<std::vector<BlobRecord>> list_blobs(std::optional<Digest> a, std::size_t l) override {
    return inner_->list_blobs(a, l);
  }
  Result<MetadataStats> stats() override { return inner_->stats(); }

 private:
  static std::unexpected<Error> dead() { return fail(Errc::kIOError, "the process is dead"); }
  std::shared_ptr<MetadataStore> inner_;
  FaultInjectionEnv& env_;
  bool rows_die_too_;
  FlushAt flush_;
};

// A crash before every mutating call of a put (and of a dedup of it still
// noted), the metadata committing or not, then power loss: after reopening,
// a reported blob reads back intact, a row never names wrong bytes, and
// the put can be made again. The flush runs where a lone put runs it, and
// on the put's own thread before or after another caller commits its row.
TEST(DurableCommit, CrashAtEveryStepWithTheRowCommittedOrNotThenPowerLoss) {
  const Digest d = sha(payload());
  for (FlushAt flush : {FlushAt::kAsInner, FlushAt::kBeforeRow, FlushAt::kAfterRow}) {
    for (bool rows_die_too : {false, true}) {
      for (bool second_put : {false, true}) {
        std::uint64_t steps;
        {
          TempDir tmp;
          FaultInjectionEnv env(Env::posix());
          auto store = open_store(tmp.path(), &env);
          ASSERT_TRUE(store);
          if (second_put) {
            ASSERT_TRUE((*store)->put_bytes(payload(), {}));
          }
          std::uint64_t before = env.mutating_count();
          ASSERT_TRUE((*store)->put_bytes(payload(), {}));
          steps = env.mutating_count() - before;
        }
        ASSERT_GE(steps, second_put ? 0u : 5u);
        for (std::uint64_t k = 0; k <= steps; ++k) {
          static constexpr const char* kFlushAt[] = {"flush as a lone put, ", "flush before another's commit, ",
                                                     "flush after another's commit, "};
          std::string context = fmt::format("{}{}{}crash before mutating call {} of {}",
                                            kFlushAt[static_cast<int>(flush)],
                                            rows_die_too ? "row not committed, " : "row committed, ",
                                            second_put ? "a noted dedup, " : "", k + 1, steps);
          SCOPED_TRACE(context);
          TempDir tmp;
          FaultInjectionEnv env(Env::posix());
          bool ok;
          {
            auto meta = SqliteMetadata::open(tmp.path() / "meta.db");
            ASSERT_TRUE(meta);
            auto dying = std::make_shared<DyingMetadata>(std::shared_ptr<MetadataStore>(std::move(*meta)), env,
                                                         rows_die_too, flush);
            auto store = open_store(tmp.path(), &env, dying);
            ASSERT_TRUE(store);
            bool first_ok = !second_put || (*store)->put_bytes(payload(), {}).has_value();
            ASSERT_TRUE(first_ok);
            if (second_put) {
              // The first put is reported: whatever happens next, it must survive.
              env.crash_after(k);
              ok = true;
              (void)(*store)->put_bytes(payload(), {});
            } else {
              env.crash_after(k);
              ok = (*store)->put_bytes(payload(), {}).has_value();
            }
          }
          ASSERT_TRUE(env.power_loss());
          auto store = open_store(tmp.path(), Env::posix());
          ASSERT_TRUE(store) << store.error().to_string();
          auto rec = (*store)->stat(d);
          if (ok) {
            ASSERT_TRUE(rec) << "reported blob lost: " << rec.error().to_string();
          }
          if (rec) {
            EXPECT_TRUE(reads_back(**store, d, payload().size())) << "a row names wrong bytes";
          } else {
            EXPECT_EQ(rec.error().code, Errc::kNotFound);
          }
          EXPECT_EQ(note_count(tmp.path()), 0u);
          // Whatever was left at the name is not trusted: the put again gives the right bytes.
          ASSERT_TRUE((*store)->put_bytes(payload(), {}));
          EXPECT_TRUE(reads_back(**store, d, payload().size()));
          auto report = (*store)->verify();
          ASSERT_TRUE(report);
          for (auto& p : report->problems) ADD_FAILURE() << to_hash_ref(p.hash) << ": " << p.what;
        }
      }
    }
  }
}

TEST(DurableCommit, ReadersWaitForABlobBeingFlushed) {
  DurabilityGate gate;
  const Digest a = sha(random_bytes(10, 1)), b = sha(random_bytes(10, 2));
  gate.wait(a);  // nothing flushing: returns at once
  gate.enter(a);
  gate.wait(b);  // another digest: returns at once
  std::atomic<bool> passed{false};
  std::thread reader([&] {
    gate.wait(a);
    passed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_FALSE(passed.load());
  gate.leave(a);
  reader.join();
  EXPECT_TRUE(passed.load());
}

TEST(DurableCommit, FlushThreadsRunEveryTaskAndGrowOnlyWhenBusy) {
  std::atomic<int> ran{0};
  {
    FlushThreads threads(4);
    for (int i = 0; i < 100; ++i) threads.post([&] { ran.fetch_add(1); });
  }
  EXPECT_EQ(ran.load(), 100);
}

}  // namespace
}  // namespace blobsync
