#include "tests/integration/fleet_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "core/capture/reader.h"
#include "core/os/files.h"
#include "core/os/process.h"
#include "google/protobuf/util/json_util.h"

extern char** environ;

namespace fleet::testing {
namespace {

std::string Runfile(const std::string& path) {
  const char* srcdir = getenv("TEST_SRCDIR");
  return absl::StrCat(srcdir != nullptr ? srcdir : ".", "/fleet/", path);
}

std::vector<std::string> Environment(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (strncmp(*e, "FLEET_", 6) != 0 && strncmp(*e, "NOTIFY_SOCKET=", 14) != 0) {
      env.emplace_back(*e);
    }
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

int RemoveEntry(const char* path, const struct stat*, int, struct FTW*) { return ::remove(path); }

}  // namespace

std::string FleetYaml(const std::string& engines) {
  return absl::StrCat("name: it\nrun_dir: run\nengines:\n", engines);
}

std::string ChildDaemon(const std::string& name, const std::string& extra) {
  return absl::StrCat("  - name: ", name, "\n    command: [\"", FleetHarness::ChildPath(),
                      "\"]\n    min_uptime: 100ms\n", extra);
}

bool AllRunning(const FleetHarness& h, const std::vector<std::string>& ids) {
  for (const std::string& id : ids) {
    if (h.Instance(id).state() != fleet::control::v1::INSTANCE_STATE_RUNNING) return false;
  }
  return true;
}

FleetHarness::FleetHarness() {
  char tmpl[] = "/tmp/fleet-it.XXXXXX";
  dir_ = mkdtemp(tmpl);
  chmod(dir_.c_str(), 0755);
}

FleetHarness::~FleetHarness() {
  if (!fleetd_reaped_) {
    kill(fleetd_pid_, SIGTERM);
    if (WaitFleetdExit(absl::Seconds(20)) < 0) {
      kill(fleetd_pid_, SIGKILL);
      WaitFleetdExit(absl::Seconds(5));
    }
  }
  nftw(dir_.c_str(), RemoveEntry, 16, FTW_DEPTH | FTW_PHYS);
}

std::string FleetHarness::FleetdPath() { return Runfile("cli/fleetd"); }
std::string FleetHarness::FleetctlPath() { return Runfile("cli/fleetctl"); }
std::string FleetHarness::ChildPath() { return Runfile("tests/testdata/child"); }
std::string FleetHarness::RunfilePath(const std::string& path) { return Runfile(path); }

void FleetHarness::WriteFile(const std::string& name, const std::string& text) const {
  std::string path = absl::StrCat(dir_, "/", name);
  (void)os::MakeDirs(os::DirName(path));
  (void)os::WriteFileAtomic(path, text);
}

pid_t FleetHarness::SpawnFleetd(const std::string& stderr_name,
                                const std::vector<std::string>& extra_env) {
  int err = ::open(absl::StrCat(dir_, "/", stderr_name).c_str(),
                   O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  os::SpawnSpec spec;
  spec.argv = wrapper_;
  const std::string fleetd = fleetd_binary_.empty() ? FleetdPath() : fleetd_binary_;
  for (std::string arg : {fleetd, std::string("--config"), absl::StrCat(dir_, "/fleet.yaml")}) {
    spec.argv.push_back(std::move(arg));
  }
  spec.env = Environment(extra_env);
  spec.cwd = dir_;
  spec.output_fd = err;
  absl::StatusOr<pid_t> pid = os::Spawn(spec);
  ::close(err);
  return pid.ok() ? *pid : -1;
}

absl::Status FleetHarness::StartFleetd(const std::vector<std::string>& extra_env) {
  // A socket a killed fleetd left behind is not this fleetd's.
  const std::string socket = run_dir() + "/ctl/fleetd.sock";
  struct stat old {};
  const bool had_socket = ::stat(socket.c_str(), &old) == 0;
  fleetd_pid_ = SpawnFleetd("fleetd.log", extra_env);
  if (fleetd_pid_ <= 0) return absl::InternalError("cannot spawn fleetd");
  fleetd_reaped_ = false;
  bool up = WaitUntil(
      [&] {
        struct stat st;
        bool fresh =
            ::stat(socket.c_str(), &st) == 0 &&
            (!had_socket || st.st_ino != old.st_ino || st.st_ctim.tv_nsec != old.st_ctim.tv_nsec ||
             st.st_ctim.tv_sec != old.st_ctim.tv_sec);
        return fresh || !ProcessAlive(fleetd_pid_);
      },
      absl::Seconds(20));
  if (!up || !ProcessAlive(fleetd_pid_)) {
    return absl::InternalError(absl::StrCat("fleetd did not come up:\n", FleetdLog()));
  }
  return absl::OkStatus();
}

int FleetHarness::WaitFleetdExit(absl::Duration timeout) {
  if (fleetd_reaped_) return -1;
  int status = 0;
  int code = -1;
  WaitUntil(
      [&] {
        pid_t r = ::waitpid(fleetd_pid_, &status, WNOHANG);
        if (r == fleetd_pid_) {
          code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
          fleetd_reaped_ = true;
          return true;
        }
        return false;
      },
      timeout);
  return code;
}

std::string FleetHarness::FleetdLog() const {
  return os::ReadFile(absl::StrCat(dir_, "/fleetd.log")).value_or("");
}

CommandResult FleetHarness::Run(const std::vector<std::string>& argv) const {
  std::string out_path = absl::StrCat(dir_, "/.out.", getpid(), ".", rand());
  std::string err_path = out_path + ".err";
  int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  os::SpawnSpec spec;
  spec.argv = argv;
  spec.env = Environment({absl::StrCat("FLEET_RUN_DIR=", run_dir())});
  spec.cwd = dir_;
  spec.output_fd = out;
  spec.error_fd = err;
  CommandResult result;
  absl::StatusOr<pid_t> pid = os::Spawn(spec);
  ::close(out);
  ::close(err);
  if (pid.ok()) {
    os::ExitStatus status = os::WaitProcess(*pid);
    result.exit_code = status.signaled ? 128 + status.signal : status.code;
  }
  result.out = os::ReadFile(out_path).value_or("");
  result.err = os::ReadFile(err_path).value_or("");
  ::unlink(out_path.c_str());
  ::unlink(err_path.c_str());
  return result;
}

CommandResult FleetHarness::Fleetctl(const std::vector<std::string>& args) const {
  // Named outright: finding the fleet from ./fleet.yaml runs `fleetd
  // run-dir` (~20 ms) on every call; control_test covers the finding.
  std::vector<std::string> argv = {FleetctlPath(), "--run-dir", run_dir()};
  argv.insert(argv.end(), args.begin(), args.end());
  return Run(argv);
}

absl::StatusOr<fleet::control::v1::GetStatusResponse> FleetHarness::Status() const {
  CommandResult r = Fleetctl({"status", "-o", "protojson"});
  if (r.exit_code != 0 && r.exit_code != 3) {
    return absl::UnavailableError(absl::StrCat("fleetctl status: exit ", r.exit_code, ": ", r.err));
  }
  fleet::control::v1::GetStatusResponse status;
  auto parsed = google::protobuf::util::JsonStringToMessage(r.out, &status);
  if (!parsed.ok()) return absl::InternalError(absl::StrCat("bad JSON: ", r.out));
  return status;
}

fleet::control::v1::InstanceStatus FleetHarness::Instance(const std::string& id) const {
  absl::StatusOr<fleet::control::v1::GetStatusResponse> status = Status();
  if (status.ok()) {
    for (const auto& e : status->engines()) {
      for (const auto& i : e.instances()) {
        if (i.id() == id) return i;
      }
    }
  }
  return {};
}

bool FleetHarness::WaitUntil(const std::function<bool()>& pred, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (pred()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return pred();
}

pid_t FleetHarness::Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                          const std::string& out_path) {
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    if (!out_path.empty()) {
      const int fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
    }
    std::vector<char*> args, vars;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    for (const std::string& e : env) vars.push_back(const_cast<char*>(e.c_str()));
    args.push_back(nullptr);
    vars.push_back(nullptr);
    if (env.empty()) {
      execv(args[0], args.data());
    } else {
      execve(args[0], args.data(), vars.data());
    }
    _exit(127);
  }
  return pid;
}

int FleetHarness::WaitExit(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool FleetHarness::ProcessAlive(pid_t pid) {
  if (pid <= 0) return false;
  // A zombie is dead for our purposes.
  absl::StatusOr<std::string> stat = os::ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return false;
  size_t paren = stat->rfind(')');
  return paren != std::string::npos && paren + 2 < stat->size() && (*stat)[paren + 2] != 'Z';
}

std::string FleetHarness::CapturedText(const std::string& log_path) {
  std::string out;
  for (const capture::Line& line : capture::LogReader(log_path).Last(1 << 24)) {
    if (line.stream != capture::Stream::kFleet) absl::StrAppend(&out, line.text, "\n");
  }
  return out;
}

std::string FleetHarness::FileText(const std::string& path) {
  return os::ReadFile(path).value_or("");
}

pid_t FleetHarness::ReadPid(const std::string& name) const {
  absl::StatusOr<std::string> text = os::ReadFile(absl::StrCat(dir_, "/", name));
  pid_t pid = 0;
  if (!text.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &pid)) return 0;
  return pid;
}

int FleetHarness::ConnectLoopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) return fd;
  if (fd >= 0) ::close(fd);
  return -1;
}

double FleetHarness::MetricSum(const std::string& exposition, const std::string& name,
                               const std::string& labels) {
  double sum = -1;
  for (absl::string_view line : absl::StrSplit(exposition, '\n')) {
    if (!absl::ConsumePrefix(&line, name)) continue;
    if (line.empty() || (line[0] != '{' && line[0] != ' ')) continue;  // A longer name.
    const size_t space = line.rfind(' ');
    if (line.substr(0, space).find(labels) == absl::string_view::npos) continue;
    double value = 0;
    if (!absl::SimpleAtod(line.substr(space + 1), &value)) continue;
    sum = (sum < 0 ? 0 : sum) + value;
  }
  return sum;
}

std::string FleetHarness::HttpGet(int port, const std::string& path) {
  const int fd = ConnectLoopback(port);
  if (fd < 0) return "(no connection)";
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  (void)!::write(fd, request.data(), request.size());
  std::string answer;
  char buffer[8192];
  ssize_t n;
  while ((n = ::read(fd, buffer, sizeof(buffer))) > 0) answer.append(buffer, n);
  ::close(fd);
  return answer;
}

int FleetHarness::FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

}  // namespace fleet::testing
