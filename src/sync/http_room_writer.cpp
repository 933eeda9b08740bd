#include "sync/http_room_writer.h"

#include <chrono>
#include <future>

#include "core/chunking.h"
#include "core/secret_compare.h"
#include "http/rate_limiter.h"
#include "sync/access.h"
#include "sync/room_holds.h"
#include "sync/room_manager.h"
#include "sync/room_name.h"
#include "sync/sync_endpoint.h"

namespace blobsync::sync {

namespace {

// Longer than any durable commit takes; a room stuck past it has failed.
constexpr auto kAnnounceTimeout = std::chrono::seconds(30);

class Writer final : public http::RoomWriter {
 public:
  Writer(RoomManager& rooms, std::shared_ptr<Room> room, std::string hold, std::string url)
      : rooms_(rooms), room_(std::move(room)), hold_(std::move(hold)), url_(std::move(url)) {}
  ~Writer() override { rooms_.release(room_); }

  const std::string& hold() const override { return hold_; }
  const std::string& holder_url() const override { return url_; }

  Result<> announce(const Digest& hash, std::uint64_t size) override {
    // The promise is shared: done may run after a timeout gave up on it.
    auto done = std::make_shared<std::promise<Result<>>>();
    auto result = done->get_future();
    room_->announce(AnnouncedBlob{hash, size, chunk_count(size)}, [done](Result<> r) { done->set_value(std::move(r)); });
    if (result.wait_for(kAnnounceTimeout) != std::future_status::ready)
      return fail(Errc::kTimeout, "the room did not make the announcement durable in time");
    return result.get();
  }

 private:
  RoomManager& rooms_;
  std::shared_ptr<Room> room_;
  std::string hold_, url_;
};

class Announcer final : public http::RoomAnnouncer {
 public:
  explicit Announcer(SyncEndpoint& sync) : sync_(sync) {}

  http::XResult<std::unique_ptr<http::RoomWriter>> open(std::string_view room, const http::Request& req) override {
    using http::xfail;
    if (auto ok = validate_room_name(room); !ok)
      return xfail(400, "InvalidRequest", "room: " + ok.error().message);
    const auto& config = sync_.config();
    auto query_token = req.param("token").value_or("");
    auto authorization = req.header("authorization").value_or("");
    auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
    auto d = decide_access(config, room, query_token, authorization, now.count());
    if (d.access == Access::kDenied) {
      if (d.close_code == kCloseForbidden) return xfail(403, "Forbidden", d.reason);
      bool none = query_token.empty() && bearer_token(authorization).empty();
      bool expired = d.reason.find("expired") != std::string::npos;
      return xfail(401, none ? "AuthenticationRequired" : expired ? "ExpiredToken" : "InvalidToken", d.reason);
    }
    if (d.access != Access::kReadWrite)
      return xfail(403, "Forbidden", "forbidden: a read-only token cannot add blobs to a room");
    std::string name(room);
    RoomManager::Refusal refused;
    auto loaded = sync_.rooms().acquire(name, http::client_address_key(req.remote), &refused);
    if (!loaded) return xfail(503, "ServiceUnavailable", "room unavailable: " + refused.reason);
    return std::make_unique<Writer>(sync_.rooms(), std::move(loaded), room_holder(name, config.url), config.url);
  }

 private:
  SyncEndpoint& sync_;
};

}  // namespace

std::shared_ptr<http::RoomAnnouncer> make_http_room_announcer(SyncEndpoint& sync) {
  return std::make_shared<Announcer>(sync);
}

}  // namespace blobsync::sync
