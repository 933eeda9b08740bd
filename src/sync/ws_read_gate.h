// ReadGate: knows whether Beast's WebSocket stream holds bytes it read from
// the socket but has not parsed yet, so that an idle plain-TCP connection
// can wait for the socket to become readable instead of keeping a Beast
// read pending (issue 20: a pending read holds a 1.5 KiB message buffer and
// about 1 KiB of operation state per connection, most of an idle
// connection's memory). Waiting on the socket is only correct when Beast
// has nothing buffered: bytes it read ahead would never wake the socket.
//
// It counts the bytes the socket delivered to Beast and the bytes of every
// frame Beast is known to have parsed: each whole message (one client
// frame: header, mask key, payload) and each control frame (reported by
// Beast's control callback). The count of parsed bytes never exceeds the
// truth: a message that came in several frames (fragmented) counts one
// header, so the gate stays closed (a normal read) rather than waiting on a
// socket while data sits in Beast's buffer. Beast refuses non-minimal
// length encodings and unmasked client frames, so a minimal masked header
// is exact for an unfragmented frame.
//
// Thread safety: none; used on its connection's strand.
#pragma once

#include <cstddef>
#include <cstdint>

namespace blobsync::sync {

class ReadGate {
 public:
  // Bytes of one masked client frame carrying `payload` bytes.
  static constexpr std::uint64_t client_frame_bytes(std::uint64_t payload) {
    std::uint64_t head = payload < 126 ? 2 : payload <= 0xffff ? 4 : 10;
    return head + 4 + payload;
  }

  void on_socket_bytes(std::size_t n) { delivered_ += n; }
  void on_message(std::size_t payload) { parsed_ += client_frame_bytes(payload); }
  void on_control(std::size_t payload) { parsed_ += client_frame_bytes(payload); }
  // True when every byte delivered to Beast is known to be parsed.
  bool drained() const { return delivered_ == parsed_; }

 private:
  std::uint64_t delivered_ = 0, parsed_ = 0;
};

}  // namespace blobsync::sync
