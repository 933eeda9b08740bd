// LocalReplica: an in-process y-websocket client of one local Room. It joins
// the room like a WebSocket client would (sync::Connection), keeps its own
// crdt::Doc in sync through the same messages (SyncStep1/2, updates), and
// sends the updates of its own edits back to the room. The mesh reads a
// room's _blobRegistry and the `_mesh` room directory through it, and writes
// (directory entries, holder pruning) as any client does, without reaching
// into the room's internals.
//
// Cost: a second copy of the room's document. Mode::kThrough keeps none:
// read() and edit() run on the room's own document (Room::edit), on the
// room's strand, and on_change gets that document after each update; for
// the `_mesh` directory room, which lists every room (a copy costs ~0.4 KB
// per room listed) and whose registry keys nobody asks for.
//
// Thread safety: the Connection methods and every public method may be called
// from any thread; the Doc lives on the replica's strand (kThrough: the
// room's) and is only handed to callbacks running there.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/strand.hpp>

#include "sync/connection.h"

namespace blobsync::crdt {
class Doc;
}

namespace blobsync::sync {
class Room;
}

namespace blobsync::mesh {

class LocalReplica final : public sync::Connection, public std::enable_shared_from_this<LocalReplica> {
 public:
  // Called on the strand after each update from the room with the keys of
  // _blobRegistry it changed (often none).
  // kThrough: registry_keys is always empty.
  using OnChange = std::function<void(crdt::Doc& doc, const std::vector<std::string>& registry_keys)>;
  enum class Mode { kCopy, kThrough };

  static std::shared_ptr<LocalReplica> create(boost::asio::any_io_executor ex, std::shared_ptr<sync::Room> room,
                                              Mode mode = Mode::kCopy);
  ~LocalReplica() override;

  // Joins the room. REQUIRES: called once.
  void start(OnChange on_change);
  // Leaves the room; no callback runs afterwards.
  void stop();

  // Runs fn with the document on the strand.
  void read(std::function<void(crdt::Doc&)> fn);
  // Runs fn on the strand; the changes it makes go to the room as one update.
  void edit(std::function<void(crdt::Doc&)> fn);

  // The room's first SyncStep2 arrived: the replica has everything the room
  // had when it joined.
  bool synced() const { return synced_.load(); }
  // The room closed this connection (shutdown or storage failure) or refused
  // the join: the replica is dead and must be replaced.
  bool closed() const { return closed_.load(); }

  // ---- Connection ----
  sync::ConnId id() const override { return id_; }
  void send(std::vector<sync::SharedBytes> messages) override;
  void close(std::uint16_t code, std::string_view reason) override;
  std::int64_t last_send_ms() const override;

 private:
  LocalReplica(boost::asio::any_io_executor ex, std::shared_ptr<sync::Room> room, Mode mode);
  void handle(const std::vector<std::uint8_t>& msg);
  void changed_through();  // kThrough: on_change_ with the room's document
  void to_room(std::vector<std::uint8_t> msg);

  boost::asio::strand<boost::asio::any_io_executor> strand_;
  std::shared_ptr<sync::Room> room_;
  sync::ConnId id_;
  const Mode mode_;
  std::unique_ptr<crdt::Doc> doc_;  // strand; kCopy only
  OnChange on_change_;              // strand
  bool joined_ = false;             // strand
  bool stopped_ = false;            // strand
  std::vector<std::string> registry_keys_;  // strand: filled by the update observer
  std::atomic<bool> synced_{false}, closed_{false};
  std::atomic<bool> stopping_{false};  // kThrough: stop() was called (callbacks run off the strand)
};

}  // namespace blobsync::mesh
