#include "core/plugin_host/plugin.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "core/os/files.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/fleet/plugin/v1/health.pb.h"

namespace fleet::plugin_host {
namespace {

using ::testing::HasSubstr;

std::string Fixture(const std::string& name) {
  return absl::StrCat(getenv("TEST_SRCDIR"), "/fleet/tests/testdata/plugins/lib", name, ".so");
}

std::string LoadError(const std::string& name, const std::string& kind = "health") {
  auto plugin = Plugin::Load(Fixture(name), kind);
  EXPECT_FALSE(plugin.ok()) << name << " loaded";
  return plugin.ok() ? "" : std::string(plugin.status().message());
}

TEST(PluginTest, LoadsAValidPluginAndCallsIt) {
  auto plugin = Plugin::Load(Fixture("no_op"), "health");
  ASSERT_TRUE(plugin.ok()) << plugin.status();
  EXPECT_EQ((*plugin)->name(), "test.health.no_op");
  EXPECT_EQ((*plugin)->version(), "1.0.0");
  auto inst = (*plugin)->Create("");
  ASSERT_TRUE(inst.ok()) << inst.status();
  auto response = (*inst)->Call(FLEET_METHOD_HEALTH_CHECK, "");
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(*response, "");
}

TEST(PluginTest, EachBrokenPluginIsRefusedWithItsFileAndReason) {
  EXPECT_THAT(LoadError("no_entry"), HasSubstr("exports no fleet_plugin_v1 symbol"));
  EXPECT_THAT(LoadError("abi_v2"), HasSubstr("built for plugin ABI v2; this fleetd speaks v1"));
  EXPECT_THAT(LoadError("wrong_abi"), HasSubstr("built for ABI version 7"));
  EXPECT_THAT(LoadError("short_struct"), HasSubstr("plugin table is 16 bytes"));
  EXPECT_THAT(LoadError("missing_call"), HasSubstr("has no call function"));
  EXPECT_THAT(LoadError("wrong_kind"), HasSubstr("is a 'sync' plugin (test.sync.other), not 'health'"));
  EXPECT_THAT(LoadError("no_op", "recovery"), HasSubstr("not 'recovery'"));
  EXPECT_THAT(LoadError("no_entry"), HasSubstr(Fixture("no_entry")));
  EXPECT_EQ(Plugin::Load("/no/such.so", "health").status().code(), absl::StatusCode::kNotFound);
}

TEST(PluginTest, AWritableFileIsRefused) {
  std::string dir = absl::StrCat(getenv("TEST_TMPDIR"), "/writable");
  ASSERT_TRUE(os::MakeDirs(dir).ok());
  std::string copy = dir + "/libno_op.so";
  ASSERT_TRUE(os::WriteFileAtomic(copy, *os::ReadFile(Fixture("no_op")), 0755).ok());
  ASSERT_TRUE(Plugin::Load(copy, "health").ok());
  chmod(copy.c_str(), 0775);
  auto refused = Plugin::Load(copy, "health");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("group- or world-writable (mode 0775)"));
}

TEST(PluginTest, APluginInADirectoryOthersCanWriteIsRefused) {
  std::string dir = absl::StrCat(getenv("TEST_TMPDIR"), "/open_dir");
  ASSERT_TRUE(os::MakeDirs(dir).ok());
  std::string copy = dir + "/libno_op.so";
  ASSERT_TRUE(os::WriteFileAtomic(copy, *os::ReadFile(Fixture("no_op")), 0755).ok());
  chmod(dir.c_str(), 0777);  // Anyone could rename another .so over it.
  auto refused = Plugin::Load(copy, "health");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr(dir + "/ is group- or world-writable (mode 0777)"));
}

// fleetd maps a sealed private copy: writing over the file in place (cp over
// it, a build writing its output) cannot change the code it runs.
TEST(PluginTest, ALoadedPluginOverwrittenInPlaceKeepsWorking) {
  std::string dir = absl::StrCat(getenv("TEST_TMPDIR"), "/in_place");
  ASSERT_TRUE(os::MakeDirs(dir, 0755).ok());
  std::string copy = dir + "/libno_op.so";
  const std::string bytes = *os::ReadFile(Fixture("no_op"));
  ASSERT_TRUE(os::WriteFileAtomic(copy, bytes, 0755).ok());
  auto plugin = Plugin::Load(copy, "health");
  ASSERT_TRUE(plugin.ok()) << plugin.status();
  auto inst = (*plugin)->Create("");
  ASSERT_TRUE(inst.ok()) << inst.status();
  {
    std::ofstream out(copy, std::ios::binary | std::ios::trunc);  // Same inode.
    out << std::string(bytes.size(), '\xcc');
  }
  EXPECT_TRUE((*inst)->Call(FLEET_METHOD_HEALTH_CHECK, "").ok());
}

TEST(PluginTest, CreateFailureCarriesThePluginsMessage) {
  auto plugin = Plugin::Load(Fixture("create_fails"), "health");
  ASSERT_TRUE(plugin.ok()) << plugin.status();
  auto inst = (*plugin)->Create("");
  EXPECT_EQ(inst.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(inst.status().message()), HasSubstr("no configuration accepted"));
}

TEST(PluginTest, TwoSdkPluginsFromOneProtoLoadSideBySide) {
  auto healthy = Plugin::Load(Fixture("always_healthy"), "health");
  auto unhealthy = Plugin::Load(Fixture("always_unhealthy"), "health");
  ASSERT_TRUE(healthy.ok()) << healthy.status();
  ASSERT_TRUE(unhealthy.ok()) << unhealthy.status();
  auto a = (*healthy)->Create("");
  auto b = (*unhealthy)->Create("");
  ASSERT_TRUE(a.ok() && b.ok());
  fleet::plugin::v1::HealthCheckRequest request;
  request.set_engine("bot");
  fleet::plugin::v1::HealthCheckResult ra, rb;
  ASSERT_TRUE(ra.ParseFromString(*(*a)->Call(FLEET_METHOD_HEALTH_CHECK, request.SerializeAsString())));
  ASSERT_TRUE(rb.ParseFromString(*(*b)->Call(FLEET_METHOD_HEALTH_CHECK, request.SerializeAsString())));
  EXPECT_EQ(ra.verdict(), fleet::plugin::v1::VERDICT_HEALTHY);
  EXPECT_EQ(ra.reason(), "all good for bot");
  EXPECT_EQ(rb.verdict(), fleet::plugin::v1::VERDICT_UNHEALTHY);
  // A method the plugin does not serve, and a request that does not parse.
  EXPECT_EQ((*a)->Call(99, "").status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ((*a)->Call(FLEET_METHOD_HEALTH_CHECK, "\xff\xff\xff").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PluginTest, BuiltInPluginsLoadLikeAnyOther) {
  const std::string root = absl::StrCat(getenv("TEST_SRCDIR"), "/fleet/plugins/");
  auto health = Plugin::Load(root + "health/libfleet_health_builtin.so", "health");
  auto sync = Plugin::Load(root + "sync/libfleet_sync_git.so", "sync");
  ASSERT_TRUE(health.ok()) << health.status();
  ASSERT_TRUE(sync.ok()) << sync.status();
  EXPECT_EQ((*health)->name(), "fleet.health.builtin");
  EXPECT_EQ((*sync)->name(), "fleet.sync.git");
  EXPECT_TRUE((*sync)->Create("").ok());
}

}  // namespace
}  // namespace fleet::plugin_host
