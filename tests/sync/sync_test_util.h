// Helpers shared by the tests that drive real rooms and blob channels
// (tests/sync/room_test.cpp, tests/sync/blob_channel_test.cpp,
// tests/mesh/mesh_scan_test.cpp): a scratch directory and a shared store, a
// fake Connection that records what the room sends it, y-protocol message
// builders and a client-side document.
#pragma once

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "../store/test_util.h"
#include "core/digest.h"
#include "crdt/doc.h"
#include "crdt/lib0.h"
#include "store/blob_lifecycle.h"
#include "store/shared_store.h"
#include "sync/connection.h"

namespace blobsync::sync::testing {

// A scratch directory on tmpfs unless TMPDIR names a place (see TempDir).
class ScratchDir : public ::blobsync::testing::TempDir {
 public:
  ScratchDir() : TempDir(/*prefer_shm=*/true) {}
};

// A SharedStore and its BlobLifecycle in a scratch directory: what the suites
// that drive rooms and blob channels open once and share (each test uses its
// own room names and blobs).
struct SuiteStore {
  ScratchDir dir;
  SharedStore shared;
  std::unique_ptr<BlobLifecycle> lifecycle;

  // Opens one (nullptr, and a test failure, if it cannot be opened).
  static std::unique_ptr<SuiteStore> open() {
    auto s = std::make_unique<SuiteStore>();
    SharedStoreOptions so;
    so.data_dir = s->dir.path();
    auto shared = open_shared_store(so);
    EXPECT_TRUE(shared) << shared.error().to_string();
    if (!shared) return nullptr;
    s->shared = std::move(*shared);
    auto lifecycle = BlobLifecycle::open(s->shared.db, s->shared.store->unfenced(), s->shared.fence);
    EXPECT_TRUE(lifecycle) << lifecycle.error().to_string();
    if (!lifecycle) return nullptr;
    s->lifecycle = std::move(*lifecycle);
    return s;
  }

  std::vector<std::string> holds_of(const Digest& h) const {
    auto r = lifecycle->holds_of(h);
    EXPECT_TRUE(r) << r.error().to_string();
    return r ? *r : std::vector<std::string>{};
  }
};

// A Connection that records every message and close. Thread-safe (rooms may
// run on other threads, e.g. the mesh's).
class FakeConnection final : public Connection {
 public:
  explicit FakeConnection(ConnId id) : id_(id) {}
  ConnId id() const override { return id_; }
  void send(std::vector<SharedBytes> messages) override {
    std::lock_guard lock(mu_);
    for (auto& m : messages) got_.push_back(std::move(m));
  }
  void close(std::uint16_t code, std::string_view reason) override {
    std::lock_guard lock(mu_);
    closes_.emplace_back(code, std::string(reason));
  }
  std::int64_t last_send_ms() const override { return 0; }

  std::vector<std::vector<std::uint8_t>> messages() const {
    std::lock_guard lock(mu_);
    std::vector<std::vector<std::uint8_t>> out;
    for (const auto& m : got_) out.push_back(*m);
    return out;
  }
  std::size_t count() const {
    std::lock_guard lock(mu_);
    return got_.size();
  }
  std::vector<std::pair<std::uint16_t, std::string>> closes() const {
    std::lock_guard lock(mu_);
    return closes_;
  }

 private:
  ConnId id_;
  mutable std::mutex mu_;
  std::vector<SharedBytes> got_;
  std::vector<std::pair<std::uint16_t, std::string>> closes_;
};

// [0, sub, payload]: sync step 1 (0), step 2 (1), update (2).
inline std::vector<std::uint8_t> sync_msg(std::uint64_t sub, const crdt::Bytes& payload) {
  crdt::Encoder e;
  e.write_var_uint(0);
  e.write_var_uint(sub);
  e.write_var_bytes(payload);
  return e.take();
}

// [1, awareness update of one client].
inline std::vector<std::uint8_t> awareness_msg(std::uint64_t client, std::uint64_t clock, const std::string& json) {
  crdt::Encoder u;
  u.write_var_uint(1);
  u.write_var_uint(client);
  u.write_var_uint(clock);
  u.write_var_string(json);
  crdt::Encoder m;
  m.write_var_uint(1);
  m.write_var_bytes(u.bytes());
  return m.take();
}

struct ParsedSync {
  std::uint64_t sub = 0;
  crdt::Bytes payload;
};

// The sub type and payload of a [0, sub, payload] message, if it is one.
inline std::optional<ParsedSync> parse_sync(const std::vector<std::uint8_t>& msg) {
  crdt::Decoder d(msg);
  if (d.read_var_uint() != 0 || !d.ok()) return std::nullopt;
  ParsedSync p;
  p.sub = d.read_var_uint();
  p.payload = d.read_var_bytes();
  if (!d.ok()) return std::nullopt;
  return p;
}

// The (client, clock, json) triples of a [1, update] message, if it is one.
struct AwarenessEntry {
  std::uint64_t client = 0, clock = 0;
  std::string json;
};
inline std::optional<std::vector<AwarenessEntry>> parse_awareness(const std::vector<std::uint8_t>& msg) {
  crdt::Decoder d(msg);
  if (d.read_var_uint() != 1 || !d.ok()) return std::nullopt;
  auto payload = d.read_var_bytes();
  if (!d.ok()) return std::nullopt;
  crdt::Decoder u(payload);
  std::vector<AwarenessEntry> out(u.read_var_uint());
  for (auto& e : out) {
    e.client = u.read_var_uint();
    e.clock = u.read_var_uint();
    e.json = u.read_var_string();
  }
  if (!u.ok()) return std::nullopt;
  return out;
}

// A y-websocket client's document: edits produce [0,2,update] messages, and
// the room's [0,1|2] messages are applied to it.
class ClientDoc {
 public:
  explicit ClientDoc(std::uint64_t client_id) : doc_(client_id) {
    doc_.on_update([this](const crdt::Bytes& u, const crdt::Transaction&) {
      if (recording_) last_ = u;
    });
  }
  crdt::Doc& doc() { return doc_; }
  // Runs fn and returns its change as a [0,2,update] message (empty if none).
  std::vector<std::uint8_t> edit(const std::function<void(crdt::Doc&)>& fn) {
    last_.clear();
    recording_ = true;
    fn(doc_);
    recording_ = false;
    return last_.empty() ? std::vector<std::uint8_t>{} : sync_msg(2, last_);
  }
  // Applies every step-2 and update message in `msgs`; returns how many.
  std::size_t apply(const std::vector<std::vector<std::uint8_t>>& msgs) {
    std::size_t n = 0;
    for (const auto& m : msgs) {
      auto p = parse_sync(m);
      if (!p || (p->sub != 1 && p->sub != 2)) continue;
      EXPECT_TRUE(doc_.apply_update(p->payload).has_value());
      ++n;
    }
    return n;
  }

 private:
  crdt::Doc doc_;
  crdt::Bytes last_;
  bool recording_ = false;
};

// Runs `ioc` on this thread until pred() holds or `limit` passes; returns pred().
inline bool run_until(boost::asio::io_context& ioc, const std::function<bool()>& pred,
                      std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (ioc.stopped()) ioc.restart();
    ioc.run_one_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Runs every handler that is ready now (and those they post), without waiting.
inline void run_ready(boost::asio::io_context& ioc) {
  if (ioc.stopped()) ioc.restart();
  ioc.poll();
}

}  // namespace blobsync::sync::testing
