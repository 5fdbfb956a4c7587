#include "core/sync/state_sync.h"

#include <map>
#include <thread>
#include <vector>

#include "core/concurrency/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace fleet::sync {
namespace {

using fleet::plugin::v1::SyncRequest;
using fleet::plugin::v1::SyncResult;

// Answers with the request's message as the head; "garbage" answers bytes
// that are not a SyncResult, "fail" answers an error. Records which thread
// served each work tree and whether two calls on one tree ever overlapped.
struct Recorder {
  fleet::Mutex mu;
  std::map<std::string, std::thread::id> thread_of;
  std::map<std::string, int> busy;
  bool overlapped = false;
  bool moved_threads = false;
};

class FakeCaller : public plugin_host::PluginCaller {
 public:
  explicit FakeCaller(Recorder* r) : r_(r) {}
  absl::StatusOr<std::string> Call(uint32_t, const std::string& bytes, absl::Duration) override {
    SyncRequest request;
    request.ParseFromString(bytes);
    const std::string& tree = request.work_tree();
    {
      fleet::MutexLock lock(&r_->mu);
      if (r_->busy[tree]++ > 0) r_->overlapped = true;
      auto [it, fresh] = r_->thread_of.emplace(tree, std::this_thread::get_id());
      if (!fresh && it->second != std::this_thread::get_id()) r_->moved_threads = true;
    }
    absl::SleepFor(absl::Microseconds(200));
    {
      fleet::MutexLock lock(&r_->mu);
      --r_->busy[tree];
    }
    if (request.message() == "fail") return absl::UnavailableError("plugin said no");
    if (request.message() == "garbage") return std::string("\xff\xff\xff", 3);
    SyncResult result;
    result.set_ok(true);
    result.set_head(request.message());
    return result.SerializeAsString();
  }

 private:
  Recorder* r_;
};

TEST(StateSyncTest, EachWorkTreeIsSyncedInOrderOnOneLane) {
  Recorder recorder;
  fleet::Mutex mu;
  std::map<std::string, std::vector<std::string>> heads;
  {
    std::vector<std::unique_ptr<plugin_host::PluginCaller>> lanes;
    for (int i = 0; i < 3; ++i) lanes.push_back(std::make_unique<FakeCaller>(&recorder));
    StateSync sync(std::move(lanes), nullptr, [&](SyncOutcome outcome) {
      fleet::MutexLock lock(&mu);
      ASSERT_TRUE(outcome.result.ok());
      heads[outcome.instance_id].push_back(outcome.result->head());
    });
    for (int n = 0; n < 20; ++n) {
      for (int tree = 0; tree < 8; ++tree) {
        SyncJob job;
        job.instance_id = "w/" + std::to_string(tree);
        job.request.set_work_tree("/state/w." + std::to_string(tree));
        job.request.set_message(std::to_string(n));
        sync.Submit(std::move(job));
      }
    }
    sync.Drain(absl::Seconds(30));
  }
  EXPECT_FALSE(recorder.overlapped);
  EXPECT_FALSE(recorder.moved_threads);
  ASSERT_EQ(heads.size(), 8u);
  for (const auto& [id, seen] : heads) {
    ASSERT_EQ(seen.size(), 20u) << id;
    for (int n = 0; n < 20; ++n) EXPECT_EQ(seen[n], std::to_string(n)) << id;
  }
}

TEST(StateSyncTest, PluginErrorsAndGarbageBecomeErrors) {
  Recorder recorder;
  fleet::Mutex mu;
  std::map<std::string, absl::Status> got;
  std::vector<std::unique_ptr<plugin_host::PluginCaller>> lanes;
  lanes.push_back(std::make_unique<FakeCaller>(&recorder));
  StateSync sync(std::move(lanes), nullptr, [&](SyncOutcome outcome) {
    fleet::MutexLock lock(&mu);
    got[outcome.instance_id] = outcome.result.status();
    EXPECT_EQ(outcome.op, SyncRequest::OP_PUBLISH);
    EXPECT_EQ(outcome.seq, 7u);
  });
  for (const char* what : {"fail", "garbage"}) {
    SyncJob job;
    job.instance_id = what;
    job.seq = 7;
    job.request.set_op(SyncRequest::OP_PUBLISH);
    job.request.set_work_tree("/state/x");
    job.request.set_message(what);
    sync.Submit(std::move(job));
  }
  sync.Drain(absl::Seconds(30));
  EXPECT_EQ(got["fail"].code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(got["garbage"].code(), absl::StatusCode::kInternal);
  EXPECT_NE(got["garbage"].message().find("not a SyncResult"), std::string::npos);
}

}  // namespace
}  // namespace fleet::sync
