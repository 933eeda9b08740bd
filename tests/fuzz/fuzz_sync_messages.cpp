// Fuzz target: the y-protocol message dispatcher (RoomCore::handle). The input
// is split into messages (varUint length prefixes) sent by three connections,
// one of them read-only; any input must produce replies or protocol errors,
// never a crash, and the room must still answer a sync step 1 afterwards.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "crdt/lib0.h"
#include "sync/room_core.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace blobsync;
  sync::RoomCore room;
  sync::RoomEffects fx;
  for (sync::ConnId c = 1; c <= 3; ++c) room.join(c, fx);
  crdt::Decoder d({data, size});
  std::int64_t now = 0;
  for (int i = 0; d.has_more() && i < 64; ++i) {
    std::uint64_t n = d.read_var_uint();
    if (!d.ok() || n > d.remaining()) break;
    auto msg = d.read_view(static_cast<std::size_t>(n));
    sync::ConnId conn = 1 + static_cast<sync::ConnId>(i % 3);
    room.handle(conn, msg, conn == 3, now += 1000, fx);
    if (i % 7 == 6) room.expire_awareness(now, fx);
  }
  room.leave(2, fx);
  sync::RoomEffects after;
  const std::uint8_t step1[] = {0, 0, 1, 0};
  room.handle(1, step1, false, now, after);
  if (after.out.empty() || (*after.out.back().msg)[0] != 0) std::abort();  // no step 2 reply
  return 0;
}
