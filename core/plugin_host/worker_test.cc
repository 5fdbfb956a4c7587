#include "core/plugin_host/worker.h"

#include <atomic>
#include <vector>

#include "core/concurrency/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace fleet::plugin_host {
namespace {

TEST(SerialWorkerTest, RunsJobsInOrderOnOneThread) {
  std::vector<int> order;
  std::thread::id first;
  std::atomic<bool> same_thread{true};
  SerialWorker worker;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(worker.Submit([&, i] {
      if (i == 0) first = std::this_thread::get_id();
      if (std::this_thread::get_id() != first) same_thread = false;
      order.push_back(i);
    }));
  }
  EXPECT_TRUE(worker.Stop(absl::Seconds(10), absl::Seconds(1)));
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
  EXPECT_TRUE(same_thread);
}

TEST(SerialWorkerTest, StopWithoutDrainDropsQueuedJobs) {
  fleet::Notification started, release;
  std::atomic<int> ran{0};
  SerialWorker worker;
  worker.Submit([&] {
    started.Notify();
    release.WaitForNotification();
    ++ran;
  });
  for (int i = 0; i < 10; ++i) worker.Submit([&] { ++ran; });
  started.WaitForNotification();  // The first job is in progress, ten wait.
  EXPECT_EQ(worker.pending(), 11u);
  std::thread releaser([&] {
    absl::SleepFor(absl::Milliseconds(100));
    release.Notify();
  });
  EXPECT_TRUE(worker.Stop(absl::ZeroDuration(), absl::Seconds(10)));
  releaser.join();
  EXPECT_EQ(ran, 1);  // The one in progress finished; the queue was dropped.
  EXPECT_FALSE(worker.Submit([] {}));
}

TEST(SerialWorkerTest, AHungJobIsAbandonedAfterTheGrace) {
  auto release = std::make_shared<fleet::Notification>();
  auto worker = std::make_unique<SerialWorker>();
  worker->Submit([release] { release->WaitForNotification(); });
  absl::SleepFor(absl::Milliseconds(20));
  const absl::Time start = absl::Now();
  EXPECT_FALSE(worker->Stop(absl::ZeroDuration(), absl::Milliseconds(200)));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  // The detached thread still reads the worker when the job returns: keep it.
  (void)worker.release();
  release->Notify();
}

}  // namespace
}  // namespace fleet::plugin_host
