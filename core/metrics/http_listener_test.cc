#include "core/metrics/http_listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

HttpListener::Handler Fixed(std::atomic<bool>* healthy) {
  return {[](Format f) -> std::optional<std::string> {
            return f == Format::kOpenMetrics ? "m 1\n# EOF\n" : "m 1\n";
          },
          [healthy] { return healthy->load(); }};
}

int Connect(const std::string& address) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port)) return -1;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Sends request on a new connection and reads the answer to the end.
std::string Ask(const std::string& address, const std::string& request) {
  int fd = Connect(address);
  if (fd < 0) return "(no connection)";
  (void)!write(fd, request.data(), request.size());
  std::string answer;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) answer.append(buffer, n);
  close(fd);
  return answer;
}

TEST(HttpListenerTest, ServesMetricsInTheFormatAskedForAndHealth) {
  std::atomic<bool> healthy{true};
  auto listener = HttpListener::Start("127.0.0.1:0", Fixed(&healthy));
  ASSERT_TRUE(listener.ok()) << listener.status();
  const std::string at = (*listener)->address();
  EXPECT_THAT(at, StartsWith("127.0.0.1:"));
  std::string plain = Ask(at, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_THAT(plain, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(plain, HasSubstr("Content-Type: text/plain; version=0.0.4"));
  EXPECT_THAT(plain, HasSubstr("\r\n\r\nm 1\n"));
  std::string om = Ask(at,
                       "GET /metrics HTTP/1.1\r\nAccept: application/openmetrics-text; "
                       "version=1.0.0\r\n\r\n");
  EXPECT_THAT(om, HasSubstr("Content-Type: application/openmetrics-text"));
  EXPECT_THAT(om, HasSubstr("# EOF"));
  EXPECT_THAT(Ask(at, "GET /healthz HTTP/1.0\r\n\r\n"), StartsWith("HTTP/1.1 200 OK"));
  healthy = false;
  EXPECT_THAT(Ask(at, "GET /healthz HTTP/1.0\r\n\r\n"), StartsWith("HTTP/1.1 503"));
}

TEST(HttpListenerTest, BadRequestsGetABoundedAnswer) {
  std::atomic<bool> healthy{true};
  auto listener = HttpListener::Start("127.0.0.1:0", Fixed(&healthy));
  ASSERT_TRUE(listener.ok()) << listener.status();
  const std::string at = (*listener)->address();
  EXPECT_THAT(Ask(at, "GET /etc/passwd HTTP/1.1\r\n\r\n"), StartsWith("HTTP/1.1 404"));
  EXPECT_THAT(Ask(at, "POST /metrics HTTP/1.1\r\n\r\n"), StartsWith("HTTP/1.1 405"));
  EXPECT_THAT(Ask(at, "hello\r\n\r\n"), StartsWith("HTTP/1.1 400"));
  EXPECT_THAT(Ask(at, "GET /metrics HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n"),
              StartsWith("HTTP/1.1 431"));
  // HEAD: the head alone.
  std::string head = Ask(at, "HEAD /metrics HTTP/1.1\r\n\r\n");
  EXPECT_THAT(head, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(head, testing::EndsWith("\r\n\r\n"));
}

TEST(HttpListenerTest, IdleClientsTakeSlotsOnlyUntilTheirDeadline) {
  std::atomic<bool> healthy{true};
  auto listener = HttpListener::Start("127.0.0.1:0", Fixed(&healthy));
  ASSERT_TRUE(listener.ok()) << listener.status();
  const std::string at = (*listener)->address();
  // More silent clients than there are slots.
  std::vector<int> idle;
  for (int i = 0; i < kMaxConnections + 8; ++i) idle.push_back(Connect(at));
  const absl::Time t0 = absl::Now();
  // A scraper after them is answered once their deadline has passed, not never.
  std::string answer = Ask(at, "GET /metrics HTTP/1.1\r\n\r\n");
  const absl::Duration waited = absl::Now() - t0;
  EXPECT_THAT(answer, StartsWith("HTTP/1.1 200"));
  EXPECT_LT(waited, kClientDeadline * 3) << waited;
  // The idle ones were closed.
  char c;
  for (int fd : idle) {
    EXPECT_EQ(read(fd, &c, 1), 0);
    close(fd);
  }
}

TEST(HttpListenerTest, AUnixSocketReplacesAStaleSocketButNeverAFile) {
  std::atomic<bool> healthy{true};
  // Short: a socket's path has room for 107 bytes, TEST_TMPDIR's often not.
  char tmpl[] = "/tmp/fleet-metrics.XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string path = dir + "/metrics.sock";
  {
    auto first = HttpListener::Start(path, Fixed(&healthy));
    ASSERT_TRUE(first.ok()) << first.status();
    struct stat st;
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0660u);
  }
  // A socket left behind (a fleetd that was killed): taken over.
  int left = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path.c_str());
  ASSERT_EQ(bind(left, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  close(left);
  auto second = HttpListener::Start(path, Fixed(&healthy));
  ASSERT_TRUE(second.ok()) << second.status();
  second->reset();
  // Anything else is the operator's: refused, untouched.
  const std::string file = dir + "/not-a-socket";
  std::ofstream(file) << "keep me";
  auto refused = HttpListener::Start(file, Fixed(&healthy));
  EXPECT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("is not a socket"));
  std::ifstream in(file);
  std::string kept((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(kept, "keep me");
  // A bad address says what was expected.
  auto bad = HttpListener::Start("localhost", Fixed(&healthy));
  EXPECT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("HOST:PORT"));
  auto too_long = HttpListener::Start("/" + std::string(200, 'x'), Fixed(&healthy));
  EXPECT_THAT(std::string(too_long.status().message()), HasSubstr("too long for a unix socket"));
  unlink(file.c_str());
  rmdir(dir.c_str());
}

}  // namespace
}  // namespace fleet::metrics
