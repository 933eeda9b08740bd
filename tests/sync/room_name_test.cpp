// Room names (src/sync/room_name.cpp): validation and extraction from the
// request target.
#include "sync/room_name.h"

#include <gtest/gtest.h>

namespace blobsync::sync {
namespace {

TEST(RoomName, AcceptsTypicalNames) {
  for (const char* n : {"notes", "team/notes", "a.b-c_d~e", "user@host:1", "x%20y", "!$&'()*+,;=", "A1"})
    EXPECT_TRUE(validate_room_name(n)) << n;
  EXPECT_TRUE(validate_room_name(std::string(kMaxRoomName, 'a')));
}

TEST(RoomName, RejectsBadNames) {
  for (const char* n : {"", "/a", "a/", "a//b", "..", "a/../b", ".", "a/./b", "a b", "a?b", "a#b", "x%2", "x%zz",
                        "caf\xc3\xa9", "a\\b", "a\"b"})
    EXPECT_FALSE(validate_room_name(n)) << n;
  EXPECT_FALSE(validate_room_name(std::string(kMaxRoomName + 1, 'a')));
  EXPECT_FALSE(validate_room_name(std::string("a\0b", 3)));
}

TEST(RoomName, FromTargetAndQuery) {
  EXPECT_EQ(room_from_target("/sync/team/notes?token=x", "/sync/").value(), "team/notes");
  EXPECT_EQ(room_from_target("/sync/r", "/sync/").value(), "r");
  EXPECT_FALSE(room_from_target("/sync/", "/sync/"));
  EXPECT_FALSE(room_from_target("/other/r", "/sync/"));
  EXPECT_EQ(query_param("/sync/r?a=1&token=s%20t+u&b", "token"), "s t u");
  EXPECT_EQ(query_param("/sync/r?tokenx=1", "token"), "");
  EXPECT_EQ(query_param("/sync/r", "token"), "");
}

}  // namespace
}  // namespace blobsync::sync
