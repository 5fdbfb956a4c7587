#include "plugins/health/probes.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

namespace fleet::plugins::health {
namespace {

std::optional<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Fields after the command name of /proc/PID/stat (field 3 first).
std::optional<std::vector<std::string>> StatFields(pid_t pid) {
  auto stat = ReadSmallFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat.has_value()) return std::nullopt;
  size_t paren = stat->rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream in(stat->substr(paren + 1));
  std::vector<std::string> fields;
  std::string f;
  while (in >> f) fields.push_back(f);
  return fields;
}

// Connects to host:port within the timeout; fd on success, -1 and why.
int Connect(const std::string& host, uint16_t port, int timeout_ms, std::string* why) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, host.empty() ? "127.0.0.1" : host.c_str(), &addr.sin_addr) != 1) {
    *why = "'" + host + "' is not an IPv4 address";
    return -1;
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    *why = strerror(errno);
    return -1;
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 && errno != EINPROGRESS) {
    *why = strerror(errno);
    close(fd);
    return -1;
  }
  pollfd p{fd, POLLOUT, 0};
  if (poll(&p, 1, timeout_ms) != 1) {
    *why = "timed out after " + HumanMillis(timeout_ms);
    close(fd);
    return -1;
  }
  int err = 0;
  socklen_t len = sizeof(err);
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    *why = strerror(err);
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

std::optional<char> ProcessState(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  auto fields = StatFields(pid);
  if (!fields.has_value() || fields->empty() || (*fields)[0].empty()) return std::nullopt;
  return (*fields)[0][0];
}

std::optional<uint64_t> CpuTicks(pid_t pid) {
  auto fields = StatFields(pid);
  // utime and stime are fields 14 and 15: indexes 11 and 12 after the name.
  if (!fields.has_value() || fields->size() < 13) return std::nullopt;
  return std::strtoull((*fields)[11].c_str(), nullptr, 10) +
         std::strtoull((*fields)[12].c_str(), nullptr, 10);
}

bool AnyProcessMatches(const std::string& needle) {
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return false;
  bool found = false;
  while (dirent* e = readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    auto cmdline = ReadSmallFile(std::string("/proc/") + e->d_name + "/cmdline");
    if (!cmdline.has_value()) continue;
    for (char& c : *cmdline) {
      if (c == '\0') c = ' ';
    }
    if (cmdline->find(needle) != std::string::npos) {
      found = true;
      break;
    }
  }
  closedir(proc);
  return found;
}

std::optional<double> CpuPressure() {
  auto text = ReadSmallFile("/proc/pressure/cpu");
  if (!text.has_value()) return std::nullopt;
  size_t at = text->find("some avg10=");
  if (at == std::string::npos) return std::nullopt;
  return std::strtod(text->c_str() + at + 11, nullptr);
}

std::string TcpProbe(const std::string& host, uint16_t port, int timeout_ms) {
  std::string why;
  int fd = Connect(host, port, timeout_ms, &why);
  if (fd < 0) return why;
  close(fd);
  return "";
}

std::string HttpProbe(const std::string& host, uint16_t port, const std::string& path,
                      int timeout_ms) {
  auto start = std::chrono::steady_clock::now();
  std::string why;
  int fd = Connect(host, port, timeout_ms, &why);
  if (fd < 0) return why;
  const std::string h = host.empty() ? "127.0.0.1" : host;
  std::string request = "GET " + (path.empty() ? std::string("/") : path) + " HTTP/1.0\r\nHost: " +
                        h + "\r\nConnection: close\r\n\r\n";
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return "request not sent";
  }
  std::string reply;
  char buffer[512];
  while (reply.find("\r\n") == std::string::npos && reply.size() < 4096) {
    int left = timeout_ms - static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 std::chrono::steady_clock::now() - start)
                                                 .count());
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || poll(&p, 1, left) != 1) {
      close(fd);
      return "no answer within " + HumanMillis(timeout_ms);
    }
    ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) break;
    reply.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  return JudgeHttpAnswer(reply);
}

std::string JudgeHttpAnswer(const std::string& reply) {
  // "HTTP/1.1 200 OK": only the status line's code counts.
  const size_t space = reply.find(' ');
  if (reply.compare(0, 5, "HTTP/") != 0 || space == std::string::npos) return "not an HTTP answer";
  int code = 0;
  size_t i = space + 1;
  for (int digits = 0; digits < 3 && i < reply.size() && reply[i] >= '0' && reply[i] <= '9';
       ++digits, ++i) {
    code = code * 10 + (reply[i] - '0');
  }
  if (code >= 200 && code < 400) return "";
  return "HTTP " + std::to_string(code);
}

std::string HumanMillis(int64_t millis) {
  if (millis < 1000) return std::to_string(millis) + "ms";
  int64_t s = millis / 1000;
  if (s < 60) {
    if (millis % 1000 == 0) return std::to_string(s) + "s";
    // "3.0s > 3s": a just-missed deadline must not read as equal.
    std::string tenths = std::to_string((millis % 1000) / 100);
    return std::to_string(s) + "." + tenths + "s";
  }
  if (s < 3600) return std::to_string(s / 60) + "m" + (s % 60 ? std::to_string(s % 60) + "s" : "");
  return std::to_string(s / 3600) + "h" + std::to_string((s % 3600) / 60) + "m";
}

}  // namespace fleet::plugins::health
