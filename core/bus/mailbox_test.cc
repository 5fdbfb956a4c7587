#include "core/bus/mailbox.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::bus {
namespace {

using ::testing::HasSubstr;
namespace v1 = ::fleet::bus::v1;
namespace fs = std::filesystem;

class MailboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = std::string(getenv("TEST_TMPDIR")) + "/bus.XXXXXX";
    dir_ = mkdtemp(tmpl.data());
    box_ = std::make_unique<Mailbox>(dir_);
    ASSERT_TRUE(box_->Init().ok());
  }
  static v1::TaskFile Task(const std::string& task, uint32_t attempt = 1) {
    v1::TaskFile t;
    t.set_run("r1");
    t.set_task(task);
    t.set_attempt(attempt);
    t.set_capability("llm");
    t.set_input("do " + task);
    return t;
  }
  std::string dir_;
  std::unique_ptr<Mailbox> box_;
};

TEST_F(MailboxTest, PublishClaimCompleteAbsorb) {
  ASSERT_TRUE(box_->Publish(Task("a")).ok());
  ASSERT_TRUE(box_->Publish(Task("b")).ok());
  EXPECT_EQ(box_->Offered().size(), 2u);
  absl::StatusOr<std::optional<Claim>> claim = box_->ClaimNext("llm", "w1");
  ASSERT_TRUE(claim.ok() && claim->has_value());
  const std::string got = (*claim)->task.task();
  ASSERT_TRUE(got == "a" || got == "b") << got;
  EXPECT_EQ((*claim)->task.input(), "do " + got);
  EXPECT_TRUE(fs::exists(dir_ + "/cur/w1/r1~" + got + "~1.json"));
  EXPECT_EQ(box_->Claims().size(), 1u);
  EXPECT_TRUE(box_->Heartbeat("w1", "r1~" + got + "~1.json").ok());
  EXPECT_FALSE(box_->Heartbeat("w2", "r1~" + got + "~1.json").ok());
  EXPECT_FALSE(box_->ClaimNext("gpu", "w1")->has_value());  // Nothing for that capability.
  v1::ResultFile result;
  result.set_run("r1");
  result.set_task(got);
  result.set_attempt(1);
  result.set_worker("w1");
  result.set_ok(true);
  result.set_output("42");
  ASSERT_TRUE(box_->Complete(result).ok());
  std::vector<ReadResult> results = box_->Results();
  ASSERT_EQ(results.size(), 1u);
  ASSERT_TRUE(results[0].result.ok()) << results[0].result.status();
  EXPECT_EQ(results[0].result->output(), "42");
  ASSERT_TRUE(box_->Absorb(results[0].name).ok());
  EXPECT_TRUE(box_->Results().empty());
  EXPECT_TRUE(fs::exists(dir_ + "/done/r1~" + got + "~1.json"));
  EXPECT_TRUE(fs::is_empty(dir_ + "/tmp"));  // Nothing left half-written.
}

TEST_F(MailboxTest, TwentyRacingClaimersExactlyOneWins) {
  ASSERT_TRUE(box_->Publish(Task("only")).ok());
  std::vector<pid_t> children;
  for (int i = 0; i < 20; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      usleep(20000);  // Let all of them start, then race.
      absl::StatusOr<std::optional<Claim>> c = box_->ClaimNext("llm", absl::StrCat("w", i));
      _exit(!c.ok() ? 2 : c->has_value() ? 0 : 1);
    }
    children.push_back(pid);
  }
  int winners = 0, losers = 0;
  for (pid_t pid : children) {
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    winners += WEXITSTATUS(status) == 0;
    losers += WEXITSTATUS(status) == 1;
  }
  EXPECT_EQ(winners, 1);
  EXPECT_EQ(losers, 19);
  EXPECT_EQ(box_->Claims().size(), 1u);
  EXPECT_TRUE(box_->Offered().empty());
}

TEST_F(MailboxTest, BadResultsAreReadWithTheirReasonNeverAbsorbedBlindly) {
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/results/" + name) << text;
  };
  write("r1~a~1.json", "{\"run\": \"r1\", \"task\": \"a\", \"attempt\": 1, \"ok\": tru");
  write("r1~b~1.json", "{\"run\": \"r1\", \"task\": \"zz\", \"attempt\": 1, \"ok\": true}");
  write("junk.json", "{}");
  write("r1~c~1.json", std::string(kMaxRecordBytes + 1, ' '));
  // What a hostile worker plants: a FIFO (open() would wait for a writer
  // forever), a symlink to an endless device and one to a private file.
  ASSERT_EQ(mkfifo((dir_ + "/results/r1~d~1.json").c_str(), 0600), 0);
  fs::create_symlink("/dev/zero", dir_ + "/results/r1~e~1.json");
  write("secret", "{\"run\": \"r1\", \"task\": \"f\", \"attempt\": 1, \"ok\": true}");
  fs::create_symlink(dir_ + "/results/secret", dir_ + "/results/r1~f~1.json");
  std::vector<ReadResult> results = box_->Results();
  ASSERT_EQ(results.size(), 8u);
  std::map<std::string, std::string> why;
  for (const ReadResult& r : results) {
    if (r.name == "secret") continue;  // Not a record name: the symlink's target.
    EXPECT_FALSE(r.result.ok()) << r.name;
    why[r.name] = std::string(r.result.status().message());
  }
  EXPECT_THAT(why["junk.json"], HasSubstr("its name is not RUN~TASK~ATTEMPT.json"));
  EXPECT_THAT(why["r1~a~1.json"], HasSubstr("not a result"));
  EXPECT_THAT(why["r1~b~1.json"], HasSubstr("its name says r1, b"));
  EXPECT_THAT(why["r1~c~1.json"], HasSubstr("larger than 4194304 bytes"));
  EXPECT_THAT(why["r1~d~1.json"], HasSubstr("not a regular file"));
  EXPECT_THAT(why["r1~e~1.json"], HasSubstr("is a symlink; not followed"));
  EXPECT_THAT(why["r1~f~1.json"], HasSubstr("is a symlink; not followed"));
  ASSERT_TRUE(box_->Quarantine("r1~b~1.json", "task mismatch").ok());
  EXPECT_TRUE(fs::exists(dir_ + "/quarantine/r1~b~1.json"));
  std::ifstream why_file(dir_ + "/quarantine/r1~b~1.json.why");
  std::string line;
  std::getline(why_file, line);
  EXPECT_EQ(line, "r1~b~1.json: task mismatch");
}

TEST_F(MailboxTest, NamesSplitBackAndRefuseTraversal) {
  EXPECT_EQ(RecordName("r", "t.1", 3), "r~t.1~3.json");
  std::optional<RecordKey> key = ParseRecordName("r~t.1~3.json");
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->task, "t.1");
  EXPECT_EQ(key->attempt, 3u);
  for (const char* bad : {"r~..~1.json", "r~t~0.json", "r~t.json", "../r~t~1.json", "r~t~1"}) {
    EXPECT_FALSE(ParseRecordName(bad).has_value()) << bad;
  }
  EXPECT_FALSE(box_->ClaimNext("../x", "w").ok());
  EXPECT_FALSE(box_->ClaimNext("llm", "../w").ok());
}

}  // namespace
}  // namespace fleet::bus
