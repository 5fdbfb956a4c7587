#include "core/supervisor/instance_records.h"

#include <stdlib.h>

#include "core/os/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::supervisor {
namespace {

TEST(InstanceRecordsTest, RoundTripAndBadFilesAreRemovedWithTheReason) {
  std::string tmpl = std::string(getenv("TEST_TMPDIR")) + "/records.XXXXXX";
  const std::string run = mkdtemp(tmpl.data());
  ASSERT_TRUE(WriteInstanceRecord(run, {"worker", 2, 4242, 99887766, 12345, 1700000000000}).ok());
  ASSERT_TRUE(WriteInstanceRecord(run, {"a.b", 0, 7, 1, 2, 3}).ok());
  ASSERT_TRUE(os::WriteFileAtomic(run + "/instances/junk.0", "nonsense\n").ok());
  std::vector<std::string> errors;
  std::vector<InstanceRecord> records = ReadInstanceRecords(run, &errors);
  ASSERT_EQ(records.size(), 2u);
  const InstanceRecord& w = records[0].engine == "worker" ? records[0] : records[1];
  EXPECT_EQ(w.index, 2u);
  EXPECT_EQ(w.pid, 4242);
  EXPECT_EQ(w.start_time, 99887766u);
  EXPECT_EQ(w.spec_hash, 12345u);
  EXPECT_EQ(w.spawned_unix_ms, 1700000000000);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], ::testing::HasSubstr("junk.0 is not an instance record"));
  RemoveInstanceRecord(run, "worker", 2);
  errors.clear();
  EXPECT_EQ(ReadInstanceRecords(run, &errors).size(), 1u);
  EXPECT_TRUE(errors.empty());
}

TEST(InstanceRecordsTest, SpecHashIsStableAndSeesChanges) {
  fleet::config::v1::Engine a;
  a.set_name("w");
  a.add_command("x");
  (*a.mutable_env())["B"] = "2";
  (*a.mutable_env())["A"] = "1";
  fleet::config::v1::Engine b;
  b.set_name("w");
  b.add_command("x");
  (*b.mutable_env())["A"] = "1";
  (*b.mutable_env())["B"] = "2";
  EXPECT_EQ(SpecHash(a), SpecHash(b));  // Map order does not matter.
  b.add_command("y");
  EXPECT_NE(SpecHash(a), SpecHash(b));
}

}  // namespace
}  // namespace fleet::supervisor
