// ReadGate (sync/ws_read_gate.h): frame sizes and when Beast may hold bytes.
#include "sync/ws_read_gate.h"

#include <gtest/gtest.h>

namespace blobsync::sync {
namespace {

TEST(ReadGate, ClientFrameBytesFollowRfc6455) {
  EXPECT_EQ(ReadGate::client_frame_bytes(0), 6u);
  EXPECT_EQ(ReadGate::client_frame_bytes(125), 2u + 4 + 125);
  EXPECT_EQ(ReadGate::client_frame_bytes(126), 4u + 4 + 126);
  EXPECT_EQ(ReadGate::client_frame_bytes(65535), 4u + 4 + 65535);
  EXPECT_EQ(ReadGate::client_frame_bytes(65536), 10u + 4 + 65536);
}

TEST(ReadGate, DrainedOnlyWhenEveryDeliveredByteWasParsed) {
  ReadGate g;
  EXPECT_TRUE(g.drained());
  // Two messages in one read: after the first, Beast still holds the second.
  g.on_socket_bytes(ReadGate::client_frame_bytes(10) + ReadGate::client_frame_bytes(300));
  g.on_message(10);
  EXPECT_FALSE(g.drained());
  g.on_message(300);
  EXPECT_TRUE(g.drained());
  // A pong (control frame) then a message.
  g.on_socket_bytes(ReadGate::client_frame_bytes(4) + ReadGate::client_frame_bytes(1));
  g.on_control(4);
  EXPECT_FALSE(g.drained());
  g.on_message(1);
  EXPECT_TRUE(g.drained());
}

TEST(ReadGate, AFragmentedMessageKeepsTheGateClosed) {
  ReadGate g;
  // 100 bytes sent as two frames of 50: two headers on the wire, one counted.
  g.on_socket_bytes(2 * ReadGate::client_frame_bytes(50));
  g.on_message(100);
  EXPECT_FALSE(g.drained());  // a normal read from now on: never a wait on a socket with data held
}

}  // namespace
}  // namespace blobsync::sync
