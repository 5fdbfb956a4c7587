// Calls fleet.recovery.files through its fleet_plugin_v1() table (linked
// statically) on real files.
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "plugins/sdk/fleet_plugin.h"
#include "proto/fleet/plugin/v1/recovery.pb.h"

namespace {

namespace fs = std::filesystem;
using fleet::plugin::v1::RecoveryAction;
using fleet::plugin::v1::RecoveryPlan;
using fleet::plugin::v1::RecoveryRequest;
using ::testing::HasSubstr;

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// Makes the file look settled to a periodic pass (written over a second ago).
void Age(const std::string& path) {
  struct timespec times[2] = {{::time(nullptr) - 5, 0}, {::time(nullptr) - 5, 0}};
  ::utimensat(AT_FDCWD, path.c_str(), times, 0);
}

class RecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = std::string(getenv("TEST_TMPDIR")) + "/recovery.XXXXXX";
    dir_ = mkdtemp(tmpl.data());
    api_ = fleet_plugin_v1();
    fleet_bytes error{nullptr, 0};
    ASSERT_EQ(api_->create(nullptr, {nullptr, 0}, &instance_, &error), 0);
  }
  void TearDown() override { api_->destroy(instance_); }

  int32_t Call(const RecoveryRequest& request, RecoveryPlan* plan, std::string* error) {
    std::string bytes = request.SerializeAsString();
    fleet_bytes response{nullptr, 0}, err{nullptr, 0};
    int32_t code = api_->call(instance_, FLEET_METHOD_RECOVER,
                              {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()},
                              &response, &err);
    plan->Clear();
    if (code == 0) plan->ParseFromArray(response.data, static_cast<int>(response.size));
    if (err.data != nullptr) error->assign(reinterpret_cast<const char*>(err.data), err.size);
    return code;
  }

  RecoveryRequest Check(RecoveryRequest::Op op = RecoveryRequest::OP_CHECK) {
    RecoveryRequest r;
    r.set_op(op);
    r.set_snapshot_dir(dir_ + "/snapshots");
    r.set_quarantine_dir(dir_ + "/quarantine");
    r.set_keep_snapshots(3);
    return r;
  }

  // The plan's actions of one kind.
  static std::vector<RecoveryAction> Of(const RecoveryPlan& plan, const std::string& kind) {
    std::vector<RecoveryAction> out;
    for (const auto& a : plan.actions()) {
      if (a.kind() == kind) out.push_back(a);
    }
    return out;
  }

  std::string dir_;
  const fleet_plugin_api_v1* api_ = nullptr;
  void* instance_ = nullptr;
};

TEST_F(RecoveryTest, AClobberedFileIsPutBackAndTheBadVersionKept) {
  EXPECT_STREQ(api_->kind, "recovery");
  const std::string ledger = dir_ + "/ledger.json";
  Write(ledger, "{\"cash\": 40, \"positions\": [1, 2, 3]}\n");
  Age(ledger);
  RecoveryRequest request = Check();
  auto* rule = request.add_rules();
  rule->set_glob(dir_ + "/*.json");
  rule->add_required_keys("cash");
  RecoveryPlan plan;
  std::string error;
  ASSERT_EQ(Call(request, &plan, &error), 0) << error;
  EXPECT_EQ(plan.checked(), 1u);
  EXPECT_EQ(Of(plan, "snapshotted").size(), 1u);
  ASSERT_EQ(Call(request, &plan, &error), 0) << error;
  EXPECT_TRUE(Of(plan, "snapshotted").empty());  // Unchanged: no new version.

  for (const std::string& clobber : {std::string(""), std::string("{\"cash\": "),
                                     std::string("{\"positions\": []}")}) {
    Write(ledger, clobber);
    Age(ledger);
    ASSERT_EQ(Call(request, &plan, &error), 0) << error;
    std::vector<RecoveryAction> restored = Of(plan, "restored");
    ASSERT_EQ(restored.size(), 1u) << clobber;
    EXPECT_EQ(Read(ledger), "{\"cash\": 40, \"positions\": [1, 2, 3]}\n");
    std::vector<RecoveryAction> kept = Of(plan, "quarantined");
    ASSERT_EQ(kept.size(), 1u);
    EXPECT_EQ(Read(kept[0].detail()), clobber);  // Nothing the worker wrote is lost.
  }
  EXPECT_THAT(Of(plan, "restored")[0].reason(), HasSubstr("required key 'cash' is missing"));
}

TEST_F(RecoveryTest, ShrinkingPastTheRatioIsClobberingAndAFreshWriteWaits) {
  const std::string log = dir_ + "/book.txt";
  Write(log, std::string(1000, 'x'));
  Age(log);
  RecoveryRequest request = Check();
  auto* rule = request.add_rules();
  rule->set_glob(log);
  rule->set_min_size_ratio(0.5);
  RecoveryPlan plan;
  std::string error;
  ASSERT_EQ(Call(request, &plan, &error), 0) << error;
  Write(log, std::string(100, 'y'));  // Just written: maybe mid-write, left alone.
  ASSERT_EQ(Call(request, &plan, &error), 0) << error;
  EXPECT_TRUE(Of(plan, "restored").empty());
  Age(log);
  ASSERT_EQ(Call(request, &plan, &error), 0) << error;
  ASSERT_EQ(Of(plan, "restored").size(), 1u);
  EXPECT_THAT(Of(plan, "restored")[0].reason(), HasSubstr("shrank to 10% of 1000 bytes"));
  EXPECT_EQ(Read(log), std::string(1000, 'x'));
  // A named file that is deleted comes back too.
  fs::remove(log);
  ASSERT_EQ(Call(request, &plan, &error), 0) << error;
  ASSERT_EQ(Of(plan, "restored").size(), 1u);
  EXPECT_EQ(Of(plan, "restored")[0].reason(), "deleted");
  EXPECT_EQ(Read(log), std::string(1000, 'x'));
}

TEST_F(RecoveryTest, ValidateJudgesAtOnceAndSaysWhetherAllWereGood) {
  const std::string state = dir_ + "/state.yaml";
  Write(state, "cash: 10\n");
  RecoveryRequest request = Check(RecoveryRequest::OP_VALIDATE);
  request.add_rules()->set_glob(dir_ + "/*.yaml");
  RecoveryPlan plan;
  std::string error;
  ASSERT_EQ(Call(request, &plan, &error), 0) << error;
  EXPECT_TRUE(plan.all_good());
  Write(state, "cash: [10\n");  // No settling before a commit: judged now.
  ASSERT_EQ(Call(request, &plan, &error), 0) << error;
  EXPECT_FALSE(plan.all_good());
  EXPECT_EQ(Read(state), "cash: 10\n");
  // Bad from the start: nothing to put back, said so, the file left as is.
  Write(dir_ + "/new.yaml", "a: [");
  ASSERT_EQ(Call(request, &plan, &error), 0) << error;
  EXPECT_FALSE(plan.all_good());
  ASSERT_EQ(Of(plan, "no_snapshot").size(), 1u);
  EXPECT_EQ(Read(dir_ + "/new.yaml"), "a: [");
}

TEST_F(RecoveryTest, HistoryIsBoundedAndContentAddressed) {
  const std::string f = dir_ + "/s.json";
  RecoveryRequest request = Check(RecoveryRequest::OP_VALIDATE);
  request.add_rules()->set_glob(f);
  RecoveryPlan plan;
  std::string error;
  for (int i = 0; i < 6; ++i) {
    Write(f, "{\"n\": " + std::to_string(i % 2 == 0 ? i : 0) + "}");
    ASSERT_EQ(Call(request, &plan, &error), 0) << error;
  }
  int versions = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir_ + "/snapshots")) {
    if (e.is_regular_file() && e.path().filename() != "history") ++versions;
  }
  EXPECT_EQ(versions, 3);  // keep_snapshots
}

TEST_F(RecoveryTest, LeftoversOfDeadProcessesAreCleanedAndLiveOnesKept) {
  const std::string locks = dir_ + "/locks";
  fs::create_directories(locks + "/dead");
  fs::create_directories(locks + "/alive");
  // A pid that is surely gone: a child that has exited and been reaped.
  pid_t gone = fork();
  if (gone == 0) _exit(0);
  waitpid(gone, nullptr, 0);
  Write(locks + "/dead/owner", std::to_string(gone) + " 12345\n");
  Write(locks + "/alive/owner", std::to_string(getpid()) + "\n");
  const std::string tree = dir_ + "/tree";
  fs::create_directories(tree + "/.git/refs/heads");
  Write(tree + "/state.json.tmp." + std::to_string(gone), "half");
  Write(tree + "/state.json.tmp." + std::to_string(getpid()), "mine, in progress");
  Write(tree + "/.git/index.lock", "");
  Age(tree + "/.git/index.lock");
  RecoveryRequest request;
  request.set_op(RecoveryRequest::OP_CLEAN);
  request.set_locks_dir(locks);
  request.add_temp_dirs(tree);
  RecoveryPlan plan;
  std::string error;
  ASSERT_EQ(Call(request, &plan, &error), 0) << error;
  EXPECT_FALSE(fs::exists(locks + "/dead"));
  EXPECT_TRUE(fs::exists(locks + "/alive/owner"));
  EXPECT_FALSE(fs::exists(tree + "/state.json.tmp." + std::to_string(gone)));
  EXPECT_TRUE(fs::exists(tree + "/state.json.tmp." + std::to_string(getpid())));
  EXPECT_FALSE(fs::exists(tree + "/.git/index.lock"));
  EXPECT_EQ(Of(plan, "lock_broken").size(), 2u);
  EXPECT_EQ(Of(plan, "temp_removed").size(), 1u);
}

TEST_F(RecoveryTest, BadRequestsAreRefusedWithTheReason) {
  RecoveryRequest request = Check();
  request.add_rules()->set_glob("relative/*.json");
  RecoveryPlan plan;
  std::string error;
  EXPECT_EQ(Call(request, &plan, &error), 3);
  EXPECT_THAT(error, HasSubstr("must be absolute"));
  request = Check();
  auto* rule = request.add_rules();
  rule->set_glob(dir_ + "/x");
  rule->set_format("xml");
  EXPECT_EQ(Call(request, &plan, &error), 3);
  EXPECT_THAT(error, HasSubstr("unknown format 'xml'"));
}

}  // namespace
