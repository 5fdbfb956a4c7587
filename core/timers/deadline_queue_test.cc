#include "core/timers/deadline_queue.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::timers {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

MonoTime At(int ms) { return absl::Milliseconds(ms); }

TEST(DeadlineQueueTest, TheEarliestComesFirstWhateverTheOrderOfSetting) {
  DeadlineQueue<std::string> q;
  EXPECT_EQ(q.Next(), std::nullopt);
  q.Set("b", At(20));
  q.Set("a", At(10));
  q.Set("c", At(30));
  EXPECT_EQ(q.Next(), At(10));
  EXPECT_THAT(q.TakeDue(At(20)), ElementsAre("a", "b"));
  EXPECT_EQ(q.Next(), At(30));
  EXPECT_EQ(q.size(), 1u);
}

TEST(DeadlineQueueTest, SettingAgainMovesTheKeyAndNulloptRemovesIt) {
  DeadlineQueue<std::string> q;
  q.Set("a", At(10));
  q.Set("b", At(20));
  q.Set("a", At(30));  // Later now: b comes first.
  EXPECT_EQ(q.Next(), At(20));
  EXPECT_EQ(q.DueOf("a"), At(30));
  q.Set("b", std::nullopt);
  q.Clear("never queued");
  EXPECT_EQ(q.Next(), At(30));
  EXPECT_EQ(q.DueOf("b"), std::nullopt);
  q.Clear("a");
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.Next(), std::nullopt);
}

TEST(DeadlineQueueTest, KeysDueAtTheSameTimeAreAllTaken) {
  DeadlineQueue<int> q;
  for (int i = 0; i < 100; ++i) q.Set(i, At(5));
  q.Set(100, At(6));
  EXPECT_THAT(q.TakeDue(At(4)), IsEmpty());
  EXPECT_EQ(q.TakeDue(At(5)).size(), 100u);
  EXPECT_THAT(q.TakeDue(At(6)), ElementsAre(100));
  EXPECT_TRUE(q.empty());
  // Taken keys are no longer queued: setting one again queues it once.
  q.Set(3, At(7));
  q.Set(3, At(7));
  EXPECT_EQ(q.size(), 1u);
}

}  // namespace
}  // namespace fleet::timers
