// Dormancy (sync/ws_dormancy.h): when an idle connection drops its Beast
// stream, and the keep-alive it then gets (Beast's: ping after half the idle
// timeout, time-out after another half without an answer).
#include "sync/ws_dormancy.h"

#include <gtest/gtest.h>

namespace blobsync::sync {
namespace {

using Step = Dormancy::Step;
constexpr std::int64_t kHalf = 30'000;

TEST(Dormancy, SleepsOnlyAfterAPeekLongEnough) {
  Dormancy d(kHalf);
  EXPECT_FALSE(d.due(5'000));
  EXPECT_EQ(d.step(5'000, 1'000, 0), Step::kNone);  // no peek pending: a Beast read holds it
  d.peek_started(1'000);
  EXPECT_FALSE(d.due(1'999));
  EXPECT_TRUE(d.due(2'000));
  EXPECT_FALSE(d.due(2'000));  // once
  EXPECT_EQ(d.step(2'000, 1'000, 0), Step::kSleep);
  EXPECT_TRUE(d.dormant());
}

TEST(Dormancy, ANewPeekPostponesSleep) {
  Dormancy d(kHalf);
  d.peek_started(1'000);
  d.peek_ended();
  EXPECT_FALSE(d.due(10'000));  // a message came: nothing due
  d.peek_started(1'500);
  EXPECT_EQ(d.step(2'000, 1'500, 0), Step::kNone);  // a sweep posted for the old peek
  EXPECT_FALSE(d.due(2'499));
  EXPECT_TRUE(d.due(2'500));
  EXPECT_EQ(d.step(2'500, 1'500, 0), Step::kSleep);
}

TEST(Dormancy, PingsAsBeastThenTimesOutWithoutAnAnswer) {
  Dormancy d(kHalf);
  d.peek_started(1'000);
  EXPECT_EQ(d.step(2'000, 1'000, 0), Step::kSleep);
  EXPECT_FALSE(d.due(30'999));  // Beast's timer: half the idle timeout after the last bytes
  EXPECT_TRUE(d.due(31'000));
  EXPECT_EQ(d.step(31'000, 1'000, 0), Step::kPing);
  EXPECT_FALSE(d.due(60'999));
  EXPECT_TRUE(d.due(61'000));
  EXPECT_EQ(d.step(61'000, 1'000, 31'000), Step::kTimeOut);
}

TEST(Dormancy, APingBeastSentBeforeSleepStillNeedsItsAnswer) {
  Dormancy d(kHalf);
  d.peek_started(1'000);
  // Beast pinged at 40 s, nothing came since: dormant with the ping unanswered.
  EXPECT_EQ(d.step(41'000, 10'000, 40'000), Step::kSleep);
  EXPECT_FALSE(d.due(69'999));
  EXPECT_TRUE(d.due(70'000));
  EXPECT_EQ(d.step(70'000, 10'000, 40'000), Step::kTimeOut);
}

TEST(Dormancy, WakingClearsTheClock) {
  Dormancy d(kHalf);
  d.peek_started(1'000);
  EXPECT_EQ(d.step(2'000, 1'000, 0), Step::kSleep);
  d.woke();
  EXPECT_FALSE(d.dormant());
  EXPECT_FALSE(d.due(100'000));
}

}  // namespace
}  // namespace blobsync::sync
