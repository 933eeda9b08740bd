// BlobChannel (blob_channel.h) with fake hooks and a real BlobStore,
// UploadStaging and MimePolicy. Worker tasks and strand posts go to one
// queue the test drains, so every step is deterministic and single-threaded.
#include "sync/blob_channel.h"

#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "../store/test_util.h"
#include "core/chunking.h"
#include "core/sha256.h"
#include "http/config.h"
#include "store/mime_policy.h"
#include "protocol/blob_messages.h"
#include "sync/upload_staging.h"
#include "sync_test_util.h"

namespace blobsync::sync {
namespace {

using testing::SuiteStore;

constexpr char kHold[] = "room:album@ws://self.test/sync";

std::vector<std::uint8_t> random_data(std::size_t n, std::uint64_t seed) {
  auto b = blobsync::testing::random_bytes(n, seed);
  std::vector<std::uint8_t> out(n);
  std::memcpy(out.data(), b.data(), n);
  return out;
}

std::vector<Digest> chunk_hashes(const std::vector<std::uint8_t>& data) {
  std::vector<Digest> out;
  for (std::uint64_t i = 0; i < chunk_count(data.size()); ++i)
    out.push_back(Sha256::of(data.data() + chunk_offset(i), chunk_length(i, data.size())));
  return out;
}

std::span<const std::uint8_t> chunk_of(const std::vector<std::uint8_t>& data, std::uint64_t i) {
  return {data.data() + chunk_offset(i), chunk_length(i, data.size())};
}

class BlobChannelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    suite_ = SuiteStore::open();
    ASSERT_TRUE(suite_);
  }
  static void TearDownTestSuite() { suite_.reset(); }

  void SetUp() override {
    ASSERT_TRUE(suite_);
    config_.window = 4;
    staging_dir_ = suite_->dir.path() / ("staging-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    staging_ = std::make_unique<UploadStaging>(staging_dir_, std::chrono::hours(24));
    ASSERT_TRUE(staging_->init());
    deps_ = std::make_unique<BlobChannelDeps>(BlobChannelDeps{
        config_, *suite_->shared.store, *staging_, mime_, [this](std::function<void()> fn) { tasks_.push_back(std::move(fn)); },
        {}, {}});
    channel_ = make_channel(false);
  }

  void TearDown() override {
    if (channel_) channel_->close();
    drain();
    channel_.reset();
  }

  std::shared_ptr<BlobChannel> make_channel(bool read_only, bool peer = false) {
    BlobChannel::ConnectionDeps h;
    h.send = [this](SharedBytes b) { frames_.push_back(std::move(b)); };
    h.post = [this](std::function<void()> fn) { tasks_.push_back(std::move(fn)); };
    h.queued_bytes = [] { return std::size_t{0}; };
    h.announce = [this](const AnnouncedBlob& blob, std::function<void(Result<>)> done) {
      announced_.push_back(blob);
      tasks_.push_back([done = std::move(done)] { done({}); });
    };
    h.listed = [this](std::vector<Digest> hashes, std::function<void(std::vector<bool>)> done) {
      std::vector<bool> out;
      for (const auto& d : hashes) out.push_back(listed_.contains(d));
      tasks_.push_back([done = std::move(done), out = std::move(out)] { done(out); });  // the room's strand
    };
    h.hold = kHold;
    h.read_only = read_only;
    h.peer = peer;
    return std::make_shared<BlobChannel>(*deps_, std::move(h));
  }

  // Runs queued tasks (and what they queue) until none is left.
  void drain() {
    for (int i = 0; i < 100000 && !tasks_.empty(); ++i) {
      auto fn = std::move(tasks_.front());
      tasks_.pop_front();
      fn();
    }
    ASSERT_TRUE(tasks_.empty()) << "tasks keep coming";
  }

  void frame(BlobChannel& ch, const protocol::BlobMessage& m) {
    ch.on_frame(protocol::encode_blob_message(m));
    drain();
  }
  void chunk(BlobChannel& ch, std::uint64_t req, std::uint64_t index, std::span<const std::uint8_t> data) {
    auto f = protocol::encode_chunk_header(req, index, data.size());
    f.insert(f.end(), data.begin(), data.end());
    ch.on_frame(std::move(f));
    drain();
  }

  // Frames sent since the last call, decoded (CHUNK data copied out).
  struct Got {
    std::vector<protocol::BlobMessage> msgs;
    std::vector<std::vector<std::uint8_t>> chunk_data;  // parallel to msgs, for CHUNKs
  };
  Got take() {
    Got g;
    for (const auto& f : frames_) {
      auto m = protocol::decode_blob_message(*f);
      EXPECT_TRUE(m) << m.error().message;
      if (!m) continue;
      if (auto* c = std::get_if<protocol::ChunkMsg>(&*m)) g.chunk_data.emplace_back(c->data.begin(), c->data.end());
      else g.chunk_data.emplace_back();
      g.msgs.push_back(std::move(*m));
    }
    frames_.clear();
    return g;
  }
  template <class T>
  static std::vector<T> all_of(const Got& g) {
    std::vector<T> out;
    for (const auto& m : g.msgs)
      if (auto* t = std::get_if<T>(&m)) out.push_back(*t);
    return out;
  }

  protocol::UploadMsg upload_msg(std::uint64_t req, const std::vector<std::uint8_t>& data,
                       std::string mime = "application/octet-stream") {
    return protocol::UploadMsg{req, Sha256::of(data.data(), data.size()), data.size(), std::move(mime), "f.bin",
                     chunk_hashes(data)};
  }

  // Sends `up` and chunk 0 of `data` on channel_; the ERRORs that came back.
  std::vector<protocol::ErrorMsg> upload_first_chunk(const protocol::UploadMsg& up, const std::vector<std::uint8_t>& data) {
    frame(*channel_, up);
    take();
    chunk(*channel_, up.req, 0, chunk_of(data, 0));
    return all_of<protocol::ErrorMsg>(take());
  }

  // `g` is one ERROR, for `req`, with `code` (fatal failures if not: call
  // it in ASSERT_NO_FATAL_FAILURE).
  static void expect_only_error(const Got& g, std::uint64_t req, protocol::BlobErrorCode code) {
    ASSERT_EQ(g.msgs.size(), 1u);
    auto* e = std::get_if<protocol::ErrorMsg>(&g.msgs[0]);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->req, req);
    EXPECT_EQ(e->code, code);
  }

  bool stored(const Digest& h) {
    auto r = suite_->shared.store->contains(h);
    return r && *r;
  }
  std::vector<std::string> holds_of(const Digest& h) { return suite_->holds_of(h); }

  static inline std::unique_ptr<SuiteStore> suite_;
  SyncConfig config_;
  MimePolicy mime_{default_allowed_mime()};
  std::filesystem::path staging_dir_;
  std::unique_ptr<UploadStaging> staging_;
  std::unique_ptr<BlobChannelDeps> deps_;
  std::shared_ptr<BlobChannel> channel_;
  std::deque<std::function<void()>> tasks_;
  std::vector<SharedBytes> frames_;
  std::vector<AnnouncedBlob> announced_;
  std::set<Digest> listed_;  // the room's _blobRegistry keys
};

TEST_F(BlobChannelTest, UploadStoresTheBlobWithTheRoomsHoldAndAnnouncesIt) {
  auto data = random_data(2 * kChunkSize + 1000, 1);  // 3 chunks, the last short
  auto up = upload_msg(1, data);
  frame(*channel_, up);
  auto g = take();
  ASSERT_EQ(g.msgs.size(), 1u);
  auto* want = std::get_if<protocol::WantMsg>(&g.msgs[0]);
  ASSERT_TRUE(want);
  EXPECT_EQ(want->req, 1u);
  EXPECT_EQ(want->window, 4u);
  EXPECT_EQ(want->missing, (std::vector<protocol::ChunkRange>{{0, 3}}));
  EXPECT_EQ(staging_->claimed(), 1u);

  for (std::uint64_t i = 0; i < 3; ++i) chunk(*channel_, 1, i, chunk_of(data, i));
  g = take();
  auto credits = all_of<protocol::CreditMsg>(g);
  EXPECT_EQ(credits.size(), 3u);
  for (const auto& c : credits) EXPECT_EQ(c, (protocol::CreditMsg{1, 1}));
  ASSERT_FALSE(g.msgs.empty());
  auto* done = std::get_if<protocol::DoneMsg>(&g.msgs.back());
  ASSERT_TRUE(done);
  EXPECT_EQ(*done, (protocol::DoneMsg{1, up.hash}));
  EXPECT_TRUE(all_of<protocol::ErrorMsg>(g).empty());

  ASSERT_TRUE(stored(up.hash));
  auto rec = suite_->shared.store->stat(up.hash);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->size, data.size());
  EXPECT_EQ(rec->chunk_hashes, up.chunk_hashes);
  EXPECT_EQ(rec->state, BlobState::kPermanent);
  EXPECT_EQ(holds_of(up.hash), std::vector<std::string>{kHold});
  ASSERT_EQ(announced_.size(), 1u);
  EXPECT_EQ(announced_[0].hash, up.hash);
  EXPECT_EQ(announced_[0].size, data.size());
  EXPECT_EQ(announced_[0].chunk_count, 3u);
  EXPECT_EQ(staging_->claimed(), 0u);
  EXPECT_TRUE(blobsync::testing::files_under(staging_dir_).empty());

  // The same blob again: nothing to send, announced again, DONE.
  frame(*channel_, upload_msg(3, data));
  g = take();
  ASSERT_EQ(g.msgs.size(), 2u);
  EXPECT_EQ(std::get<protocol::WantMsg>(g.msgs[0]).missing, std::vector<protocol::ChunkRange>{});
  EXPECT_EQ(std::get<protocol::DoneMsg>(g.msgs[1]), (protocol::DoneMsg{3, up.hash}));
  EXPECT_EQ(announced_.size(), 2u);
}

TEST_F(BlobChannelTest, ACorruptChunkIsAHashMismatchAndNothingIsStored) {
  auto data = random_data(kChunkSize + 10, 2);
  auto up = upload_msg(1, data);
  frame(*channel_, up);
  take();
  auto bad = std::vector<std::uint8_t>(chunk_of(data, 1).begin(), chunk_of(data, 1).end());
  bad[3] ^= 0xff;
  chunk(*channel_, 1, 0, chunk_of(data, 0));
  chunk(*channel_, 1, 1, bad);
  auto g = take();
  auto errors = all_of<protocol::ErrorMsg>(g);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].req, 1u);
  EXPECT_EQ(errors[0].code, protocol::BlobErrorCode::kHashMismatch);
  EXPECT_TRUE(all_of<protocol::DoneMsg>(g).empty());
  EXPECT_FALSE(stored(up.hash));
  EXPECT_TRUE(announced_.empty());
  EXPECT_EQ(staging_->claimed(), 0u);
  // A late chunk of the ended upload is ignored, not answered.
  chunk(*channel_, 1, 1, chunk_of(data, 1));
  EXPECT_TRUE(take().msgs.empty());
  // The staging was discarded: a new upload starts from nothing, and succeeds.
  frame(*channel_, upload_msg(3, data));
  g = take();
  ASSERT_EQ(g.msgs.size(), 1u);
  EXPECT_EQ(std::get<protocol::WantMsg>(g.msgs[0]).missing, (std::vector<protocol::ChunkRange>{{0, 2}}));
  chunk(*channel_, 3, 0, chunk_of(data, 0));
  chunk(*channel_, 3, 1, chunk_of(data, 1));
  g = take();
  EXPECT_EQ(all_of<protocol::DoneMsg>(g), (std::vector<protocol::DoneMsg>{{3, up.hash}}));
  EXPECT_TRUE(stored(up.hash));
}

TEST_F(BlobChannelTest, ChunkHashesThatDoNotAddUpToTheBlobAreAHashMismatch) {
  auto data = random_data(1000, 3);
  auto up = upload_msg(1, data);
  up.hash = Sha256::of("something else", 14);  // the chunk hashes are right, the blob hash is not
  auto errors = upload_first_chunk(up, data);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, protocol::BlobErrorCode::kHashMismatch);
  EXPECT_FALSE(stored(up.hash));
  EXPECT_FALSE(stored(Sha256::of(data.data(), data.size())));
  EXPECT_TRUE(announced_.empty());
}

TEST_F(BlobChannelTest, AResumedUploadAsksOnlyForMissingChunksAndResendsDamagedOnes) {
  auto data = random_data(3 * kChunkSize, 4);
  auto up = upload_msg(1, data);
  frame(*channel_, up);
  take();
  chunk(*channel_, 1, 0, chunk_of(data, 0));
  chunk(*channel_, 1, 1, chunk_of(data, 1));
  channel_->close();  // the connection dropped: staging stays
  drain();
  EXPECT_EQ(staging_->claimed(), 0u);
  // The disk lost chunk 1's bytes (its bit survived).
  {
    auto part = staging_dir_ / (up.hash.hex() + ".part");
    ASSERT_TRUE(std::filesystem::exists(part)) << part;
    std::fstream f(part, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(kChunkSize + 7));
    f.put('\0');
    f.put('\1');
  }
  channel_ = make_channel(false);
  frames_.clear();
  frame(*channel_, upload_msg(5, data));
  auto g = take();
  ASSERT_EQ(g.msgs.size(), 1u);
  EXPECT_EQ(std::get<protocol::WantMsg>(g.msgs[0]).missing, (std::vector<protocol::ChunkRange>{{2, 1}}));
  chunk(*channel_, 5, 2, chunk_of(data, 2));
  g = take();
  // The whole-blob check fails, re-verification finds chunk 1: asked for again.
  auto wants = all_of<protocol::WantMsg>(g);
  ASSERT_EQ(wants.size(), 1u);
  EXPECT_EQ(wants[0].missing, (std::vector<protocol::ChunkRange>{{1, 1}}));
  EXPECT_TRUE(all_of<protocol::ErrorMsg>(g).empty());
  EXPECT_FALSE(stored(up.hash));
  chunk(*channel_, 5, 1, chunk_of(data, 1));
  g = take();
  EXPECT_EQ(all_of<protocol::DoneMsg>(g), (std::vector<protocol::DoneMsg>{{5, up.hash}}));
  EXPECT_TRUE(stored(up.hash));
}

TEST_F(BlobChannelTest, AnIdleUploadEndsWithCancelledAndItsEmptyStagingGoes) {
  std::vector<std::function<void()>> timers;
  int cancelled = 0;
  deps_->run_after = [&](std::chrono::milliseconds, std::function<void()> fn) -> std::function<void()> {
    timers.push_back(std::move(fn));
    return [&cancelled] { ++cancelled; };
  };
  config_.upload_idle_timeout = std::chrono::milliseconds(0);  // idle as soon as the timer looks
  auto idle = random_data(2 * kChunkSize, 7);
  auto busy = random_data(2 * kChunkSize, 8);
  frame(*channel_, upload_msg(1, idle));
  frame(*channel_, upload_msg(3, busy));
  take();
  EXPECT_EQ(staging_->claimed(), 2u);
  ASSERT_EQ(timers.size(), 2u);
  // Upload 3 got a chunk: half its staging is worth resuming.
  chunk(*channel_, 3, 0, chunk_of(busy, 0));
  take();
  for (auto& fire : std::exchange(timers, {})) fire();
  drain();
  auto g = take();
  auto errors = all_of<protocol::ErrorMsg>(g);
  ASSERT_EQ(errors.size(), 2u);
  for (const auto& e : errors) EXPECT_EQ(e.code, protocol::BlobErrorCode::kCancelled);
  EXPECT_NE(errors[0].message.find("upload_idle_timeout"), std::string::npos);
  EXPECT_EQ(staging_->claimed(), 0u);
  // The empty staging is gone, the other kept for a resume.
  EXPECT_EQ(blobsync::testing::files_under(staging_dir_).size(), 2u);
  EXPECT_EQ(staging_->staged_bytes(), kChunkSize);
  EXPECT_TRUE(timers.empty());
  // A late chunk for an ended upload is ignored.
  chunk(*channel_, 3, 1, chunk_of(busy, 1));
  EXPECT_TRUE(take().msgs.empty());
}

TEST_F(BlobChannelTest, UploadsPerConnectionAndStagingBytesAreLimited) {
  config_.max_uploads_per_connection = 1;
  config_.max_staging_bytes = 3 * kChunkSize;
  // A staging with the cap, and a channel on it.
  channel_->close();
  drain();
  channel_.reset();
  staging_ = std::make_unique<UploadStaging>(staging_dir_, std::chrono::hours(24), config_.max_staging_bytes);
  ASSERT_TRUE(staging_->init());
  deps_ = std::make_unique<BlobChannelDeps>(BlobChannelDeps{
      config_, *suite_->shared.store, *staging_, mime_, [this](std::function<void()> fn) { tasks_.push_back(std::move(fn)); },
      {}, {}});
  channel_ = make_channel(false);
  frame(*channel_, upload_msg(1, random_data(2 * kChunkSize, 9)));
  take();
  frame(*channel_, upload_msg(3, random_data(kChunkSize, 10)));
  ASSERT_NO_FATAL_FAILURE(expect_only_error(take(), 3, protocol::BlobErrorCode::kBusy));
  auto other = make_channel(false);
  frame(*other, upload_msg(5, random_data(2 * kChunkSize, 11)));  // 2 + 2 chunks > 3
  auto g = take();
  ASSERT_NO_FATAL_FAILURE(expect_only_error(g, 5, protocol::BlobErrorCode::kBusy));
  EXPECT_NE(std::get<protocol::ErrorMsg>(g.msgs[0]).message.find("max_staging_bytes"), std::string::npos);
  frame(*other, upload_msg(7, random_data(kChunkSize, 12)));  // 2 + 1 fit
  EXPECT_TRUE(all_of<protocol::ErrorMsg>(take()).empty());
  other->close();
  drain();
}

TEST_F(BlobChannelTest, RequestSendsMetaThenChunksWithinTheCreditWindowThenDone) {
  auto data = random_data(5 * kChunkSize + 123, 5);  // 6 chunks
  PutOptions po;
  auto rec = suite_->shared.store->put_bytes(std::as_bytes(std::span<const std::uint8_t>(data)), po);
  ASSERT_TRUE(rec) << rec.error().to_string();
  listed_.insert(rec->hash);
  frame(*channel_, protocol::RequestMsg{7, rec->hash, 2, {}});  // the client's window (2) is below the server's (4)
  auto g = take();
  ASSERT_GE(g.msgs.size(), 1u);
  auto* meta = std::get_if<protocol::MetaMsg>(&g.msgs[0]);
  ASSERT_TRUE(meta);
  EXPECT_EQ(meta->req, 7u);
  EXPECT_EQ(meta->size, data.size());
  EXPECT_EQ(meta->chunk_count, 6u);
  EXPECT_EQ(meta->chunk_hashes, chunk_hashes(data));
  std::vector<std::uint8_t> received;
  std::uint64_t next = 0;
  auto collect = [&](const Got& got) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < got.msgs.size(); ++i) {
      auto* c = std::get_if<protocol::ChunkMsg>(&got.msgs[i]);
      if (!c) continue;
      EXPECT_EQ(c->req, 7u);
      EXPECT_EQ(c->index, next++);
      received.insert(received.end(), got.chunk_data[i].begin(), got.chunk_data[i].end());
      ++n;
    }
    return n;
  };
  EXPECT_EQ(collect(g), 2u) << "more chunks than the window without credit";
  EXPECT_TRUE(all_of<protocol::DoneMsg>(g).empty());
  frame(*channel_, protocol::CreditMsg{7, 1});
  g = take();
  EXPECT_EQ(collect(g), 1u);
  frame(*channel_, protocol::CreditMsg{7, 2});
  g = take();
  EXPECT_EQ(collect(g), 2u);
  EXPECT_TRUE(all_of<protocol::DoneMsg>(g).empty());
  frame(*channel_, protocol::CreditMsg{7, 2});
  g = take();
  EXPECT_EQ(collect(g), 1u);
  EXPECT_EQ(all_of<protocol::DoneMsg>(g), (std::vector<protocol::DoneMsg>{{7, rec->hash}}));
  EXPECT_EQ(received, data);
  // A credit after DONE is ignored.
  frame(*channel_, protocol::CreditMsg{7, 1});
  EXPECT_TRUE(take().msgs.empty());

  // Wanted ranges only.
  frame(*channel_, protocol::RequestMsg{9, rec->hash, 16, {{1, 1}, {4, 2}}});
  g = take();
  ASSERT_TRUE(std::holds_alternative<protocol::MetaMsg>(g.msgs[0]));
  EXPECT_EQ(std::get<protocol::MetaMsg>(g.msgs[0]).chunk_hashes.size(), 3u);
  std::vector<std::uint64_t> indexes;
  for (const auto& c : all_of<protocol::ChunkMsg>(g)) indexes.push_back(c.index);
  EXPECT_EQ(indexes, (std::vector<std::uint64_t>{1, 4, 5}));  // 3 chunks, inside the window of 4
  EXPECT_EQ(all_of<protocol::DoneMsg>(g).size(), 1u);
}

TEST_F(BlobChannelTest, RequestOfAMissingBlobIsNotFound) {
  auto h = Sha256::of("nobody has this", 15);
  frame(*channel_, protocol::RequestMsg{11, h, 4, {}});
  ASSERT_NO_FATAL_FAILURE(expect_only_error(take(), 11, protocol::BlobErrorCode::kNotFound));
  // Even ids are the server's: refused.
  frame(*channel_, protocol::RequestMsg{12, h, 4, {}});
  auto g = take();
  ASSERT_EQ(g.msgs.size(), 1u);
  EXPECT_EQ(std::get<protocol::ErrorMsg>(g.msgs[0]).code, protocol::BlobErrorCode::kBadRequest);
}

TEST_F(BlobChannelTest, HaveAnswersWithABitmap) {
  std::string a = "have test blob a", c = "have test blob c";
  ASSERT_TRUE(suite_->shared.store->put_bytes(blobsync::testing::as_bytes(a), PutOptions{}));
  ASSERT_TRUE(suite_->shared.store->put_bytes(blobsync::testing::as_bytes(c), PutOptions{}));
  auto ha = Sha256::of(a.data(), a.size()), hc = Sha256::of(c.data(), c.size());
  auto hb = Sha256::of("have test blob b", 16);
  listed_ = {ha, hb, hc};
  frame(*channel_, protocol::HaveMsg{13, {ha, hb, hc}});
  auto g = take();
  ASSERT_EQ(g.msgs.size(), 1u);
  auto* r = std::get_if<protocol::HaveReplyMsg>(&g.msgs[0]);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->req, 13u);
  ASSERT_GE(r->have.size(), 3u);
  EXPECT_TRUE(r->have[0]);
  EXPECT_FALSE(r->have[1]);
  EXPECT_TRUE(r->have[2]);
}

// Issue 17: reads through a room follow that room's registry.
TEST_F(BlobChannelTest, HaveAnswersOnlyForBlobsTheRoomListsAndIsBounded) {
  std::string a = "have scoped blob a", c = "have scoped blob c";
  ASSERT_TRUE(suite_->shared.store->put_bytes(blobsync::testing::as_bytes(a), PutOptions{}));
  ASSERT_TRUE(suite_->shared.store->put_bytes(blobsync::testing::as_bytes(c), PutOptions{}));
  auto ha = Sha256::of(a.data(), a.size()), hc = Sha256::of(c.data(), c.size());
  listed_ = {ha};  // c is stored, but another room's
  frame(*channel_, protocol::HaveMsg{15, {ha, hc}});
  auto g = take();
  ASSERT_EQ(g.msgs.size(), 1u);
  auto* r = std::get_if<protocol::HaveReplyMsg>(&g.msgs[0]);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->have[0]);
  EXPECT_FALSE(r->have[1]) << "a blob this room does not list is not admitted to, stored or not";

  std::vector<Digest> many(protocol::kMaxHaveHashes + 1, ha);
  frame(*channel_, protocol::HaveMsg{17, many});
  ASSERT_NO_FATAL_FAILURE(expect_only_error(take(), 17, protocol::BlobErrorCode::kBadRequest));
  many.pop_back();
  frame(*channel_, protocol::HaveMsg{19, many});
  g = take();
  ASSERT_EQ(g.msgs.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<protocol::HaveReplyMsg>(g.msgs[0])) << "the limit itself is allowed";
}

TEST_F(BlobChannelTest, RequestOfABlobTheRoomDoesNotListIsNotFoundLikeAMissingOne) {
  auto data = random_data(1000, 21);
  auto rec = suite_->shared.store->put_bytes(std::as_bytes(std::span<const std::uint8_t>(data)), PutOptions{});
  ASSERT_TRUE(rec);
  frame(*channel_, protocol::RequestMsg{21, rec->hash, 4, {}});
  ASSERT_NO_FATAL_FAILURE(expect_only_error(take(), 21, protocol::BlobErrorCode::kNotFound));
  listed_.insert(rec->hash);
  frame(*channel_, protocol::RequestMsg{23, rec->hash, 4, {}});
  auto g = take();
  EXPECT_EQ(all_of<protocol::DoneMsg>(g).size(), 1u) << "listed: served";
}

TEST_F(BlobChannelTest, ATemporaryUploadIsNeverReadThroughARoomEvenIfListed) {
  auto data = random_data(1000, 25);
  PutOptions temp;
  temp.state = BlobState::kTemporary;  // an XRPC uploadBlob nothing references yet
  auto rec = suite_->shared.store->put_bytes(std::as_bytes(std::span<const std::uint8_t>(data)), temp);
  ASSERT_TRUE(rec);
  listed_.insert(rec->hash);
  frame(*channel_, protocol::RequestMsg{25, rec->hash, 4, {}});
  ASSERT_NO_FATAL_FAILURE(expect_only_error(take(), 25, protocol::BlobErrorCode::kNotFound));
  frame(*channel_, protocol::HaveMsg{27, {rec->hash}});
  auto g = take();
  ASSERT_EQ(g.msgs.size(), 1u);
  EXPECT_FALSE(std::get<protocol::HaveReplyMsg>(g.msgs[0]).have[0]);
}

// A request cancelled while the room checks its listing, and its id reused
// at once: the first request's callback must not answer the second.
TEST_F(BlobChannelTest, AReusedRequestIdIsAnsweredForTheNewRequestOnly) {
  auto one = random_data(100, 31), two = random_data(3 * kChunkSize, 32);
  auto r1 = suite_->shared.store->put_bytes(std::as_bytes(std::span<const std::uint8_t>(one)), PutOptions{});
  auto r2 = suite_->shared.store->put_bytes(std::as_bytes(std::span<const std::uint8_t>(two)), PutOptions{});
  ASSERT_TRUE(r1 && r2);
  listed_ = {r1->hash, r2->hash};
  channel_->on_frame(protocol::encode_blob_message(protocol::RequestMsg{5, r1->hash, 16, {}}));
  channel_->on_frame(protocol::encode_blob_message(protocol::CancelMsg{5}));
  channel_->on_frame(protocol::encode_blob_message(protocol::RequestMsg{5, r2->hash, 16, {}}));
  drain();
  auto metas = all_of<protocol::MetaMsg>(take());
  ASSERT_EQ(metas.size(), 1u);
  EXPECT_EQ(metas[0].size, two.size()) << "the second request's blob, not the cancelled one's";
}

TEST_F(BlobChannelTest, APeerReadsAnyPermanentBlobWithoutTheRoomListingIt) {
  auto data = random_data(1000, 29);
  auto rec = suite_->shared.store->put_bytes(std::as_bytes(std::span<const std::uint8_t>(data)), PutOptions{});
  ASSERT_TRUE(rec);
  auto peer = make_channel(false, /*peer=*/true);
  frame(*peer, protocol::RequestMsg{29, rec->hash, 4, {}});
  auto g = take();
  EXPECT_EQ(all_of<protocol::DoneMsg>(g).size(), 1u);
  peer->close();
}

TEST_F(BlobChannelTest, ReadOnlyConnectionsCannotUpload) {
  auto ro = make_channel(true);
  auto data = random_data(100, 6);
  auto up = upload_msg(1, data);
  frame(*ro, up);
  ASSERT_NO_FATAL_FAILURE(expect_only_error(take(), 1, protocol::BlobErrorCode::kForbidden));
  EXPECT_EQ(staging_->claimed(), 0u);
  // Its chunks go nowhere.
  chunk(*ro, 1, 0, chunk_of(data, 0));
  EXPECT_FALSE(stored(up.hash));
  EXPECT_TRUE(announced_.empty());
  // Reading is allowed.
  frame(*ro, protocol::HaveMsg{3, {up.hash}});
  auto g = take();
  ASSERT_EQ(g.msgs.size(), 2u);  // the stray CHUNK's error, then the reply
  EXPECT_EQ(std::get<protocol::ErrorMsg>(g.msgs[0]).code, protocol::BlobErrorCode::kBadRequest);
  EXPECT_FALSE(std::get<protocol::HaveReplyMsg>(g.msgs[1]).have.at(0));
  ro->close();
}

TEST_F(BlobChannelTest, AnUnsupportedTypeIsRefusedAndNotStored) {
  auto data = random_data(2000, 7);
  auto up = upload_msg(1, data, "application/x-not-allowed");
  auto errors = upload_first_chunk(up, data);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, protocol::BlobErrorCode::kUnsupportedType);
  EXPECT_FALSE(stored(up.hash));
  EXPECT_EQ(staging_->claimed(), 0u);
}

}  // namespace
}  // namespace blobsync::sync
