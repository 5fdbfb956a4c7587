// Calls fleet.sync.git through its fleet_plugin_v1() table (linked statically).
#include <arpa/inet.h>
#include <git2.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "plugins/sdk/fleet_plugin.h"
#include "proto/fleet/plugin/v1/sync.pb.h"

namespace {

using fleet::plugin::v1::SyncRequest;
using fleet::plugin::v1::SyncResult;
using ::testing::HasSubstr;

class GitSyncPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = std::string(getenv("TEST_TMPDIR")) + "/gitsync.XXXXXX";
    dir_ = mkdtemp(tmpl.data());
    git_libgit2_init();
    git_repository* bare = nullptr;
    ASSERT_EQ(git_repository_init(&bare, (dir_ + "/remote.git").c_str(), 1), 0);
    git_repository_free(bare);
    api_ = fleet_plugin_v1();
    fleet_bytes error{nullptr, 0};
    ASSERT_EQ(api_->create(nullptr, {nullptr, 0}, &instance_, &error), 0);
  }
  void TearDown() override { api_->destroy(instance_); }

  // The call's status code, and the result when it is 0.
  int32_t Call(const SyncRequest& request, SyncResult* result, std::string* error) {
    std::string bytes = request.SerializeAsString();
    fleet_bytes response{nullptr, 0}, err{nullptr, 0};
    int32_t code = api_->call(instance_, FLEET_METHOD_SYNC,
                              {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()},
                              &response, &err);
    if (code == 0) result->ParseFromArray(response.data, static_cast<int>(response.size));
    if (err.data != nullptr) error->assign(reinterpret_cast<const char*>(err.data), err.size);
    return code;
  }

  SyncRequest Request(const std::string& tree, SyncRequest::Op op) {
    SyncRequest r;
    r.set_op(op);
    r.set_work_tree(dir_ + "/" + tree);
    r.set_remote(dir_ + "/remote.git");
    r.set_branch("main");
    r.set_author("bot/0");
    return r;
  }

  std::string dir_;
  const fleet_plugin_api_v1* api_ = nullptr;
  void* instance_ = nullptr;
};

// A remote that accepts the connection and never says a word (a hung git
// daemon, a black-holing proxy): the sync gives up after the silence limit
// and says so, instead of holding the instance (and fleetd's shutdown).
TEST_F(GitSyncPluginTest, ASilentRemoteIsGivenUpOnAfterTheNetworkTimeout) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(listener, 8), 0);  // The kernel accepts; nobody answers.
  socklen_t size = sizeof(addr);
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &size);
  SyncRequest request = Request("silent", SyncRequest::OP_PULL);
  request.set_remote("git://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/x.git");
  request.set_network_timeout_ms(500);
  SyncResult r;
  std::string error;
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(Call(request, &r, &error), 0) << error;
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.error(), HasSubstr("no answer from 127.0.0.1:"));
  EXPECT_TRUE(r.remote_unreachable());
  EXPECT_LT(took, std::chrono::seconds(20));  // Generous: it is about 0.5 s.
  ::close(listener);
}

// A remote whose pre-receive hook says no (a real `git daemon`: libgit2's
// local transport runs no hooks): the refusal, and what the hook printed,
// reach the operator in the result's error.
TEST_F(GitSyncPluginTest, AHookRefusalIsReportedWithWhatTheHookSaid) {
  if (system("git --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "no git for git daemon";
  std::ofstream(dir_ + "/remote.git/hooks/pre-receive")
      << "#!/bin/sh\necho 'frozen until 6pm' >&2\nexit 1\n";
  ASSERT_EQ(::chmod((dir_ + "/remote.git/hooks/pre-receive").c_str(), 0755), 0);
  const int port = 20000 + static_cast<int>(::getpid() % 20000);
  const pid_t daemon = fork();
  if (daemon == 0) {
    execlp("git", "git", "daemon", "--reuseaddr", "--listen=127.0.0.1",
           ("--port=" + std::to_string(port)).c_str(), ("--base-path=" + dir_).c_str(),
           "--export-all", "--enable=receive-pack", dir_.c_str(), nullptr);
    _exit(127);
  }
  SyncRequest pull = Request("hooked", SyncRequest::OP_PULL);
  pull.set_remote("git://127.0.0.1:" + std::to_string(port) + "/remote.git");
  SyncResult r;
  std::string error;
  for (int i = 0; i < 50; ++i) {  // The daemon takes a moment to listen.
    r.Clear();
    ASSERT_EQ(Call(pull, &r, &error), 0) << error;
    if (r.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(r.ok()) << r.error();
  std::ofstream(dir_ + "/hooked/state.json") << "{\"n\": 1}\n";
  SyncRequest publish = pull;
  publish.set_op(SyncRequest::OP_PUBLISH);
  publish.set_max_attempts(2);
  r.Clear();
  ASSERT_EQ(Call(publish, &r, &error), 0) << error;
  ::kill(daemon, SIGTERM);
  ::waitpid(daemon, nullptr, 0);
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.error(), HasSubstr("pre-receive hook declined"));
  EXPECT_THAT(r.error(), HasSubstr("frozen until 6pm"));
}

TEST_F(GitSyncPluginTest, PublishesAndPulls) {
  EXPECT_STREQ(api_->kind, "sync");
  EXPECT_STREQ(api_->name, "fleet.sync.git");
  SyncResult r;
  std::string error;
  ASSERT_EQ(Call(Request("a", SyncRequest::OP_PULL), &r, &error), 0) << error;
  EXPECT_TRUE(r.ok()) << r.error();
  std::ofstream(dir_ + "/a/state.json") << "{\"n\": 1}\n";
  r.Clear();
  ASSERT_EQ(Call(Request("a", SyncRequest::OP_PUBLISH), &r, &error), 0) << error;
  EXPECT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE(r.committed());
  EXPECT_EQ(r.ahead(), 0u);
  r.Clear();
  ASSERT_EQ(Call(Request("b", SyncRequest::OP_PULL), &r, &error), 0) << error;
  EXPECT_TRUE(r.ok()) << r.error();
  std::ifstream in(dir_ + "/b/state.json");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "{\"n\": 1}");
}

TEST_F(GitSyncPluginTest, BadRequestsAreRefusedWithTheReason) {
  SyncResult r;
  std::string error;
  SyncRequest relative = Request("a", SyncRequest::OP_PULL);
  relative.set_work_tree("relative/path");
  EXPECT_EQ(Call(relative, &r, &error), 3);  // INVALID_ARGUMENT: do not retry as is.
  EXPECT_THAT(error, HasSubstr("work_tree must be an absolute path"));
  SyncRequest bad_rule = Request("a", SyncRequest::OP_PULL);
  auto* rule = bad_rule.add_rules();
  rule->set_glob("*.json");
  rule->set_strategy("whatever");
  EXPECT_EQ(Call(bad_rule, &r, &error), 3);
  EXPECT_THAT(error, HasSubstr("merge rule 1: unknown strategy 'whatever'"));
  SyncRequest no_remote = Request("a", SyncRequest::OP_PULL);
  no_remote.set_remote(dir_ + "/no-such-remote.git");
  r.Clear();
  ASSERT_EQ(Call(no_remote, &r, &error), 0);
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(r.error(), HasSubstr("clone"));
  EXPECT_TRUE(r.remote_unreachable());
}

TEST_F(GitSyncPluginTest, APullOverUncommittedWorkKeepsIt) {
  SyncResult r;
  std::string error;
  ASSERT_EQ(Call(Request("a", SyncRequest::OP_PULL), &r, &error), 0) << error;
  ASSERT_EQ(Call(Request("b", SyncRequest::OP_PULL), &r, &error), 0) << error;
  std::ofstream(dir_ + "/a/log.txt") << "from a\n";
  ASSERT_EQ(Call(Request("a", SyncRequest::OP_PUBLISH), &r, &error), 0) << error;
  ASSERT_TRUE(r.ok()) << r.error();
  // b wrote the same file and did not commit; a plain checkout would refuse.
  std::ofstream(dir_ + "/b/log.txt") << "from b\n";
  std::ofstream(dir_ + "/b/other.txt") << "b only\n";
  SyncRequest pull = Request("b", SyncRequest::OP_PULL);
  auto* rule = pull.add_rules();
  rule->set_glob("*.txt");
  rule->set_strategy("union");
  r.Clear();
  ASSERT_EQ(Call(pull, &r, &error), 0) << error;
  EXPECT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE(r.committed());
  EXPECT_EQ(r.pull(), "rebased");
  EXPECT_EQ(r.ahead(), 1u);  // b's work, on top of a's, not pushed yet.
  std::ifstream in(dir_ + "/b/log.txt");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(all, HasSubstr("from a"));
  EXPECT_THAT(all, HasSubstr("from b"));
  std::ifstream other(dir_ + "/b/other.txt");
  std::string line;
  std::getline(other, line);
  EXPECT_EQ(line, "b only");
}

}  // namespace

namespace {

TEST_F(GitSyncPluginTest, ADamagedWorkTreeIsRebuiltWithItsFilesKept) {
  SyncResult r;
  std::string error;
  ASSERT_EQ(Call(Request("a", SyncRequest::OP_PULL), &r, &error), 0) << error;
  std::ofstream(dir_ + "/a/shared.txt") << "pushed\n";
  ASSERT_EQ(Call(Request("a", SyncRequest::OP_PUBLISH), &r, &error), 0) << error;
  ASSERT_TRUE(r.ok()) << r.error();
  // Work not pushed yet, then the repository loses its objects (a disk
  // fault, a half-written clone).
  std::ofstream(dir_ + "/a/mine.txt") << "not pushed yet\n";
  // A fresh plugin instance, as after a restart of fleetd.
  api_->destroy(instance_);
  fleet_bytes err{nullptr, 0};
  ASSERT_EQ(api_->create(nullptr, {nullptr, 0}, &instance_, &err), 0);
  std::filesystem::remove_all(dir_ + "/a/.git/objects");
  r.Clear();
  ASSERT_EQ(Call(Request("a", SyncRequest::OP_PULL), &r, &error), 0) << error;
  EXPECT_TRUE(r.ok()) << r.error();
  EXPECT_THAT(r.rebuilt_from(), HasSubstr(dir_ + "/a.damaged-"));
  EXPECT_TRUE(std::filesystem::exists(r.rebuilt_from() + "/.git"));  // Kept for the operator.
  std::ifstream mine(dir_ + "/a/mine.txt");
  std::string line;
  std::getline(mine, line);
  EXPECT_EQ(line, "not pushed yet");
  r.Clear();
  ASSERT_EQ(Call(Request("a", SyncRequest::OP_PUBLISH), &r, &error), 0) << error;
  EXPECT_TRUE(r.ok()) << r.error();
  r.Clear();
  ASSERT_EQ(Call(Request("b", SyncRequest::OP_PULL), &r, &error), 0) << error;
  std::ifstream theirs(dir_ + "/b/mine.txt");
  std::getline(theirs, line);
  EXPECT_EQ(line, "not pushed yet");
}

// A pack file that lost its end (a disk fault, a copy that stopped) under a
// newer loose commit: HEAD and its tree still read, so the check at open
// passes, but every commit fails ("invalid object specified": the files
// the pack held cannot be found). The first failing sync looks at every object,
// rebuilds the tree from the remote, carries the unpushed work over, and
// succeeds.
TEST_F(GitSyncPluginTest, ATruncatedPackIsFoundAtTheFirstFailureAndHealed) {
  SyncResult r;
  std::string error;
  ASSERT_EQ(Call(Request("a", SyncRequest::OP_PULL), &r, &error), 0) << error;
  for (int i = 0; i < 20; ++i) {
    std::ofstream(dir_ + "/a/file" + std::to_string(i) + ".txt")
        << std::string(2000, static_cast<char>('a' + i % 26)) << i << "\n";
  }
  ASSERT_EQ(Call(Request("a", SyncRequest::OP_PUBLISH), &r, &error), 0) << error;
  ASSERT_TRUE(r.ok()) << r.error();
  // What was pushed goes into one pack; then a commit the remote does not
  // have yet (a pull commits local work first), as loose objects.
  ASSERT_EQ(system(("git -C " + dir_ + "/a gc -q --prune=now 2>&1").c_str()), 0);
  std::ofstream(dir_ + "/a/mine.txt") << "not pushed yet\n";
  r.Clear();
  ASSERT_EQ(Call(Request("a", SyncRequest::OP_PULL), &r, &error), 0) << error;
  ASSERT_EQ(r.ahead(), 1u);
  // The pack loses its end.
  const std::string pack_dir = dir_ + "/a/.git/objects/pack";
  int truncated = 0;
  for (const auto& e : std::filesystem::directory_iterator(pack_dir)) {
    if (e.path().extension() != ".pack") continue;
    std::filesystem::resize_file(e.path(), std::filesystem::file_size(e.path()) * 4 / 5);
    ++truncated;
  }
  ASSERT_EQ(truncated, 1);
  // As after a restart of fleetd: a fresh plugin instance opens the tree.
  api_->destroy(instance_);
  fleet_bytes err{nullptr, 0};
  ASSERT_EQ(api_->create(nullptr, {nullptr, 0}, &instance_, &err), 0);
  std::ofstream(dir_ + "/a/later.txt") << "written after the damage\n";
  r.Clear();
  ASSERT_EQ(Call(Request("a", SyncRequest::OP_PUBLISH), &r, &error), 0) << error;
  EXPECT_TRUE(r.ok()) << r.error();
  EXPECT_THAT(r.rebuilt_from(), HasSubstr(dir_ + "/a.damaged-"));
  // Found by reading every object, after the commit failed.
  EXPECT_THAT(r.rebuild_reason(), HasSubstr("read stored object"));
  EXPECT_THAT(r.rebuild_carried(), HasSubstr("1 unpushed commit carried over"));
  EXPECT_EQ(r.ahead(), 0u);
  // Everything the instance had reached the remote.
  r.Clear();
  ASSERT_EQ(Call(Request("b", SyncRequest::OP_PULL), &r, &error), 0) << error;
  for (const std::string& name : {"mine.txt", "later.txt", "file19.txt"}) {
    EXPECT_TRUE(std::filesystem::exists(dir_ + "/b/" + name)) << name;
  }
  std::ifstream later(dir_ + "/b/later.txt");
  std::string line;
  std::getline(later, line);
  EXPECT_EQ(line, "written after the damage");
}

// `git gc --prune=now` run again and again in a work tree while its
// instance commits and rebases onto another writer's pushes. Git calls this
// unsafe (gc may prune objects a sync has just written, even the commit the
// branch then names), and syncs fail meanwhile; what must hold is that the
// tree heals: once gc stops, the next publishes push everything the work
// tree holds, nothing stays stuck, and no conflict is left on a file only
// the instance wrote.
TEST_F(GitSyncPluginTest, GitGcDuringSyncsHealsOnceItStops) {
  SyncResult r;
  std::string error;
  ASSERT_EQ(Call(Request("a", SyncRequest::OP_PULL), &r, &error), 0) << error;
  ASSERT_EQ(Call(Request("b", SyncRequest::OP_PULL), &r, &error), 0) << error;
  std::atomic<bool> stop{false};
  std::thread gc([&] {
    const std::string command = "git -C " + dir_ + "/a gc -q --prune=now >/dev/null 2>&1";
    while (!stop) (void)system(command.c_str());
  });
  for (int i = 0; i < 40; ++i) {
    std::ofstream(dir_ + "/a/log.txt", std::ios::app) << "a " << i << "\n";
    std::ofstream(dir_ + "/b/b" + std::to_string(i) + ".txt") << "b " << i << "\n";
    r.Clear();
    ASSERT_EQ(Call(Request("b", SyncRequest::OP_PUBLISH), &r, &error), 0) << error;
    r.Clear();
    ASSERT_EQ(Call(Request("a", SyncRequest::OP_PUBLISH), &r, &error), 0) << error;
  }
  stop = true;
  gc.join();
  for (int attempt = 0; attempt < 3 && !(r.ok() && r.ahead() == 0); ++attempt) {
    r.Clear();
    ASSERT_EQ(Call(Request("a", SyncRequest::OP_PUBLISH), &r, &error), 0) << error;
  }
  EXPECT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r.ahead(), 0u);
  EXPECT_EQ(r.unresolved_size(), 0);
  r.Clear();
  ASSERT_EQ(Call(Request("b", SyncRequest::OP_PULL), &r, &error), 0) << error;
  EXPECT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r.unresolved_size(), 0);
  // The remote has what a's work tree has.
  std::ifstream mine(dir_ + "/a/log.txt");
  std::string own((std::istreambuf_iterator<char>(mine)), std::istreambuf_iterator<char>());
  std::ifstream theirs(dir_ + "/b/log.txt");
  std::string all((std::istreambuf_iterator<char>(theirs)), std::istreambuf_iterator<char>());
  EXPECT_EQ(all, own);
  EXPECT_THAT(own, HasSubstr("a 39\n"));
}

}  // namespace
