// Fault tests through FaultInjectionEnv: a failure of any file-system call
// during a put, a crash at any instant (with power loss of what was not
// synced), corrupted bytes, a full disk and an unwritable data directory all
// leave the store consistent and give clear errors.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "core/blob_id.h"
#include "store/blob_store.h"
#include "store/disk_backend.h"
#include "store/env.h"
#include "store/fault_injection_env.h"
#include "store/sqlite_metadata.h"
#include "test_util.h"

namespace blobsync {
namespace {

using testing::random_bytes;
using testing::sha;
using testing::TempDir;

// 9 MiB + a bit: several ring slots and at least two writeback hints.
const std::vector<std::byte>& payload() {
  static const auto data = random_bytes((9u << 20) + 4321, 2024);
  return data;
}

// The disk backend's two write paths: O_DIRECT from the first full slot
// (the default), and buffered with writeback hints for the first 8 MiB, then
// O_DIRECT (so one put crosses from one to the other). And O_DIRECT with a
// background flush every 2 MiB (store/background_flusher.h): flushes on
// another thread, as many as timing allows (up to 4 for this payload).
enum class WriteMode { kDirect, kBufferedThenDirect, kDirectFlushingEarly };

Result<std::unique_ptr<BlobStore>> open_with(const std::filesystem::path& dir, Env* env,
                                             WriteMode mode = WriteMode::kDirect) {
  StoreOptions o;
  o.data_dir = dir;
  o.env = env;
  if (mode != WriteMode::kDirect) {
    if (auto r = env->mkdir(dir); !r) return std::unexpected(r.error());
    DiskBackendOptions bo;
    if (mode == WriteMode::kBufferedThenDirect) bo.direct_io_after = 8u << 20;
    if (mode == WriteMode::kDirectFlushingEarly) bo.flush_every = 2u << 20;
    auto b = DiskBackend::open(env, dir / "blobs", bo);
    if (!b) return std::unexpected(b.error());
    o.backend = std::move(*b);
  }
  return BlobStore::open(o);
}

class StoreFaultsByMode : public ::testing::TestWithParam<WriteMode> {};

std::vector<std::string> visible_blob_files(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  for (const auto& f : testing::files_under(dir / "blobs"))
    if (f.rfind("tmp/", 0) != 0) out.push_back(f);
  return out;
}

// The invariant after any failure: reopening with a healthy Env finds either
// the complete blob (row and verified bytes) or no trace of it, no temporary
// leftovers, and verify() finds nothing wrong.
void expect_consistent(const std::filesystem::path& dir, const Digest& d, bool put_succeeded,
                       const std::string& context) {
  SCOPED_TRACE(context);
  auto store = open_with(dir, Env::posix());
  ASSERT_TRUE(store) << store.error().to_string();
  auto tmp_files = testing::files_under(dir / "blobs" / "tmp");
  // Only the session lock of the store we just opened.
  ASSERT_EQ(tmp_files.size(), 1u) << tmp_files[0];
  EXPECT_NE(tmp_files[0].find(".lock"), std::string::npos);
  auto rec = (*store)->stat(d);
  auto files = visible_blob_files(dir);
  if (put_succeeded) {
    ASSERT_TRUE(rec) << "acknowledged blob lost: " << rec.error().to_string();
  }
  if (rec) {
    EXPECT_EQ(files.size(), 1u);
    std::uint64_t n = 0;
    auto r = (*store)->read_verified(d, [&](std::span<const std::byte> b) -> Result<> {
      n += b.size();
      return {};
    });
    EXPECT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(n, payload().size());
  } else {
    EXPECT_EQ(rec.error().code, Errc::kNotFound);
    EXPECT_TRUE(files.empty()) << files[0];
  }
  auto report = (*store)->verify();
  ASSERT_TRUE(report);
  for (auto& p : report->problems) ADD_FAILURE() << to_hash_ref(p.hash) << ": " << p.what;
}

const std::vector<EnvOp> kPutOps = {EnvOp::kOpen,      EnvOp::kWrite,  EnvOp::kWriteback, EnvOp::kFdatasync,
                                    EnvOp::kClose,     EnvOp::kRename, EnvOp::kFsyncDir,  EnvOp::kStat,
                                    EnvOp::kUnlink,    EnvOp::kRead,   EnvOp::kFileSize};

TEST_P(StoreFaultsByMode, FailingAnyCallOfAPutLeavesTheStoreConsistent) {
  // Count the calls of a healthy put first.
  std::array<std::uint64_t, kEnvOpCount> calls{};
  {
    TempDir tmp;
    FaultInjectionEnv env(Env::posix());
    auto store = open_with(tmp.path(), &env, GetParam());
    ASSERT_TRUE(store);
    std::array<std::uint64_t, kEnvOpCount> before{};
    for (std::size_t i = 0; i < kEnvOpCount; ++i) before[i] = env.count(static_cast<EnvOp>(i));
    ASSERT_TRUE((*store)->put_bytes(payload(), {}));
    for (std::size_t i = 0; i < kEnvOpCount; ++i) calls[i] = env.count(static_cast<EnvOp>(i)) - before[i];
  }
  EXPECT_GE(calls[static_cast<std::size_t>(EnvOp::kWrite)], 9u);
  if (GetParam() == WriteMode::kBufferedThenDirect) {
    EXPECT_GE(calls[static_cast<std::size_t>(EnvOp::kWriteback)], 2u);
  }
  EXPECT_GE(calls[static_cast<std::size_t>(EnvOp::kOpen)], 2u);  // the temp file, then its O_DIRECT twin
  if (GetParam() == WriteMode::kDirectFlushingEarly) {
    EXPECT_GE(calls[static_cast<std::size_t>(EnvOp::kFdatasync)], 2u);  // at least one early, then the commit's
  } else {
    EXPECT_EQ(calls[static_cast<std::size_t>(EnvOp::kFdatasync)], 1u);
  }
  EXPECT_EQ(calls[static_cast<std::size_t>(EnvOp::kRename)], 1u);
  EXPECT_EQ(calls[static_cast<std::size_t>(EnvOp::kFsyncDir)], 1u);

  const Digest d = sha(payload());
  int cases = 0;
  for (EnvOp op : kPutOps) {
    for (int err : {EIO, ENOSPC}) {
      for (std::uint64_t n = 1; n <= calls[static_cast<std::size_t>(op)]; ++n) {
        std::string context = fmt::format("{} #{} fails with {}", env_op_name(op), n, err == EIO ? "EIO" : "ENOSPC");
        TempDir tmp;
        bool ok;
        {
          FaultInjectionEnv env(Env::posix());
          auto store = open_with(tmp.path(), &env, GetParam());
          ASSERT_TRUE(store) << context;
          env.fail_nth(op, n, err);
          auto rec = (*store)->put_bytes(payload(), {});
          ok = rec.has_value();
          if (!ok) {
            EXPECT_FALSE(rec.error().message.empty());
            if (err == ENOSPC && env.faults_injected() > 0 && op != EnvOp::kStat) {
              EXPECT_EQ(rec.error().code, Errc::kNoSpace) << context << ": " << rec.error().to_string();
            }
            // Nothing visible right away either.
            EXPECT_FALSE(*(*store)->contains(d)) << context;
            EXPECT_TRUE(visible_blob_files(tmp.path()).empty()) << context;
          } else {
            EXPECT_EQ(rec->hash, d);
          }
        }
        expect_consistent(tmp.path(), d, ok, context);
        ++cases;
      }
    }
  }
  EXPECT_GT(cases, 30);
}

TEST_P(StoreFaultsByMode, CrashAtEveryStepThenPowerLoss) {
  // How many mutating calls a healthy put makes.
  std::uint64_t steps;
  {
    TempDir tmp;
    FaultInjectionEnv env(Env::posix());
    auto store = open_with(tmp.path(), &env, GetParam());
    ASSERT_TRUE(store);
    std::uint64_t before = env.mutating_count();
    ASSERT_TRUE((*store)->put_bytes(payload(), {}));
    steps = env.mutating_count() - before;
  }
  ASSERT_GT(steps, 10u);
  const Digest d = sha(payload());
  for (std::uint64_t k = 0; k <= steps; ++k) {
    std::string context = fmt::format("crash before mutating call {} of {}", k + 1, steps);
    TempDir tmp;
    FaultInjectionEnv env(Env::posix());
    bool ok;
    {
      auto store = open_with(tmp.path(), &env, GetParam());
      ASSERT_TRUE(store);
      env.crash_after(k);
      ok = (*store)->put_bytes(payload(), {}).has_value();
      // With early flushes the number of calls depends on timing (a flush
      // still running when the next is due is skipped): only the invariant.
      if (GetParam() != WriteMode::kDirectFlushingEarly) {
        EXPECT_EQ(ok, k == steps) << context;
      }
    }
    ASSERT_TRUE(env.power_loss());
    expect_consistent(tmp.path(), d, ok, context);
  }
}

INSTANTIATE_TEST_SUITE_P(WriteModes, StoreFaultsByMode,
                         ::testing::Values(WriteMode::kDirect, WriteMode::kBufferedThenDirect,
                                           WriteMode::kDirectFlushingEarly),
                         [](const ::testing::TestParamInfo<WriteMode>& p) -> std::string {
                           switch (p.param) {
                             case WriteMode::kDirect: return "Direct";
                             case WriteMode::kBufferedThenDirect: return "BufferedThenDirect";
                             case WriteMode::kDirectFlushingEarly: return "DirectFlushingEarly";
                           }
                           return "?";
                         });

// The first early flush fails: the put fails with that error, and nothing of
// it is visible then or after reopening.
// A rename that must not replace refuses atomically, through the real file
// system and through the fault-injection wrapper (which still logs it as a
// rename and undoes it on power loss).
TEST(StoreFaults, RenameNoReplaceRefusesAnExistingName) {
  TempDir tmp;
  auto write = [](const std::filesystem::path& p, const char* text) { std::ofstream(p) << text; };
  auto read = [](const std::filesystem::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  FaultInjectionEnv fenv(Env::posix());
  for (Env* env : {Env::posix(), static_cast<Env*>(&fenv)}) {
    auto a = tmp.path() / "a", b = tmp.path() / "b";
    write(a, "new");
    write(b, "old");
    auto r = env->rename_noreplace(a, b);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::kAlreadyExists);
    EXPECT_EQ(read(a), "new");  // both untouched
    EXPECT_EQ(read(b), "old");
    ASSERT_TRUE(std::filesystem::remove(b));
    ASSERT_TRUE(env->rename_noreplace(a, b)) << "the name is free now";
    EXPECT_FALSE(std::filesystem::exists(a));
    EXPECT_EQ(read(b), "new");
    ASSERT_TRUE(std::filesystem::remove(b));
  }
  EXPECT_EQ(fenv.count(EnvOp::kRename), 2u);
  // A rename no directory fsync followed is undone by a power cut.
  auto c = tmp.path() / "c", d = tmp.path() / "d";
  write(c, "x");
  fenv.clear_log();
  ASSERT_TRUE(fenv.rename_noreplace(c, d));
  ASSERT_TRUE(fenv.power_loss());
  EXPECT_TRUE(std::filesystem::exists(c));
  EXPECT_FALSE(std::filesystem::exists(d));
}

TEST(StoreFaults, FailedEarlyFlushFailsThePut) {
  TempDir tmp;
  FaultInjectionEnv env(Env::posix());
  const Digest d = sha(payload());
  {
    auto store = open_with(tmp.path(), &env, WriteMode::kDirectFlushingEarly);
    ASSERT_TRUE(store);
    env.fail_nth(EnvOp::kFdatasync, 1, EIO);
    auto rec = (*store)->put_bytes(payload(), {});
    ASSERT_FALSE(rec);
    EXPECT_EQ(env.faults_injected(), 1u);
    EXPECT_EQ(rec.error().code, Errc::kIOError) << rec.error().to_string();
    EXPECT_FALSE(*(*store)->contains(d));
    EXPECT_GE(env.count(EnvOp::kFdatasync), 1u);
  }
  expect_consistent(tmp.path(), d, false, "first early flush failed");
}

TEST(StoreFaults, AcknowledgedPutSurvivesPowerLoss) {
  TempDir tmp;
  FaultInjectionEnv env(Env::posix());
  Digest d;
  {
    auto store = open_with(tmp.path(), &env);
    ASSERT_TRUE(store);
    auto rec = (*store)->put_bytes(payload(), {});
    ASSERT_TRUE(rec);
    d = rec->hash;
  }
  ASSERT_TRUE(env.power_loss());
  expect_consistent(tmp.path(), d, true, "power loss after a successful put");
}

TEST(StoreFaults, FlippedByteIsCaughtByReadVerifiedAndVerify) {
  TempDir tmp;
  auto store = open_with(tmp.path(), Env::posix());
  ASSERT_TRUE(store);
  auto rec = (*store)->put_bytes(payload(), {});
  ASSERT_TRUE(rec);
  auto* disk = dynamic_cast<DiskBackend*>(&(*store)->backend());
  ASSERT_NE(disk, nullptr);
  auto path = disk->blob_path(rec->hash);
  // Flip one bit in chunk 5.
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    std::uint64_t at = 5 * 256 * 1024 + 17;
    f.seekg(static_cast<long>(at));
    char c;
    f.get(c);
    f.seekp(static_cast<long>(at));
    f.put(static_cast<char>(c ^ 0x10));
  }
  std::uint64_t delivered = 0;
  auto r = (*store)->read_verified(rec->hash, [&](std::span<const std::byte> b) -> Result<> {
    delivered += b.size();
    return {};
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kCorruption);
  EXPECT_NE(r.error().message.find("chunk 5"), std::string::npos) << r.error().message;
  EXPECT_EQ(delivered, 5u * 256 * 1024);  // the corrupt chunk never reached the sink

  auto report = (*store)->verify();
  ASSERT_TRUE(report);
  ASSERT_EQ(report->problems.size(), 2u);
  EXPECT_EQ(report->problems[0].what, "chunk 5 hash mismatch");
  EXPECT_EQ(report->problems[1].what, "content hash mismatch");

  // A re-put of the right bytes repairs nothing silently: the corrupt copy has the right size, so it stays
  // until removed; remove + put restores it.
  ASSERT_TRUE((*store)->remove(rec->hash));
  ASSERT_TRUE((*store)->put_bytes(payload(), {}));
  EXPECT_TRUE((*store)->verify()->problems.empty());
}

TEST(StoreFaults, VerifyReportsMissingTruncatedAndUnindexed) {
  TempDir tmp;
  auto store = open_with(tmp.path(), Env::posix());
  ASSERT_TRUE(store);
  auto a = (*store)->put_bytes(random_bytes(1000, 1), {});
  auto b = (*store)->put_bytes(random_bytes(300'000, 2), {});
  ASSERT_TRUE(a && b);
  auto* disk = dynamic_cast<DiskBackend*>(&(*store)->backend());
  std::filesystem::remove(disk->blob_path(a->hash));
  std::filesystem::resize_file(disk->blob_path(b->hash), 299'999);
  // Bytes with a valid name but no row.
  auto stray = random_bytes(77, 3);
  Digest sd = sha(stray);
  std::ofstream(disk->blob_path(sd), std::ios::binary).write(reinterpret_cast<const char*>(stray.data()), 77);

  auto report = (*store)->verify();
  ASSERT_TRUE(report);
  std::map<Digest, std::string> got;
  for (auto& p : report->problems) got[p.hash] = p.what;
  EXPECT_EQ(got.size(), 3u);
  EXPECT_EQ(got[a->hash], "missing");
  EXPECT_NE(got[b->hash].find("size mismatch"), std::string::npos);
  EXPECT_EQ(got[sd], "not indexed");

  auto r = (*store)->read_verified(a->hash, [](auto) -> Result<> { return {}; });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kCorruption);
}

TEST(StoreFaults, FullDiskGivesNoSpace) {
  TempDir tmp;
  FaultInjectionEnv env(Env::posix());
  auto store = open_with(tmp.path(), &env);
  ASSERT_TRUE(store);
  env.fail_always(EnvOp::kWrite, ENOSPC);
  auto rec = (*store)->put_bytes(payload(), {});
  ASSERT_FALSE(rec);
  EXPECT_EQ(rec.error().code, Errc::kNoSpace);
  EXPECT_NE(rec.error().to_string().find("No space left on device"), std::string::npos) << rec.error().to_string();
  // ENOSPC at fdatasync (delayed allocation on some file systems) as well.
  env.clear_faults();
  env.fail_always(EnvOp::kFdatasync, ENOSPC);
  rec = (*store)->put_bytes(payload(), {});
  ASSERT_FALSE(rec);
  EXPECT_EQ(rec.error().code, Errc::kNoSpace);
  env.clear_faults();
  EXPECT_TRUE(visible_blob_files(tmp.path()).empty());
  EXPECT_EQ(testing::files_under(tmp.path() / "blobs" / "tmp").size(), 1u);
  // And the store works again once space is back.
  EXPECT_TRUE((*store)->put_bytes(payload(), {}));
}

TEST(StoreFaults, UnwritableDataDirGivesPermissionDenied) {
  TempDir tmp;
  auto dir = tmp.path() / "data";
  if (::geteuid() != 0) {
    // A real read-only directory (root ignores permission bits, so only as a normal user).
    std::filesystem::create_directory(dir);
    std::filesystem::permissions(dir, std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
    auto store = open_with(dir, Env::posix());
    ASSERT_FALSE(store);
    EXPECT_EQ(store.error().code, Errc::kPermissionDenied) << store.error().to_string();
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all);
  }
  for (int err : {EACCES, EROFS}) {
    FaultInjectionEnv env(Env::posix());
    env.fail_always(EnvOp::kMkdir, err);
    auto store = open_with(tmp.path() / fmt::format("d{}", err), &env);
    ASSERT_FALSE(store);
    EXPECT_EQ(store.error().code, Errc::kPermissionDenied) << store.error().to_string();
    EXPECT_NE(store.error().message.find("data directory"), std::string::npos) << store.error().message;
  }
  // Writes refused after a successful open (e.g. remounted read-only).
  FaultInjectionEnv env(Env::posix());
  auto store = open_with(tmp.path() / "rw", &env);
  ASSERT_TRUE(store);
  env.fail_always(EnvOp::kOpen, EROFS);
  auto rec = (*store)->put_bytes(payload(), {});
  ASSERT_FALSE(rec);
  EXPECT_EQ(rec.error().code, Errc::kPermissionDenied);
}

TEST(StoreFaults, DataDirThatIsAFileIsAClearError) {
  TempDir tmp;
  auto file = tmp.path() / "plain-file";
  std::ofstream(file) << "x";
  auto store = open_with(file, Env::posix());
  ASSERT_FALSE(store);
  EXPECT_NE(store.error().message.find("plain-file"), std::string::npos) << store.error().message;
}

TEST(StoreFaults, NotADatabaseIsCorruption) {
  TempDir tmp;
  std::filesystem::create_directory(tmp.path() / "d");
  std::ofstream(tmp.path() / "d" / "meta.db") << std::string(4096, 'z');
  auto store = open_with(tmp.path() / "d", Env::posix());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, Errc::kCorruption) << store.error().to_string();
}

TEST(StoreFaults, ReopenRemovesLeftoversOfDeadSessions) {
  TempDir tmp;
  {
    auto store = open_with(tmp.path(), Env::posix());
    ASSERT_TRUE(store);
  }
  auto t = tmp.path() / "blobs" / "tmp";
  std::ofstream(t / "1234-deadbeef.0") << "partial";
  std::ofstream(t / "1234-deadbeef.1") << "partial";
  std::ofstream(t / "1234-deadbeef.lock") << "";
  std::ofstream(t / "garbage") << "?";
  auto store = open_with(tmp.path(), Env::posix());
  ASSERT_TRUE(store);
  auto left = testing::files_under(t);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_NE(left[0], "1234-deadbeef.lock");
}

// A metadata store that fails inserts: the bytes must not stay behind.
class FailingInserts final : public MetadataStore {
 public:
  explicit FailingInserts(std::shared_ptr<MetadataStore> inner) : inner_(std::move(inner)) {}
  Result<bool> insert_blob(const BlobRecord&, std::string_view) override {
    return fail(Errc::kIOError, "injected insert failure");
  }
  Result<std::optional<BlobRecord>> get_blob(const Digest& h) override { return inner_->get_blob(h); }
  Result<> set_state(const Digest& h, BlobState s) override { return inner_->set_state(h, s); }
  Result<> set_quarantine(const Digest& h, std::string_view r) override { return inner_->set_quarantine(h, r); }
  Result<> set_filename(const Digest& h, std::string_view n) override { return inner_->set_filename(h, n); }
  Result<std::uint64_t> count_quarantined() override { return inner_->count_quarantined(); }
  Result<> delete_blob(const Digest& h) override { return inner_->delete_blob(h); }
  Result<std::vector<BlobRecord>> list_blobs(std::optional<Digest> a, std::size_t l) override {
    return inner_->list_blobs(a, l);
  }
  Result<MetadataStats> stats() override { return inner_->stats(); }

 private:
  std::shared_ptr<MetadataStore> inner_;
};

TEST(StoreFaults, FailedIndexInsertRemovesTheBytes) {
  TempDir tmp;
  {
    auto meta = SqliteMetadata::open(tmp.path() / "meta.db");
    ASSERT_TRUE(meta);
    StoreOptions o;
    o.data_dir = tmp.path();
    o.metadata = std::make_shared<FailingInserts>(std::shared_ptr<MetadataStore>(std::move(*meta)));
    auto store = BlobStore::open(o);
    ASSERT_TRUE(store);
    auto rec = (*store)->put_bytes(payload(), {});
    ASSERT_FALSE(rec);
    EXPECT_EQ(rec.error().code, Errc::kIOError);
    EXPECT_TRUE(visible_blob_files(tmp.path()).empty());
  }
  expect_consistent(tmp.path(), sha(payload()), false, "insert failed");
}

}  // namespace
}  // namespace blobsync
