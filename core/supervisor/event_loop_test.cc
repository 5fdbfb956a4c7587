#include "core/supervisor/event_loop.h"

#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace fleet::supervisor {
namespace {

sigset_t Usr1() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  return set;
}

class EventLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sigset_t set = Usr1();
    ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &set, nullptr), 0);
    ASSERT_TRUE(loop_.Init(set).ok());
  }
  // Waits until something other than the caller's own descriptors happened.
  bool WaitForEvent(int timeout_ms = 5000) { return loop_.Wait(timeout_ms, handlers_); }

  EventLoop loop_;
  std::vector<int> signals_;
  EventLoop::Handlers handlers_{[this](int sig) { signals_.push_back(sig); },
                                [](void*, uint32_t) {}};
};

TEST_F(EventLoopTest, RunsWhatAnotherThreadPosts) {
  int ran = 0;
  std::thread poster([&] {
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(loop_.Post([&ran] { ++ran; }));
  });
  poster.join();
  EXPECT_EQ(loop_.queued(), 3u);
  EXPECT_TRUE(WaitForEvent());
  EXPECT_EQ(ran, 3);
  EXPECT_EQ(loop_.queued(), 0u);
}

TEST_F(EventLoopTest, FinishRunsWhatIsQueuedAndRefusesLaterPosts) {
  int ran = 0;
  ASSERT_TRUE(loop_.Post([&ran] { ++ran; }));
  loop_.Finish();
  EXPECT_EQ(ran, 1);
  EXPECT_FALSE(loop_.Post([&ran] { ++ran; }));
  EXPECT_EQ(ran, 1);
}

TEST_F(EventLoopTest, ASignalArrivesOnceHoweverOftenItCame) {
  ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);
  ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);
  EXPECT_TRUE(WaitForEvent());
  EXPECT_EQ(signals_, std::vector<int>{SIGUSR1});
}

TEST_F(EventLoopTest, WatchedDescriptorsRunTheirCallbackAndQuietOnesAreNoEvent) {
  int loud[2], quiet[2];
  ASSERT_EQ(::pipe(loud), 0);
  ASSERT_EQ(::pipe(quiet), 0);
  int loud_reads = 0, quiet_reads = 0;
  char c;
  ASSERT_TRUE(loop_.Watch(loud[0], [&] { loud_reads += ::read(loud[0], &c, 1); }).ok());
  ASSERT_TRUE(loop_
                  .Watch(
                      quiet[0], [&] { quiet_reads += ::read(quiet[0], &c, 1); }, /*quiet=*/true)
                  .ok());
  ASSERT_EQ(::write(quiet[1], "q", 1), 1);
  EXPECT_FALSE(WaitForEvent());
  EXPECT_EQ(quiet_reads, 1);
  ASSERT_EQ(::write(loud[1], "l", 1), 1);
  EXPECT_TRUE(WaitForEvent());
  EXPECT_EQ(loud_reads, 1);
  // Unwatched, it is not looked at again.
  loop_.Unwatch(loud[0]);
  ASSERT_EQ(::write(loud[1], "l", 1), 1);
  EXPECT_FALSE(WaitForEvent(50));
  EXPECT_EQ(loud_reads, 1);
  for (int fd : {loud[0], loud[1], quiet[0], quiet[1]}) ::close(fd);
}

TEST_F(EventLoopTest, AWatchUnwatchedByAnEarlierCallbackInTheSameBatchIsSkipped) {
  int a[2], b[2];
  ASSERT_EQ(::pipe(a), 0);
  ASSERT_EQ(::pipe(b), 0);
  int runs = 0;
  // Whichever runs first unwatches the other: exactly one runs.
  ASSERT_TRUE(loop_
                  .Watch(a[0],
                         [&] {
                           ++runs;
                           loop_.Unwatch(b[0]);
                         })
                  .ok());
  ASSERT_TRUE(loop_
                  .Watch(b[0],
                         [&] {
                           ++runs;
                           loop_.Unwatch(a[0]);
                         })
                  .ok());
  ASSERT_EQ(::write(a[1], "x", 1), 1);
  ASSERT_EQ(::write(b[1], "x", 1), 1);
  EXPECT_TRUE(WaitForEvent());
  EXPECT_EQ(runs, 1);
  for (int fd : {a[0], a[1], b[0], b[1]}) ::close(fd);
}

TEST_F(EventLoopTest, TheCallersOwnDescriptorsAreHandedBack) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  static int tag_target;  // An even address.
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = &tag_target;
  ASSERT_EQ(::epoll_ctl(loop_.epoll_fd(), EPOLL_CTL_ADD, p[0], &ev), 0);
  void* seen = nullptr;
  handlers_.on_ready = [&seen](void* data, uint32_t) { seen = data; };
  ASSERT_EQ(::write(p[1], "x", 1), 1);
  EXPECT_FALSE(WaitForEvent());  // Output of the caller's own: no event.
  EXPECT_EQ(seen, &tag_target);
  ::close(p[0]);
  ::close(p[1]);
}

}  // namespace
}  // namespace fleet::supervisor
