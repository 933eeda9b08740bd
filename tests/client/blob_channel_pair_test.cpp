// The client's transfer machines (UploadSession, DownloadSession) against the
// server's BlobChannel, wired back to back in memory: both ends of the blob
// channel in one process, with no socket, so the two implementations of the
// protocol are checked against each other (window, credit, resume) by a unit
// test rather than only through the Node interop tests.
#include <gtest/gtest.h>

#include <deque>
#include <filesystem>
#include <functional>
#include <random>
#include <set>

#include "client/blob_transfer.h"
#include "client/partial_blob.h"
#include "core/chunking.h"
#include "core/sha256.h"
#include "store/blob_store.h"
#include "store/mime_policy.h"
#include "sync/blob_channel.h"
#include "sync/upload_staging.h"

namespace blobsync::client {
namespace {

namespace fs = std::filesystem;

std::vector<std::byte> random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::byte> out(n);
  for (auto& b : out) b = static_cast<std::byte>(rng());
  return out;
}

class BlobChannelPairTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("blobsync-pair-test-" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
    StoreOptions server, client;
    server.data_dir = dir_ / "server";
    client.data_dir = dir_ / "client";
    auto s = BlobStore::open(server);
    auto c = BlobStore::open(client);
    ASSERT_TRUE(s) << s.error().message;
    ASSERT_TRUE(c) << c.error().message;
    server_store_ = std::move(*s);
    client_store_ = std::move(*c);
    staging_ = std::make_unique<sync::UploadStaging>(dir_ / "staging", std::chrono::hours(24));
    ASSERT_TRUE(staging_->init());
    config_.window = 4;
    deps_ = std::make_unique<sync::BlobChannelDeps>(sync::BlobChannelDeps{
        config_, *server_store_, *staging_, mime_, [this](std::function<void()> fn) { tasks_.push_back(std::move(fn)); },
        {}, {}});
    open_channel();
  }

  // A new connection's server end.
  void open_channel() {
    sync::BlobChannel::ConnectionDeps h;
    h.send = [this](sync::SharedBytes b) { to_client_.emplace_back(b->begin(), b->end()); };
    h.post = [this](std::function<void()> fn) { tasks_.push_back(std::move(fn)); };
    h.queued_bytes = [] { return std::size_t{0}; };
    h.announce = [this](const sync::AnnouncedBlob& blob, std::function<void(Result<>)> done) {
      announced_.push_back(blob.hash);
      tasks_.push_back([done = std::move(done)] { done({}); });
    };
    h.listed = [this](std::vector<Digest> hashes, std::function<void(std::vector<bool>)> done) {
      std::vector<bool> out;
      for (const auto& d : hashes) out.push_back(listed_.contains(d));
      done(std::move(out));
    };
    h.hold = "room:pair@ws://self.test/sync";
    channel_ = std::make_shared<sync::BlobChannel>(*deps_, std::move(h));
  }
  void TearDown() override {
    if (channel_) channel_->close();
    drain();
    channel_.reset();
    fs::remove_all(dir_);
  }

  void drain() {
    for (int i = 0; i < 100000 && !tasks_.empty(); ++i) {
      auto fn = std::move(tasks_.front());
      tasks_.pop_front();
      fn();
    }
  }

  // Runs the conversation: `first` goes to the server, then every frame each
  // side sends goes to the other, until the client's machine is done or
  // fails. `drop_after`: the connection breaks once the server has sent that
  // many CHUNKs. `watch` sees every message, `to_server` telling which way.
  // Returns the client's outcome.
  using Watch = std::function<void(const protocol::BlobMessage&, bool to_server)>;
  template <class Session>
  Result<TransferStatus> converse(Session& session, Frame first, std::uint64_t drop_after = UINT64_MAX,
                                  const Watch& watch = {}) {
    std::deque<Frame> to_server{std::move(first)};
    std::uint64_t chunks_to_client = 0;
    for (int step = 0; step < 100000; ++step) {
      while (!to_server.empty()) {
        if (watch)
          if (auto m = protocol::decode_blob_message(to_server.front())) watch(*m, true);
        channel_->on_frame(std::move(to_server.front()));
        to_server.pop_front();
      }
      drain();
      if (to_client_.empty()) return fail(Errc::kTimeout, "both ends wait: the conversation stalled");
      auto frames = std::move(to_client_);
      to_client_.clear();
      for (auto& f : frames) {
        auto msg = protocol::decode_blob_message(f);
        if (!msg) return std::unexpected(msg.error());
        if (watch) watch(*msg, false);
        if (std::holds_alternative<protocol::ChunkMsg>(*msg) && ++chunks_to_client > drop_after)
          return fail(Errc::kIOError, "connection dropped");
        std::vector<Frame> out;
        auto st = session.on_message(*msg, out);
        if (!st || *st == TransferStatus::kDone) return st;
        for (auto& o : out) to_server.push_back(std::move(o));
      }
    }
    return fail(Errc::kTimeout, "too many steps");
  }

  fs::path dir_;
  std::unique_ptr<BlobStore> server_store_, client_store_;
  std::unique_ptr<sync::UploadStaging> staging_;
  sync::SyncConfig config_;
  MimePolicy mime_{default_allowed_mime()};
  std::unique_ptr<sync::BlobChannelDeps> deps_;
  std::shared_ptr<sync::BlobChannel> channel_;
  std::deque<std::function<void()>> tasks_;
  std::vector<Frame> to_client_;
  std::vector<Digest> announced_;
  std::set<Digest> listed_;  // the room's _blobRegistry keys
};

TEST_F(BlobChannelPairTest, AClientUploadIsStoredAndAnnouncedByTheServer) {
  auto data = random_bytes(9 * kChunkSize + 77, 1);
  auto put = client_store_->put_bytes(data, {});
  ASSERT_TRUE(put);
  auto rec = client_store_->stat(put->hash);
  ASSERT_TRUE(rec);
  UploadSession up(1, *client_store_, *rec, "nine.bin");
  auto st = converse(up, up.upload_frame());
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(up.chunks_sent(), 10u);
  auto held = server_store_->contains(rec->hash);
  ASSERT_TRUE(held && *held);
  ASSERT_EQ(announced_.size(), 1u);
  EXPECT_EQ(announced_[0], rec->hash);
}

TEST_F(BlobChannelPairTest, ADownloadFromTheServerVerifiesEveryChunkAndResumesAfterADrop) {
  auto data = random_bytes(12 * kChunkSize + 5, 2);
  auto rec = server_store_->put_bytes(data, {});
  ASSERT_TRUE(rec);
  listed_.insert(rec->hash);
  auto partial = PartialBlob::open(dir_ / "partial", rec->hash);
  ASSERT_TRUE(partial);
  {
    DownloadSession first(1, *partial, /*window=*/8);
    auto st = converse(first, first.request_frame(), /*drop_after=*/5);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().code, Errc::kIOError);
    ASSERT_TRUE(partial->checkpoint());
  }
  channel_->close();  // the server side of the broken connection
  drain();
  open_channel();
  DownloadSession second(3, *partial, /*window=*/8);
  auto st = converse(second, second.request_frame());
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_LT(second.chunks_received(), 13u) << "the resumed download asks only for what is missing";
  ASSERT_TRUE(partial->complete());
  PutOptions put;
  put.expected = rec->hash;
  auto stored = client_store_->put_file(partial->data_path(), put);
  ASSERT_TRUE(stored) << stored.error().message;
}

TEST_F(BlobChannelPairTest, TheServerNeverHasMoreChunksOutThanTheClientsWindow) {
  auto data = random_bytes(40 * kChunkSize, 3);
  auto rec = server_store_->put_bytes(data, {});
  ASSERT_TRUE(rec);
  listed_.insert(rec->hash);
  auto partial = PartialBlob::open(dir_ / "partial", rec->hash);
  ASSERT_TRUE(partial);
  // The client credits in batches of a quarter window; the server must wait
  // for them: with a window of 4 it may never have sent 5 uncredited chunks.
  DownloadSession session(1, *partial, /*window=*/4);
  std::uint64_t outstanding = 0, most = 0, credited = 0;
  auto st = converse(session, session.request_frame(), UINT64_MAX, [&](const protocol::BlobMessage& m, bool to_server) {
    if (auto* c = std::get_if<protocol::CreditMsg>(&m); c && to_server) {
      credited += c->chunks;
      outstanding -= c->chunks;
    }
    if (std::holds_alternative<protocol::ChunkMsg>(m) && !to_server) most = std::max(most, ++outstanding);
  });
  ASSERT_TRUE(st) << st.error().message;
  ASSERT_EQ(*st, TransferStatus::kDone);
  EXPECT_LE(most, 4u);
  EXPECT_GT(credited, 0u);
}

}  // namespace
}  // namespace blobsync::client
